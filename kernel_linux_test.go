package mptcp

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
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
