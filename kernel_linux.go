package mptcp

import (
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// Socket option numbers from <linux/mptcp.h> and <linux/tcp.h>.
// golang.org/x/sys/unix defines only IPPROTO_MPTCP and SOL_MPTCP.
const (
	ipprotoMPTCP = unix.IPPROTO_MPTCP // 262, since 5.6
	solMPTCP     = unix.SOL_MPTCP     // 284, since 5.16

	optMPTCPInfo         = 1  // struct mptcp_info, 5.16
	optMPTCPTCPInfo      = 2  // mptcp_subflow_data + tcp_info[], 5.16
	optMPTCPSubflowAddrs = 3  // mptcp_subflow_data + mptcp_subflow_addrs[], 5.16
	optMPTCPFullInfo     = 4  // mptcp_full_info, 6.5
	optTCPIsMPTCP        = 43 // level SOL_TCP, 6.10
)

// kernel is the seam between this package and the kernel: every call
// the readers make to it. liveKernel makes them; tests replay answers
// recorded from real kernels (testdata/kernels), socket diagnostics
// included, and answers no kernel here gives.
//
// The readers hand it buffers that live in reused requests, not on the
// stack: a pointer passed through an interface escapes, and a stack
// buffer would be moved to the heap at every call.
type kernel interface {
	// getsockopt is getsockopt(2) on fd; buf may be nil when *optlen is 0.
	getsockopt(fd uintptr, level, name int, buf unsafe.Pointer, optlen *uint32) syscall.Errno
	// socket creates a socket, for probing what the kernel knows.
	socket(family, proto int) (int, syscall.Errno)
	// close closes a socket made by socket.
	close(fd int)
	// addrs returns the family and the local and remote addresses of
	// the connected socket fd.
	addrs(fd uintptr) (family uint8, local, remote netip.AddrPort, err error)
	// sockDiag opens the kernel's socket diagnostics in the network
	// namespace of the socket fd.
	sockDiag(fd uintptr) (diagConn, error)
}

// diagConn is an open socket-diagnostics socket: *sockdiag.Conn.
type diagConn interface {
	Query(req *sockdiag.Request, fn func(*sockdiag.Msg) error) error
	Close() error
}

// liveKernel is the running kernel.
type liveKernel struct{}

// getsockopt is the raw system call. It returns the errno rather than an
// error so that the hot paths never allocate. Every linux port of
// golang.org/x/sys has a direct getsockopt system call (386 since 4.3,
// far older than MPTCP), so no socketcall multiplexing is needed.
func (liveKernel) getsockopt(fd uintptr, level, name int, buf unsafe.Pointer, optlen *uint32) syscall.Errno {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, uintptr(level), uintptr(name),
		uintptr(buf), uintptr(unsafe.Pointer(optlen)), 0)
	return errno
}

func (liveKernel) socket(family, proto int) (int, syscall.Errno) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		errno, _ := err.(syscall.Errno)
		return -1, errno
	}
	return fd, 0
}

func (liveKernel) close(fd int) { unix.Close(fd) }

func (liveKernel) addrs(fd uintptr) (family uint8, local, remote netip.AddrPort, err error) {
	ls, err := unix.Getsockname(int(fd))
	if err != nil {
		return 0, local, remote, err
	}
	rs, err := unix.Getpeername(int(fd))
	if err != nil {
		return 0, local, remote, err
	}
	family = unix.AF_INET
	if _, ok := ls.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	return family, sockaddrAddrPort(ls), sockaddrAddrPort(rs), nil
}

func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// sockDiag opens the socket in the socket's own network namespace,
// which need not be the calling thread's.
func (liveKernel) sockDiag(fd uintptr) (diagConn, error) {
	var dc *sockdiag.Conn
	var err error
	nsfd, nserr := unix.IoctlRetInt(int(fd), unix.SIOCGSKNS)
	if nserr != nil {
		dc, err = sockdiag.Open(nil)
	} else {
		ns := os.NewFile(uintptr(nsfd), "netns")
		var theirs, ours unix.Stat_t
		if unix.Fstat(nsfd, &theirs) == nil && unix.Stat("/proc/thread-self/ns/net", &ours) == nil &&
			theirs.Ino == ours.Ino && theirs.Dev == ours.Dev {
			dc, err = sockdiag.Open(nil)
		} else {
			dc, err = sockdiag.Open(ns)
		}
		ns.Close()
	}
	if err != nil {
		return nil, err // not a nil *sockdiag.Conn inside a diagConn
	}
	return dc, nil
}

// refused reports whether errno is how a kernel says "not here": an
// option it does not know, or a SOL_MPTCP option on a socket that is not
// (or no longer) MPTCP. IPv4 sockets answer EOPNOTSUPP, IPv6 ENOPROTOOPT.
func refused(errno syscall.Errno) bool {
	return errno == unix.EOPNOTSUPP || errno == unix.ENOPROTOOPT
}
