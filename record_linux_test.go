package mptcp

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multipath-go/mptcp/internal/testenv"

	"golang.org/x/sys/unix"
)

// Recordings of real kernels' answers, for the tests that drive the
// readers through the kernel seam (kernel_fake_linux_test.go). Each file
// in testdata/kernels holds what one kernel answered to raw getsockopt
// calls on the sockets this package meets: an MPTCP connection, one that
// fell back, a plain TCP one and a fresh unconnected MPTCP socket, over
// IPv4 and IPv6, plus the errno of setsockopt for options a Control hook
// might set (record_setsockopt_linux_test.go). On a kernel without
// SOL_MPTCP it holds what socket diagnostics listed of each connection
// too (record_diag_linux_test.go).
//
// TestRecordedKernelMatchesLive checks a recording against the running
// kernel wherever one exists for it (6.18 on the development and CI
// machines; 5.10 with MPTCP, 6.1 and 6.12 in the kernel matrix). With
// MPTCP_RECORD_KERNEL=FILE it writes the running kernel's answers to FILE
// instead; inside the kernel matrix it prints them on a KMATRIX-RECORD
// line, base64 of the JSON, which is how the 5.10-mptcp, 6.1 and 6.12
// files were made:
//
//	go run ./internal/kmatrix -kernels 5.10-mptcp,6.1,6.12 -run TestRecordedKernelMatchesLive -keep DIR

// recordedKernel is one kernel's answers.
type recordedKernel struct {
	Name       string                    `json:"name"`    // the matrix's name for it: 6.1, 6.12, 6.18
	Release    string                    `json:"release"` // uname -r
	SocketErr  int                       `json:"socket_errno,omitempty"`
	Sockets    map[string]recordedSocket `json:"sockets"`
	Setsockopt map[string]int            `json:"setsockopt_errno"` // on a fresh MPTCP socket, IPv4
}

// recordedSocket is what one socket answered.
type recordedSocket struct {
	Protocol  int32            `json:"so_protocol"`
	IsMPTCP   recordedInt      `json:"tcp_is_mptcp"`
	InfoProbe int              `json:"mptcp_info_probe_errno"` // MPTCP_INFO with optlen 0
	Info      recordedBytes    `json:"mptcp_info"`             // MPTCP_INFO into a 256-byte buffer
	TCPInfo   recordedArray    `json:"mptcp_tcpinfo"`          // element size asked: 512
	Addrs     recordedArray    `json:"mptcp_subflow_addrs"`    // element size asked: 512
	FullInfo  recordedFullInfo `json:"mptcp_full_info"`        // element sizes asked: 512

	Local, Remote string        `json:",omitempty"`          // a connection's addresses
	Diag          *recordedDiag `json:"sock_diag,omitempty"` // without SOL_MPTCP: socket diagnostics
}

type recordedInt struct {
	Errno int   `json:"errno"`
	Value int32 `json:"value"`
}

type recordedBytes struct {
	Errno int    `json:"errno"`
	Bytes []byte `json:"bytes,omitempty"`
}

// recordedArray is an MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS answer.
type recordedArray struct {
	Errno      int      `json:"errno"`
	Num        uint32   `json:"num_subflows"`
	SizeKernel uint32   `json:"size_kernel"`
	SizeUser   uint32   `json:"size_user"`
	Elems      [][]byte `json:"elems,omitempty"`
}

// recordedFullInfo is an MPTCP_FULL_INFO answer.
type recordedFullInfo struct {
	Errno         int      `json:"errno"`
	TCPInfoKernel uint32   `json:"size_tcpinfo_kernel"`
	SfInfoKernel  uint32   `json:"size_sfinfo_kernel"`
	Num           uint32   `json:"num_subflows"`
	Info          []byte   `json:"mptcp_info,omitempty"`
	SfInfo        [][]byte `json:"subflow_info,omitempty"`
	TCPInfo       [][]byte `json:"tcp_info,omitempty"`
}

// rawGetsockopt is getsockopt(2), written here again so that recordings
// do not depend on the code they test.
func rawGetsockopt(fd uintptr, level, name int, buf []byte, optlen *uint32) int {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, uintptr(level), uintptr(name), uintptr(p), uintptr(unsafe.Pointer(optlen)), 0)
	return int(errno)
}

func recordSocket(fd uintptr) recordedSocket {
	var s recordedSocket
	ne := binary.NativeEndian
	b4 := make([]byte, 4)
	n := uint32(4)
	if rawGetsockopt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL, b4, &n) == 0 {
		s.Protocol = int32(ne.Uint32(b4))
	}
	n = 4
	clear(b4)
	s.IsMPTCP.Errno = rawGetsockopt(fd, unix.SOL_TCP, 43, b4, &n)
	s.IsMPTCP.Value = int32(ne.Uint32(b4))
	n = 0
	s.InfoProbe = rawGetsockopt(fd, unix.SOL_MPTCP, 1, nil, &n)

	info := make([]byte, 256)
	n = uint32(len(info))
	if s.Info.Errno = rawGetsockopt(fd, unix.SOL_MPTCP, 1, info, &n); s.Info.Errno == 0 {
		s.Info.Bytes = info[:n]
	}

	for _, a := range []struct {
		name int
		out  *recordedArray
	}{{2, &s.TCPInfo}, {3, &s.Addrs}} {
		const room, size = 4, 512
		buf := make([]byte, 16+room*size)
		ne.PutUint32(buf[0:], 16)
		ne.PutUint32(buf[12:], size)
		n = uint32(len(buf))
		if a.out.Errno = rawGetsockopt(fd, unix.SOL_MPTCP, a.name, buf, &n); a.out.Errno != 0 {
			continue
		}
		a.out.Num, a.out.SizeKernel, a.out.SizeUser = ne.Uint32(buf[4:]), ne.Uint32(buf[8:]), ne.Uint32(buf[12:])
		for i := range min(int(a.out.Num), room, int(n-16)/max(int(a.out.SizeUser), 1)) {
			a.out.Elems = append(a.out.Elems, buf[16+i*int(a.out.SizeUser):16+(i+1)*int(a.out.SizeUser)])
		}
	}

	const room, size = 4, 512
	sfi, tcpi := make([]byte, room*size), make([]byte, room*size)
	h := make([]byte, 40+256)
	ne.PutUint32(h[4:], size)
	ne.PutUint32(h[12:], size)
	ne.PutUint32(h[20:], room)
	ne.PutUint64(h[24:], uint64(uintptr(unsafe.Pointer(&sfi[0]))))
	ne.PutUint64(h[32:], uint64(uintptr(unsafe.Pointer(&tcpi[0]))))
	n = uint32(len(h))
	f := &s.FullInfo
	f.Errno = rawGetsockopt(fd, unix.SOL_MPTCP, 4, h, &n)
	if f.Errno == 0 {
		f.TCPInfoKernel, f.SfInfoKernel, f.Num = ne.Uint32(h[0:]), ne.Uint32(h[8:]), ne.Uint32(h[16:])
		f.Info = h[40:n]
		tu, su := int(ne.Uint32(h[4:])), int(ne.Uint32(h[12:]))
		for i := range min(int(f.Num), room) {
			f.SfInfo = append(f.SfInfo, sfi[i*su:(i+1)*su])
			f.TCPInfo = append(f.TCPInfo, tcpi[i*tu:(i+1)*tu])
		}
	}
	return s
}

// recordConn records the client end of a connection from a dialer to a
// listener, after one byte each way, so that MPTCP is fully established.
func recordConn(t *testing.T, network string, dialMPTCP, listenMPTCP, diag bool) recordedSocket {
	t.Helper()
	l := listenStd(t, network, listenMPTCP)
	defer l.Close()
	var d net.Dialer
	d.SetMultipathTCP(dialMPTCP)
	d.Timeout = 10 * time.Second
	c, err := d.Dial(network, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l.SetDeadline(time.Now().Add(10 * time.Second))
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exchange(t, c, s, 1)
	var rec recordedSocket
	onFD(t, c.(*net.TCPConn), func(fd uintptr) { rec = recordSocket(fd) })
	local, remote := addrPort(t, c.LocalAddr()), addrPort(t, c.RemoteAddr())
	rec.Local, rec.Remote = local.String(), remote.String()
	if diag {
		rec.Diag = recordDiag(t, local, remote)
	}
	return rec
}

// recordKernel records the running kernel's answers.
func recordKernel(t *testing.T, name string) recordedKernel {
	t.Helper()
	var uts unix.Utsname
	unix.Uname(&uts)
	k := recordedKernel{Name: name, Release: unix.ByteSliceToString(uts.Release[:]), Sockets: map[string]recordedSocket{}}
	if err := mptcpSocketErr(); err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		k.SocketErr = int(errno)
		return k
	}
	nets := []string{"tcp4"}
	if hasIPv6Loopback() {
		nets = append(nets, "tcp6")
	}
	diag := !kernelHasSOLMPTCP(t)
	for _, network := range nets {
		v := network[3:]
		k.Sockets["mptcp"+v] = recordConn(t, network, true, true, diag)
		k.Sockets["fallback"+v] = recordConn(t, network, true, false, diag)
		k.Sockets["plain"+v] = recordConn(t, network, false, true, diag)
		family := unix.AF_INET
		if v == "6" {
			family = unix.AF_INET6
		}
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
		if err != nil {
			t.Fatal(err)
		}
		k.Sockets["fresh"+v] = recordSocket(uintptr(fd))
		unix.Close(fd)
	}
	k.Setsockopt = recordSetsockopt(t)
	return k
}

// loadRecording reads testdata/kernels/NAME.json.
func loadRecording(t testing.TB, name string) recordedKernel {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kernels", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var k recordedKernel
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// recordedKernels are the kernels recorded in testdata/kernels. 5.10
// with MPTCP (built by the kernel matrix) answers through socket
// diagnostics, replayed by fakeKernel too.
var recordedKernels = []string{"5.10-mptcp", "6.1", "6.12", "6.18"}

// liveKernelName is the name of the running kernel among recordedKernels:
// the matrix passes it in, else the release's major.minor.
func liveKernelName() string {
	if name := os.Getenv(kmatrixExpectEnv); name != "" {
		return name
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	parts := strings.SplitN(unix.ByteSliceToString(uts.Release[:]), ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// shape is what must not change between a recording and the kernel it
// came from: every errno, protocol and size, not counters or addresses.
func (k recordedKernel) shape() string {
	var b strings.Builder
	fmt.Fprintf(&b, "socket_errno=%d\n", k.SocketErr)
	for _, name := range []string{"mptcp4", "fallback4", "plain4", "fresh4", "mptcp6", "fallback6", "plain6", "fresh6"} {
		s, ok := k.Sockets[name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%s: proto=%d is_mptcp=%d/%d probe=%d info=%d/%d tcpinfo=%d/%d/%d addrs=%d/%d/%d full=%d/%d/%d/%d/%d\n",
			name, s.Protocol, s.IsMPTCP.Errno, s.IsMPTCP.Value, s.InfoProbe, s.Info.Errno, len(s.Info.Bytes),
			s.TCPInfo.Errno, s.TCPInfo.Num, s.TCPInfo.SizeKernel, s.Addrs.Errno, s.Addrs.Num, s.Addrs.SizeKernel,
			s.FullInfo.Errno, s.FullInfo.Num, s.FullInfo.TCPInfoKernel, s.FullInfo.SfInfoKernel, len(s.FullInfo.Info))
		if s.Diag != nil {
			fmt.Fprintf(&b, "%s: sock_diag mptcp=%d tcp=%d\n", name, len(s.Diag.MPTCP), len(s.Diag.TCP))
		}
	}
	for _, o := range recordedOptions {
		if e, ok := k.Setsockopt[o.name]; ok {
			fmt.Fprintf(&b, "setsockopt %s=%d\n", o.name, e)
		}
	}
	return b.String()
}

// TestRecordedKernelMatchesLive checks that the recording of the running
// kernel, where there is one, still describes it, so that the seam tests
// replay what real kernels answer.
func TestRecordedKernelMatchesLive(t *testing.T) {
	if err := mptcpSocketErr(); err != nil {
		testenv.SkipOrFail(t, "cannot create MPTCP sockets: %v", err)
	}
	name := liveKernelName()
	live := recordKernel(t, name)
	if path := os.Getenv("MPTCP_RECORD_KERNEL"); path != "" {
		b, err := json.MarshalIndent(live, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	if os.Getenv(kmatrixExpectEnv) != "" {
		b, _ := json.Marshal(live)
		t.Logf("KMATRIX-RECORD %s", base64.StdEncoding.EncodeToString(b))
	}
	var known bool
	for _, k := range recordedKernels {
		known = known || k == name
	}
	if !known {
		t.Skipf("no recording of kernel %q in testdata/kernels (have %v): nothing to compare", name, recordedKernels)
	}
	rec := loadRecording(t, name)
	if got, want := live.shape(), rec.shape(); got != want {
		t.Errorf("kernel %s (%s) no longer answers as recorded in testdata/kernels/%s.json:\n got:\n%s\nwant:\n%s",
			name, live.Release, name, got, want)
	}
	if !bytes.Equal([]byte(live.Name), []byte(rec.Name)) {
		t.Errorf("recording names kernel %q, want %q", rec.Name, live.Name)
	}
}
