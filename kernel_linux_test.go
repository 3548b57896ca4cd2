package mptcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// These tests assert what the running kernel must give: which path each
// call of the package takes, and what it returns. They choose their
// expectations from what the kernel answers to direct system calls, never
// from its version string, and log the paths on one KMATRIX line. The
// kernel matrix (go run ./internal/kmatrix) boots Debian's kernels with
// them as /init's workload and sets kmatrixExpectEnv to the kernel it
// booted, so that a path other than that kernel's is a failure too.

// kmatrixExpectEnv names the kernel the tests run on, as the matrix
// knows it: one of the keys of kernelExpectations. Unset, the tests
// check only that the package agrees with the kernel's own answers.
const kmatrixExpectEnv = "MPTCP_KMATRIX_EXPECT"

// kernelPaths is what a kernel answers, and which path the package took.
type kernelPaths struct {
	MPTCP     bool          // MPTCP sockets can be created
	SocketErr syscall.Errno // why not, when they cannot

	// The kernel's own answers on the client end of an IPv4 connection
	// the Dialer made (MPTCP where the kernel has it); 0 where it answers.
	Protocol    int32         // SO_PROTOCOL
	IsMPTCPErr  syscall.Errno // getsockopt(SOL_TCP, TCP_IS_MPTCP)
	InfoErrno   syscall.Errno // getsockopt(SOL_MPTCP, MPTCP_INFO)
	FullInfoErr syscall.Errno // getsockopt(SOL_MPTCP, MPTCP_FULL_INFO)

	// What the package does on it.
	Probe         string       // how MultipathTCP asks: TCP_IS_MPTCP, MPTCP_INFO (probe) or SO_PROTOCOL
	Info          string       // how MPTCPInfo answers: MPTCP_INFO, or the error it fails with (errorName)
	InfoLen       int          // bytes of struct mptcp_info the kernel copies
	InfoFields    InfoField    // the groups MPTCPInfo decoded
	Subflows      string       // how Subflows read them: pathFullInfo, pathSeparate, or the error it fails with
	SubflowID     uint32       // the id Subflows gave the first subflow
	TCPInfoLen    int          // bytes of struct tcp_info per subflow (size_kernel)
	TCPInfoFields TCPInfoField // the groups Subflows decoded of it
}

const (
	pathDiag     = "sock_diag"
	pathFullInfo = "MPTCP_FULL_INFO"
	pathSeparate = "MPTCP_TCPINFO+MPTCP_SUBFLOW_ADDRS"
)

// probeNames names how MultipathTCP asks, by the reader chosen.
var probeNames = map[reader]string{
	readerUnknown: "-", readerFullInfo: "TCP_IS_MPTCP", readerFullInfoProbe: "MPTCP_INFO",
	readerSplit: "MPTCP_INFO", readerSockDiag: "SO_PROTOCOL", readerNone: "SO_PROTOCOL",
}

// noFullInfo reports whether the reader chosen reads subflows without
// MPTCP_FULL_INFO: the kernel refused it on an MPTCP connection.
func noFullInfo(st *kernelState) bool {
	rd := st.get()
	return rd == readerSplit || rd == readerSockDiag || rd == readerNone
}

// What the kernels the matrix boots must give (KERNEL.md, "Measured on
// real kernels"). 6.18 is the development machines' own kernel.
var kernelExpectations = map[string]kernelPaths{
	// Debian 11's 5.10 is built without MPTCP: the Dialer's connection
	// is a TCP socket.
	"nomptcp": {SocketErr: unix.EPROTONOSUPPORT, Protocol: unix.IPPROTO_TCP, Probe: "SO_PROTOCOL", Info: "-", Subflows: "-"},
	// 5.10 built with MPTCP from Debian 11's source (internal/kmatrix),
	// for 5.9 - 5.15: MPTCP sockets, but no SOL_MPTCP (5.16), so no
	// MPTCP_INFO and no subflow options. MultipathTCP learns SO_PROTOCOL
	// and asks socket diagnostics for a fallback; MPTCPInfo reads them
	// (40 bytes, the base fields), and Subflows the TCP sockets' ULP
	// information, which has no subflow ids.
	"5.10-mptcp": {
		MPTCP: true, Protocol: unix.IPPROTO_MPTCP,
		IsMPTCPErr: unix.EOPNOTSUPP, InfoErrno: unix.EOPNOTSUPP, FullInfoErr: unix.EOPNOTSUPP,
		Probe: "SO_PROTOCOL", Info: pathDiag, InfoLen: 40, InfoFields: InfoBase,
		Subflows: pathDiag, SubflowID: 0,
		TCPInfoLen: 232, TCPInfoFields: TCPInfoBase,
	},
	"6.1": {
		MPTCP: true, Protocol: unix.IPPROTO_MPTCP, IsMPTCPErr: unix.EOPNOTSUPP, FullInfoErr: unix.EOPNOTSUPP,
		Probe: "MPTCP_INFO", Info: "MPTCP_INFO",
		InfoLen: 48, InfoFields: InfoBase | InfoLocalAddr | InfoChecksum,
		Subflows: pathSeparate, SubflowID: 0,
		TCPInfoLen: 232, TCPInfoFields: TCPInfoBase,
	},
	"6.12": {
		MPTCP: true, Protocol: unix.IPPROTO_MPTCP,
		Probe: "TCP_IS_MPTCP", Info: "MPTCP_INFO",
		InfoLen: 96, InfoFields: allInfoFields,
		Subflows: pathFullInfo, SubflowID: 1,
		TCPInfoLen: 248, TCPInfoFields: TCPInfoBase | TCPInfoRcvWnd | TCPInfoRTOStats,
	},
	"6.18": {
		MPTCP: true, Protocol: unix.IPPROTO_MPTCP,
		Probe: "TCP_IS_MPTCP", Info: "MPTCP_INFO",
		InfoLen: 96, InfoFields: allInfoFields,
		Subflows: pathFullInfo, SubflowID: 1,
		TCPInfoLen: 280, TCPInfoFields: TCPInfoBase | TCPInfoRcvWnd | TCPInfoRTOStats | TCPInfoAccECN,
	},
}

// errorName names an error of the package by the sentinel it matches,
// as the KMATRIX line and kernelExpectations spell it.
func errorName(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, ErrNotMPTCP):
		return "ErrNotMPTCP"
	case errors.Is(err, errors.ErrUnsupported):
		return "ErrUnsupported"
	}
	return "other"
}

// kernelHasSOLMPTCP reports whether the kernel has SOL_MPTCP (5.16+): a
// fresh MPTCP socket, which cannot have fallen back, answers the
// MPTCP_INFO probe there.
func kernelHasSOLMPTCP(t *testing.T) bool {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if err != nil {
		t.Fatalf("socket(IPPROTO_MPTCP): %v", err)
	}
	defer unix.Close(fd)
	var zero uint32
	switch errno := getsockopt(uintptr(fd), solMPTCP, optMPTCPInfo, nil, &zero); {
	case errno == 0:
		return true
	case refused(errno):
		return false
	default:
		t.Fatalf("MPTCP_INFO probe on a fresh MPTCP socket: %v", errno)
	}
	return false
}

const allInfoFields = InfoBase | InfoLocalAddr | InfoChecksum | InfoCounters | InfoSubflowsTotal | InfoLastActivity

// The groups a kernel's answer holds, by its length, from the kernels'
// history (KERNEL.md), not from the decoders' own tables.
var (
	infoFieldsByLen = map[int]InfoField{
		40: InfoBase,                                                                   // 5.9 - 5.11, through socket diagnostics
		48: InfoBase | InfoLocalAddr | InfoChecksum,                                    // 5.16 - 6.4
		80: InfoBase | InfoLocalAddr | InfoChecksum | InfoCounters,                     // 6.5 - 6.7
		88: InfoBase | InfoLocalAddr | InfoChecksum | InfoCounters | InfoSubflowsTotal, // 6.8 - 6.9
		96: allInfoFields,                                                              // 6.10+
	}
	tcpInfoFieldsByLen = map[int]TCPInfoField{
		232: TCPInfoBase,                                                   // 5.4 - 6.1
		240: TCPInfoBase | TCPInfoRcvWnd,                                   // 6.2 - 6.6
		248: TCPInfoBase | TCPInfoRcvWnd | TCPInfoRTOStats,                 // 6.7 - 6.17
		280: TCPInfoBase | TCPInfoRcvWnd | TCPInfoRTOStats | TCPInfoAccECN, // 6.18
	}
)

// kernelExpectation returns the expectation the matrix passed in, if any.
func kernelExpectation(t *testing.T) (name string, want kernelPaths, set bool) {
	t.Helper()
	name = os.Getenv(kmatrixExpectEnv)
	if name == "" {
		return "", kernelPaths{}, false
	}
	want, ok := kernelExpectations[name]
	if !ok {
		t.Fatalf("%s=%q: no such kernel in kernelExpectations", kmatrixExpectEnv, name)
	}
	return name, want, true
}

// mptcpSocketErr returns nil if this kernel creates MPTCP sockets, else
// the errno it refuses them with.
func mptcpSocketErr() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// onFD runs f on the connection's file descriptor.
func onFD(t *testing.T, c syscall.Conn, f func(fd uintptr)) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(f); err != nil {
		t.Fatal(err)
	}
}

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

func (k kernelPaths) String() string {
	if !k.MPTCP {
		return fmt.Sprintf("mptcp=no socket=%s so_protocol=%d tcp_is_mptcp=- mptcp_info=- mptcp_full_info=- "+
			"probe=%s info=- info_len=- info_fields=- subflows=- subflow_id=- tcpinfo_len=- tcpinfo_fields=-",
			unix.ErrnoName(k.SocketErr), k.Protocol, k.Probe)
	}
	raw := fmt.Sprintf("mptcp=yes socket=ok so_protocol=%d tcp_is_mptcp=%s mptcp_info=%s mptcp_full_info=%s",
		k.Protocol, errnoAnswer(k.IsMPTCPErr), errnoAnswer(k.InfoErrno), errnoAnswer(k.FullInfoErr))
	if k.InfoErrno != 0 && k.Info != pathDiag {
		return fmt.Sprintf("%s probe=%s info=%s info_len=- info_fields=- subflows=%s subflow_id=- tcpinfo_len=- tcpinfo_fields=-",
			raw, k.Probe, k.Info, k.Subflows)
	}
	return fmt.Sprintf("%s probe=%s info=%s info_len=%d info_fields=%v subflows=%s subflow_id=%d tcpinfo_len=%d tcpinfo_fields=%v",
		raw, k.Probe, k.Info, k.InfoLen, k.InfoFields, k.Subflows, k.SubflowID, k.TCPInfoLen, k.TCPInfoFields)
}

// TestKernelAnswers finds the path each call takes on this kernel, logs
// it for the matrix, and checks it against the kernel's own answers and
// against the expectation the matrix passed in.
func TestKernelAnswers(t *testing.T) {
	name, want, set := kernelExpectation(t)
	got := measureKernel(t)
	t.Logf("KMATRIX expect=%s %v", name, got)
	if set && got != want {
		t.Errorf("kernel %s:\n got: %v\nwant: %v", name, got, want)
	}
}

// TestKernelMPTCPLoopback checks, on a kernel with MPTCP, every end of
// the three kinds of loopback connection.
func TestKernelMPTCPLoopback(t *testing.T) {
	name, want, set := kernelExpectation(t)
	if err := mptcpSocketErr(); err != nil && set && want.MPTCP {
		t.Fatalf("kernel %s must create MPTCP sockets: %v", name, err)
	}
	requireMPTCP(t)
	if set && !want.MPTCP {
		t.Fatalf("kernel %s must not create MPTCP sockets, but it does", name)
	}
	hasSOLMPTCP := kernelHasSOLMPTCP(t)
	for _, network := range networks(t) {
		t.Run(network, func(t *testing.T) {
			t.Run("MPTCP to MPTCP", func(t *testing.T) {
				l := listenLoopback(t, network)
				if ok, err := l.MultipathTCP(); err != nil || !ok {
					t.Errorf("Listener.MultipathTCP = %v, %v; want true", ok, err)
				}
				c, s := dialAccept(t, &Dialer{}, network, l)
				client, server := c.(*MPTCPConn), s.(*MPTCPConn)
				exchange(t, client, server, 1000)
				if !hasSOLMPTCP {
					checkWithoutSOLMPTCP(t, client, server, want, set)
					return
				}
				tokens := map[string]uint32{}
				for end, conn := range map[string]*MPTCPConn{"client": client, "server": server} {
					mustMultipath(t, end, conn, true)
					in, err := conn.MPTCPInfo()
					if err != nil {
						t.Fatalf("%s: MPTCPInfo: %v", end, err)
					}
					if !in.Has(InfoBase) || in.Token == 0 {
						t.Errorf("%s: MPTCPInfo %v: want the base fields and a non-zero token", end, in)
					}
					tokens[end] = in.Token
					subs, err := conn.Subflows()
					if err != nil {
						t.Fatalf("%s: Subflows: %v", end, err)
					}
					if len(subs) != 1 {
						t.Fatalf("%s: %d subflows, want 1: %v", end, len(subs), subs)
					}
					sf := subs[0]
					if local := addrPort(t, conn.LocalAddr()); sf.Local != local {
						t.Errorf("%s: subflow local address %v, connection's %v", end, sf.Local, local)
					}
					if remote := addrPort(t, conn.RemoteAddr()); sf.Remote != remote {
						t.Errorf("%s: subflow remote address %v, connection's %v", end, sf.Remote, remote)
					}
					wantID := uint32(1)
					if noFullInfo(&host) {
						wantID = 0
					}
					if set {
						wantID = want.SubflowID
					}
					if sf.ID != wantID {
						t.Errorf("%s: subflow id %d, want %d", end, sf.ID, wantID)
					}
					if sf.TCP.State != StateEstablished || sf.TCP.BytesReceived+sf.TCP.BytesAcked == 0 {
						t.Errorf("%s: subflow tcp_info is not that of an established connection that moved data: %v", end, sf.TCP)
					}
					if set && sf.TCP.Fields() != want.TCPInfoFields {
						t.Errorf("%s: subflow tcp_info groups %v, want %v", end, sf.TCP.Fields(), want.TCPInfoFields)
					}
					if set && in.Fields() != want.InfoFields {
						t.Errorf("%s: mptcp_info groups %v, want %v", end, in.Fields(), want.InfoFields)
					}
				}
				if tokens["client"] == tokens["server"] {
					t.Errorf("client and server report the same token %08x", tokens["client"])
				}
			})
			t.Run("MPTCP to plain TCP", func(t *testing.T) {
				l := listenPlainTCP(t, network)
				c, s := dialAccept(t, &Dialer{}, network, l)
				client, server := c.(*MPTCPConn), NewConn(s.(*net.TCPConn))
				exchange(t, client, server, 1000)
				mustMultipath(t, "client", client, false)
				mustMultipath(t, "server", server, false)
				checkNotMPTCP(t, "client", client)
				checkNotMPTCP(t, "server", server)
			})
			t.Run("plain TCP to MPTCP", func(t *testing.T) {
				l := listenLoopback(t, network)
				var d Dialer
				d.SetMultipathTCP(false)
				c, s := dialAccept(t, &d, network, l)
				client, server := c.(*MPTCPConn), s.(*MPTCPConn)
				exchange(t, client, server, 1000)
				mustMultipath(t, "client", client, false)
				mustMultipath(t, "server", server, false)
				checkNotMPTCP(t, "client", client)
				checkNotMPTCP(t, "server", server)
			})
		})
	}
}

// checkWithoutSOLMPTCP checks both ends of an MPTCP connection on a
// kernel without SOL_MPTCP (before 5.16): both are MPTCP sockets, which
// the package reports as MPTCP, and MPTCPInfo and Subflows answer from
// socket diagnostics as the expectation says (or fail with
// errors.ErrUnsupported on a kernel without them).
func checkWithoutSOLMPTCP(t *testing.T, client, server *MPTCPConn, want kernelPaths, set bool) {
	t.Helper()
	for end, conn := range map[string]*MPTCPConn{"client": client, "server": server} {
		if p := socketProtocol(t, conn); p != unix.IPPROTO_MPTCP {
			t.Errorf("%s: socket protocol %d, want MPTCP (%d)", end, p, unix.IPPROTO_MPTCP)
		}
		mustMultipath(t, end, conn, true)
		in, err := conn.MPTCPInfo()
		got := pathDiag
		if err != nil {
			got = errorName(err)
		}
		if (set && got != want.Info) || (!set && got != pathDiag && got != "ErrUnsupported") {
			t.Errorf("%s: MPTCPInfo: %v (%s), want %s", end, err, got, want.Info)
		}
		if err == nil && in.Token == 0 {
			t.Errorf("%s: MPTCPInfo from socket diagnostics has no token", end)
		}
		subs, err := conn.Subflows()
		got = pathDiag
		if err != nil {
			got = errorName(err)
		}
		if (set && got != want.Subflows) || (err == nil && len(subs) != 1) {
			t.Errorf("%s: Subflows: %v, %v (%s), want %s and one subflow", end, subs, err, got, want.Subflows)
		}
	}
}

// socketProtocol returns SO_PROTOCOL of the connection's socket.
func socketProtocol(t *testing.T, c syscall.Conn) int32 {
	t.Helper()
	var proto int32
	var errno syscall.Errno
	onFD(t, c, func(fd uintptr) { proto, errno = getsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL) })
	if errno != 0 {
		t.Fatalf("SO_PROTOCOL: %v", errno)
	}
	return proto
}

// TestKernelWithoutMPTCP checks, on a kernel that cannot create MPTCP
// sockets, that the Dialer and Listener work over TCP and say so.
func TestKernelWithoutMPTCP(t *testing.T) {
	name, want, set := kernelExpectation(t)
	err := mptcpSocketErr()
	switch {
	case err == nil && set && !want.MPTCP:
		t.Fatalf("kernel %s must not create MPTCP sockets, but it does", name)
	case err == nil:
		t.Skip("this kernel creates MPTCP sockets: TestKernelMPTCPLoopback covers it")
	case set && want.MPTCP:
		t.Fatalf("kernel %s must create MPTCP sockets: %v", name, err)
	case set && !errors.Is(err, want.SocketErr):
		t.Errorf("socket(IPPROTO_MPTCP): %v, want %v", err, want.SocketErr)
	}
	for _, network := range networks(t) {
		t.Run(network, func(t *testing.T) {
			l := listenLoopback(t, network)
			if ok, err := l.MultipathTCP(); err != nil || ok {
				t.Errorf("Listener.MultipathTCP = %v, %v; want false", ok, err)
			}
			accepted := acceptAll(l)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := (&Dialer{}).DialContext(ctx, network, l.Addr().String())
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			var s net.Conn
			select {
			case s = <-accepted:
			case <-ctx.Done():
				t.Fatal("accept timed out")
			}
			defer s.Close()
			exchange(t, c, s, 1000)
			for end, conn := range map[string]*MPTCPConn{"client": c.(*MPTCPConn), "server": s.(*MPTCPConn)} {
				if p := socketProtocol(t, conn); p != unix.IPPROTO_TCP {
					t.Errorf("%s: socket protocol %d, want TCP (6)", end, p)
				}
				mustMultipath(t, end, conn, false)
				checkNotMPTCP(t, end, conn)
			}

			// Strict mode refuses before connecting: the server sees nothing.
			sc, err := (&Dialer{RequireMPTCP: true}).DialContext(ctx, network, l.Addr().String())
			if err == nil {
				sc.Close()
				t.Fatal("Dialer{RequireMPTCP: true} connected on a kernel without MPTCP")
			}
			checkOpError(t, "strict dial", err, ErrNotMPTCP)
			select {
			case s, ok := <-accepted:
				if ok {
					s.Close()
					t.Error("the strict dial still reached the server")
				}
			case <-time.After(200 * time.Millisecond):
			}
		})
	}
}

// getsockopt and getsockoptInt call the running kernel directly, for
// tests that compare the package with the kernel's own answers.
func getsockopt(fd uintptr, level, name int, buf unsafe.Pointer, optlen *uint32) syscall.Errno {
	return liveKernel{}.getsockopt(fd, level, name, buf, optlen)
}

func getsockoptInt(fd uintptr, level, name int) (int32, syscall.Errno) {
	var v int32
	optlen := uint32(4)
	errno := getsockopt(fd, level, name, unsafe.Pointer(&v), &optlen)
	return v, errno
}
