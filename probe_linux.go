package mptcp

import (
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// How a request asks "is this socket MPTCP now?", from the most to the
// least precise test the kernel offers.
const (
	methodUnknown  int32 = iota // not learned yet
	methodIsMPTCP               // getsockopt(SOL_TCP, TCP_IS_MPTCP): 6.10+
	methodInfo                  // getsockopt(SOL_MPTCP, MPTCP_INFO) with optlen 0: 5.16+
	methodProtocol              // SO_PROTOCOL, and socket diagnostics for a fallback: 5.6 - 5.15
)

// kernelState is what the package has learned of a kernel from its
// answers, never from its version string. Only conclusive answers are
// kept: a kernel's options are the same in every network namespace and
// whatever the sysctls say, but a failed or ambiguous probe proves
// nothing, and is made again at the next call.
type kernelState struct {
	method atomic.Int32
	// noFullInfo is set once the kernel refused MPTCP_FULL_INFO on a
	// connection that is MPTCP: the kernel predates 6.5.
	noFullInfo atomic.Bool
}

// host is what is known of the running kernel.
var host kernelState

// errProbe is returned when a connection's own answers cannot tell
// whether it fell back and no fresh MPTCP socket could be made to learn
// what the kernel knows (no descriptors left, for example). It wraps the
// socket error, so errors.Is(err, syscall.EMFILE) holds.
type errProbe struct{ err error }

func (e *errProbe) Error() string {
	return "mptcp: cannot tell whether the connection fell back to TCP: learning what the kernel knows needs a new MPTCP socket: " + e.err.Error()
}
func (e *errProbe) Unwrap() error { return e.err }

// isMPTCP reports whether the request's socket uses MPTCP now, with the
// most precise test the kernel offers.
func (r *request) isMPTCP() (bool, error) {
	switch r.st.method.Load() {
	case methodIsMPTCP:
		v, errno := r.getsockoptInt(unix.SOL_TCP, optTCPIsMPTCP)
		if errno != 0 {
			return false, errno
		}
		return v == 1, nil
	case methodInfo:
		return r.infoProbe(r.fd)
	case methodProtocol:
		return r.protocolIsMPTCP()
	}
	return r.learn()
}

// protocolIsMPTCP answers on a kernel without SOL_MPTCP: a socket created
// as TCP is not MPTCP; for one created as MPTCP, socket diagnostics tell
// whether it fell back (5.9+). Without them (5.6 - 5.8), the socket's
// protocol is all there is, and a fallback cannot be seen.
func (r *request) protocolIsMPTCP() (bool, error) {
	proto, errno := r.getsockoptInt(unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if errno != 0 {
		return false, errno
	}
	if proto != ipprotoMPTCP {
		return false, nil
	}
	fellBack, err := r.diagFellBack()
	switch {
	case err == errNoDiag:
		return true, nil
	case err != nil:
		return false, err
	}
	return !fellBack, nil
}

// infoProbe asks MPTCP_INFO for no bytes: an MPTCP socket answers on
// 5.16+, a fallen-back or TCP socket refuses, and so does every socket of
// an older kernel.
func (r *request) infoProbe(fd uintptr) (bool, error) {
	r.optlen = 0
	switch errno := r.k.getsockopt(fd, solMPTCP, optMPTCPInfo, nil, &r.optlen); {
	case errno == 0:
		return true, nil
	case refused(errno):
		return false, nil
	default:
		return false, errno
	}
}

// learn answers for a kernel not known yet, from the socket's own
// answers where they suffice, and keeps what they prove of the kernel:
//
//   - any answer to TCP_IS_MPTCP, 0 or 1, proves 6.10+: every TCP or
//     MPTCP socket of such a kernel answers it, fallen back or not;
//   - an answer to the MPTCP_INFO probe proves 5.16+ and MPTCP;
//   - a socket created as TCP (SO_PROTOCOL 6) is not MPTCP, on any kernel;
//   - an MPTCP socket that refuses both fell back on 5.16+, or lives on a
//     kernel without SOL_MPTCP. Only there is a fresh MPTCP socket made,
//     which cannot have fallen back: its answer to the probe tells which.
func (r *request) learn() (bool, error) {
	v, errno := r.getsockoptInt(unix.SOL_TCP, optTCPIsMPTCP)
	switch {
	case errno == 0:
		r.st.method.Store(methodIsMPTCP)
		return v == 1, nil
	case !refused(errno):
		return false, errno
	}
	if ok, err := r.infoProbe(r.fd); err != nil || ok {
		if ok {
			r.st.method.Store(methodInfo)
		}
		return ok, err
	}
	proto, errno := r.getsockoptInt(unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if errno != 0 {
		return false, errno
	}
	if proto != ipprotoMPTCP {
		return false, nil
	}
	family, errno := r.getsockoptInt(unix.SOL_SOCKET, unix.SO_DOMAIN)
	if errno != 0 {
		return false, errno
	}
	fd, errno := r.k.socket(int(family), ipprotoMPTCP)
	if errno != 0 {
		return false, &errProbe{os.NewSyscallError("socket", errno)}
	}
	ok, err := r.infoProbe(uintptr(fd))
	r.k.close(fd)
	switch {
	case err != nil:
		return false, err
	case ok:
		// The kernel answers MPTCP_INFO: this connection fell back.
		r.st.method.Store(methodInfo)
		return false, nil
	}
	// Not even a fresh MPTCP socket answers: a kernel before 5.16, where
	// only the socket's protocol and socket diagnostics can tell.
	r.st.method.Store(methodProtocol)
	return r.protocolIsMPTCP()
}

// getsockoptInt reads an int option of the request's socket.
func (r *request) getsockoptInt(level, name int) (int32, syscall.Errno) {
	r.v, r.optlen = 0, 4
	errno := r.k.getsockopt(r.fd, level, name, unsafe.Pointer(&r.v), &r.optlen)
	return r.v, errno
}

// isMPTCPSocket reports whether the socket behind rc was created as an
// MPTCP socket (SO_PROTOCOL 262), whether or not it fell back since.
func isMPTCPSocket(rc syscall.RawConn) (bool, error) {
	var proto int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		proto, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	}); err != nil {
		return false, err
	}
	return proto == ipprotoMPTCP, serr
}
