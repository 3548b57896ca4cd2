package mptcp

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multipath-go/mptcp/internal/sockdiag"
	"golang.org/x/sys/unix"
)

// measureKernel and its helpers: the paths the package takes on the
// running kernel, from what the kernel answers to direct system calls.

// rawKernelAnswers are the kernel's answers to direct getsockopt calls
// on an MPTCP connection.
type rawKernelAnswers struct {
	protocol    int32         // getsockopt(SOL_SOCKET, SO_PROTOCOL)
	isMPTCPErr  syscall.Errno // getsockopt(SOL_TCP, TCP_IS_MPTCP)
	isMPTCP     int32
	infoProbe   syscall.Errno // getsockopt(SOL_MPTCP, MPTCP_INFO) with optlen 0
	infoErr     syscall.Errno // getsockopt(SOL_MPTCP, MPTCP_INFO) into a 256-byte buffer
	infoLen     int           // its optlen after
	fullInfoErr syscall.Errno // getsockopt(SOL_MPTCP, MPTCP_FULL_INFO) asking for no arrays
	fullTCPLen  int           // its size_tcpinfo_kernel
	fullNum     int           // its num_subflows
	tcpInfoErr  syscall.Errno // getsockopt(SOL_MPTCP, MPTCP_TCPINFO)
	tcpInfoLen  int           // its size_kernel
	tcpInfoNum  int           // its num_subflows
}

func readRawKernelAnswers(t *testing.T, c *MPTCPConn) rawKernelAnswers {
	t.Helper()
	var a rawKernelAnswers
	ne := binary.NativeEndian
	onFD(t, c, func(fd uintptr) {
		var errno syscall.Errno
		if a.protocol, errno = getsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); errno != 0 {
			t.Errorf("getsockopt(SO_PROTOCOL): %v", errno)
		}
		a.isMPTCP, a.isMPTCPErr = getsockoptInt(fd, unix.SOL_TCP, optTCPIsMPTCP)

		var zero uint32
		a.infoProbe = getsockopt(fd, solMPTCP, optMPTCPInfo, nil, &zero)

		info := make([]byte, 256)
		optlen := uint32(len(info))
		if a.infoErr = getsockopt(fd, solMPTCP, optMPTCPInfo, unsafe.Pointer(&info[0]), &optlen); a.infoErr == 0 {
			a.infoLen = int(optlen)
		}

		full := make([]byte, fullInfoHdrLen+256)
		optlen = uint32(len(full))
		a.fullInfoErr = getsockopt(fd, solMPTCP, optMPTCPFullInfo, unsafe.Pointer(&full[0]), &optlen)
		if a.fullInfoErr == 0 {
			a.fullTCPLen, a.fullNum = int(ne.Uint32(full[fiSizeTCPInfoKernel:])), int(ne.Uint32(full[fiNumSubflows:]))
		}

		sd := make([]byte, subflowDataLen+4*512)
		ne.PutUint32(sd[sdSizeSubflowData:], subflowDataLen)
		ne.PutUint32(sd[sdSizeUser:], 512)
		optlen = uint32(len(sd))
		if a.tcpInfoErr = getsockopt(fd, solMPTCP, optMPTCPTCPInfo, unsafe.Pointer(&sd[0]), &optlen); a.tcpInfoErr == 0 {
			a.tcpInfoNum, a.tcpInfoLen = int(ne.Uint32(sd[sdNumSubflows:])), int(ne.Uint32(sd[sdSizeKernel:]))
		}
	})
	return a
}

// plainTCPInfo returns the length of struct tcp_info on a plain TCP
// connection, and whether TCP_IS_MPTCP is an option this kernel knows.
func plainTCPInfo(t *testing.T) (tcpInfoLen int, knowsIsMPTCP bool) {
	t.Helper()
	l := listenPlainTCP(t, "tcp4")
	var nd net.Dialer
	nd.SetMultipathTCP(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := nd.DialContext(ctx, "tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	onFD(t, c.(*net.TCPConn), func(fd uintptr) {
		buf := make([]byte, 512)
		optlen := uint32(len(buf))
		if errno := getsockopt(fd, unix.SOL_TCP, unix.TCP_INFO, unsafe.Pointer(&buf[0]), &optlen); errno != 0 {
			t.Fatalf("getsockopt(TCP_INFO): %v", errno)
		}
		tcpInfoLen = int(optlen)
		v, errno := getsockoptInt(fd, unix.SOL_TCP, optTCPIsMPTCP)
		switch {
		case errno == 0 && v == 0:
			knowsIsMPTCP = true
		case errno == 0:
			t.Errorf("TCP_IS_MPTCP on a plain TCP socket answers %d", v)
		case !refused(errno):
			t.Errorf("TCP_IS_MPTCP on a plain TCP socket: %v, want 0, EOPNOTSUPP or ENOPROTOOPT", errno)
		}
	})
	return tcpInfoLen, knowsIsMPTCP
}

// measureKernel finds the paths the package takes on this kernel and
// checks them against the kernel's own answers.
func measureKernel(t *testing.T) kernelPaths {
	var k kernelPaths
	if err := mptcpSocketErr(); err == nil {
		k.MPTCP = true
	} else if !errors.As(err, &k.SocketErr) {
		t.Fatalf("socket(IPPROTO_MPTCP): %v", err)
	}
	plainLen, knowsIsMPTCP := plainTCPInfo(t)

	if !k.MPTCP {
		k.Info, k.Subflows = "-", "-"
		// Without MPTCP sockets every connection is TCP. A kernel that
		// knows TCP_IS_MPTCP is learned from its answer; an older one
		// answers from SO_PROTOCOL each time, and nothing is kept.
		client, _ := mptcpPair(t, "tcp4")
		k.Protocol = socketProtocol(t, client)
		mustMultipath(t, "client without MPTCP", client, false)
		k.Probe = probeNames[host.get()]
		want := "-"
		if knowsIsMPTCP {
			want = "TCP_IS_MPTCP"
		}
		if k.Probe != want {
			t.Errorf("MultipathTCP learned %s, but the kernel answers for %s", k.Probe, want)
		}
		if k.Probe == "-" {
			k.Probe = "SO_PROTOCOL"
		}
		return k
	}

	client, server := mptcpPair(t, "tcp4")
	exchange(t, client, server, 1000)
	mustMultipath(t, "client", client, true)
	k.Probe = probeNames[host.get()]
	raw := readRawKernelAnswers(t, client)
	k.Protocol, k.IsMPTCPErr, k.InfoErrno, k.FullInfoErr = raw.protocol, raw.isMPTCPErr, raw.infoErr, raw.fullInfoErr
	if raw.protocol != unix.IPPROTO_MPTCP {
		t.Errorf("SO_PROTOCOL of an MPTCP connection: %d, want %d", raw.protocol, unix.IPPROTO_MPTCP)
	}
	if raw.infoErr != 0 {
		measureWithoutSOLMPTCP(t, &k, client, raw)
		return k
	}
	if raw.tcpInfoErr != 0 {
		t.Errorf("getsockopt(MPTCP_TCPINFO) on an MPTCP connection: %v", raw.tcpInfoErr)
	}
	k.Info, k.InfoLen, k.TCPInfoLen = "MPTCP_INFO", raw.infoLen, raw.tcpInfoLen

	in, err := client.MPTCPInfo()
	if err != nil {
		t.Fatalf("MPTCPInfo: %v", err)
	}
	k.InfoFields = in.Fields()
	subs, err := client.Subflows()
	if err != nil {
		t.Fatalf("Subflows: %v", err)
	}
	if len(subs) != 1 {
		t.Fatalf("Subflows: %d subflows, want 1: %v", len(subs), subs)
	}
	// The reader chosen tells whether the kernel refused MPTCP_FULL_INFO
	// on an MPTCP connection.
	k.Subflows = pathFullInfo
	if noFullInfo(&host) {
		k.Subflows = pathSeparate
	}
	k.SubflowID = subs[0].ID
	k.TCPInfoFields = subs[0].TCP.Fields()

	// The probe chose the best test this kernel answers.
	wantProbe := "SO_PROTOCOL"
	switch {
	case raw.isMPTCPErr == 0:
		if raw.isMPTCP != 1 {
			t.Errorf("TCP_IS_MPTCP on an MPTCP connection answers %d", raw.isMPTCP)
		}
		wantProbe = "TCP_IS_MPTCP"
	case raw.infoProbe == 0:
		wantProbe = "MPTCP_INFO"
	}
	if k.Probe != wantProbe {
		t.Errorf("MultipathTCP probe is %s, but the kernel answers %s", k.Probe, wantProbe)
	}
	// Subflows took MPTCP_FULL_INFO exactly where the kernel has it.
	switch {
	case raw.fullInfoErr == 0 && k.Subflows != pathFullInfo:
		t.Errorf("the kernel answers MPTCP_FULL_INFO, but Subflows used %s", k.Subflows)
	case raw.fullInfoErr != 0 && !refused(raw.fullInfoErr):
		t.Errorf("MPTCP_FULL_INFO: %v, want success or EOPNOTSUPP", raw.fullInfoErr)
	case raw.fullInfoErr != 0 && k.Subflows != pathSeparate:
		t.Errorf("the kernel refuses MPTCP_FULL_INFO (%v), but Subflows did not fall back", raw.fullInfoErr)
	}
	if raw.fullInfoErr == 0 && (raw.fullTCPLen != raw.tcpInfoLen || raw.fullNum != 1) {
		t.Errorf("MPTCP_FULL_INFO reports %d subflows with %d-byte tcp_info; MPTCP_TCPINFO %d with %d bytes",
			raw.fullNum, raw.fullTCPLen, raw.tcpInfoNum, raw.tcpInfoLen)
	}
	if raw.tcpInfoNum != 1 {
		t.Errorf("MPTCP_TCPINFO reports %d subflows, want 1", raw.tcpInfoNum)
	}
	// Subflow ids exist only with MPTCP_FULL_INFO; the first is 1.
	if wantID := map[string]uint32{pathFullInfo: 1, pathSeparate: 0}[k.Subflows]; k.SubflowID != wantID {
		t.Errorf("first subflow id %d with %s, want %d", k.SubflowID, k.Subflows, wantID)
	}
	// The decoders kept exactly the groups the kernel's lengths hold.
	if want, ok := infoFieldsByLen[min(k.InfoLen, infoLen)]; !ok {
		t.Errorf("the kernel returns %d bytes of mptcp_info: a length no kernel in KERNEL.md has", k.InfoLen)
	} else if k.InfoFields != want {
		t.Errorf("MPTCPInfo decoded %v from %d bytes, want %v", k.InfoFields, k.InfoLen, want)
	}
	if want, ok := tcpInfoFieldsByLen[min(k.TCPInfoLen, tcpInfoLen)]; !ok {
		t.Errorf("the kernel returns %d bytes of tcp_info: a length no kernel in KERNEL.md has", k.TCPInfoLen)
	} else if k.TCPInfoFields != want {
		t.Errorf("Subflows decoded tcp_info %v from %d bytes, want %v", k.TCPInfoFields, k.TCPInfoLen, want)
	}
	if k.TCPInfoLen != plainLen {
		t.Errorf("subflow tcp_info is %d bytes, a plain TCP socket's %d", k.TCPInfoLen, plainLen)
	}
	if !in.Has(InfoCounters) && in.BytesSent != 0 {
		t.Errorf("Info without the counters group has BytesSent %d", in.BytesSent)
	}
	return k
}

// measureWithoutSOLMPTCP finishes measureKernel on a kernel that refuses
// MPTCP_INFO on an MPTCP connection: one before 5.16, without SOL_MPTCP.
// There the package answers MultipathTCP from SO_PROTOCOL and cannot
// describe the connection: MPTCPInfo and Subflows fail with
// errors.ErrUnsupported.
func measureWithoutSOLMPTCP(t *testing.T, k *kernelPaths, client *MPTCPConn, raw rawKernelAnswers) {
	t.Helper()
	if !refused(raw.infoErr) {
		t.Fatalf("getsockopt(MPTCP_INFO) on an MPTCP connection: %v, want success, EOPNOTSUPP or ENOPROTOOPT", raw.infoErr)
	}
	if kernelHasSOLMPTCP(t) {
		t.Fatalf("a fresh MPTCP socket answers the MPTCP_INFO probe, but the connection refuses MPTCP_INFO (%v): it fell back?", raw.infoErr)
	}
	for what, errno := range map[string]syscall.Errno{
		"TCP_IS_MPTCP": raw.isMPTCPErr, "MPTCP_INFO probe": raw.infoProbe,
		"MPTCP_FULL_INFO": raw.fullInfoErr, "MPTCP_TCPINFO": raw.tcpInfoErr,
	} {
		if !refused(errno) {
			t.Errorf("%s on a kernel without SOL_MPTCP: %v, want EOPNOTSUPP or ENOPROTOOPT", what, errno)
		}
	}
	if k.Probe != "SO_PROTOCOL" {
		t.Errorf("MultipathTCP probe is %s on a kernel without SOL_MPTCP, want SO_PROTOCOL", k.Probe)
	}
	// MPTCPInfo and Subflows answer from socket diagnostics (5.9+), or
	// fail with errors.ErrUnsupported where the kernel has none.
	in, err := client.MPTCPInfo()
	if err != nil {
		k.Info, k.Subflows = errorName(err), errorName(err)
		if k.Info != "ErrUnsupported" {
			t.Errorf("MPTCPInfo on a kernel without SOL_MPTCP: %v, want an answer from socket diagnostics or errors.ErrUnsupported", err)
		}
		return
	}
	k.Info, k.InfoFields = pathDiag, in.Fields()
	diagLen, diagToken, tcpLen := diagAnswers(t, client)
	k.InfoLen, k.TCPInfoLen = diagLen, tcpLen
	if in.Token != diagToken || in.Token == 0 {
		t.Errorf("MPTCPInfo token %08x; socket diagnostics say %08x", in.Token, diagToken)
	}
	if want, ok := infoFieldsByLen[min(k.InfoLen, infoLen)]; !ok || k.InfoFields != want {
		t.Errorf("MPTCPInfo decoded %v from %d bytes of socket diagnostics, want %v", k.InfoFields, k.InfoLen, want)
	}
	subs, err := client.Subflows()
	if err != nil {
		t.Fatalf("Subflows on a kernel without SOL_MPTCP: %v", err)
	}
	if len(subs) != 1 || subs[0].Local != addrPort(t, client.LocalAddr()) || subs[0].Remote != addrPort(t, client.RemoteAddr()) {
		t.Fatalf("Subflows: %v, want the connection's one subflow", subs)
	}
	k.Subflows, k.SubflowID, k.TCPInfoFields = pathDiag, subs[0].ID, subs[0].TCP.Fields()
	if want, ok := tcpInfoFieldsByLen[min(k.TCPInfoLen, tcpInfoLen)]; !ok || k.TCPInfoFields != want {
		t.Errorf("Subflows decoded tcp_info %v from %d bytes of socket diagnostics, want %v", k.TCPInfoFields, k.TCPInfoLen, want)
	}
}

// diagAnswers asks socket diagnostics directly for c's mptcp_info length
// and token, and its first subflow's tcp_info length.
func diagAnswers(t *testing.T, c *MPTCPConn) (infoLen int, token uint32, tcpLen int) {
	t.Helper()
	local, remote := addrPort(t, c.LocalAddr()), addrPort(t, c.RemoteAddr())
	dc, err := sockdiag.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	for _, proto := range []uint32{unix.IPPROTO_MPTCP, unix.IPPROTO_TCP} {
		req := sockdiag.Request{Family: unix.AF_INET, Protocol: proto, Ext: sockdiag.ExtInfo, States: sockdiag.AllStates, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		if err := dc.Query(&req, func(m *sockdiag.Msg) error {
			if l, r := m.AddrPorts(); l != local || r != remote {
				return nil
			}
			info, _ := m.Attr(sockdiag.AttrInfo)
			if proto == unix.IPPROTO_MPTCP {
				infoLen = len(info)
				if len(info) >= 16 {
					token = binary.NativeEndian.Uint32(info[miToken:])
				}
			} else {
				tcpLen = len(info)
			}
			return nil
		}); err != nil {
			t.Fatalf("socket diagnostics: %v", err)
		}
	}
	return infoLen, token, tcpLen
}

// errnoAnswer is how the KMATRIX line spells a raw answer.
func errnoAnswer(errno syscall.Errno) string {
	switch errno {
	case 0:
		return "ok"
	case unix.EOPNOTSUPP: // also ENOTSUP, the name unix.ErrnoName gives it
		return "EOPNOTSUPP"
	}
	return unix.ErrnoName(errno)
}
