package mptcp

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kernelLacksSOLMPTCP caches, for the process, whether the kernel
// refuses SOL_MPTCP: 0 not known yet, 1 it has it, 2 it lacks it.
var kernelLacksSOLMPTCP atomic.Int32

// needsConnectWatch reports whether the kernel of fd, a new MPTCP
// socket, has no SOL_MPTCP: MPTCP_INFO for no bytes answers on 5.16 and
// later, an unconnected socket included.
func needsConnectWatch(fd int) bool {
	switch kernelLacksSOLMPTCP.Load() {
	case 1:
		return false
	case 2:
		return true
	}
	var n uint32
	lacks := refused(liveKernel{}.getsockopt(uintptr(fd), solMPTCP, optMPTCPInfo, nil, &n))
	if lacks {
		kernelLacksSOLMPTCP.Store(2)
	} else {
		kernelLacksSOLMPTCP.Store(1)
	}
	return lacks
}

// watchConnect starts the watch of the connect package net is about to
// make on c to address, where c is an MPTCP socket of a kernel that
// needs it; abort ends the dial.
// It returns nil where no watch is needed or none could be set up (the
// dial then goes on as package net makes it).
func watchConnect(c syscall.RawConn, address string, abort func()) *connectWatch {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil
	}
	dup := -1
	c.Control(func(fd uintptr) {
		// Plain TCP sockets report their failures; the probe of
		// needsConnectWatch needs an MPTCP socket.
		if proto, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || proto != ipprotoMPTCP {
			return
		}
		if !needsConnectWatch(int(fd)) {
			return
		}
		dup, _ = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if dup < 0 {
		return nil
	}
	sa, err := connectSockaddr(dup, ap)
	if err != nil {
		unix.Close(dup)
		return nil
	}
	w := &connectWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(dup, sa, abort)
	return w
}

// run asks the kernel about the connect, ever less often, until it
// connected, failed or the dial returned.
func (w *connectWatch) run(fd int, sa unix.Sockaddr, abort func()) {
	defer close(w.done)
	defer unix.Close(fd)
	t := time.NewTimer(0)
	defer t.Stop()
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		t.Reset(delay)
		// Until package net has called connect (and bound the socket,
		// for a LocalAddr), the socket has no local port: a connect here
		// would come first.
		if local, err := unix.Getsockname(fd); err != nil || sockaddrAddrPort(local).Port() == 0 {
			continue
		}
		switch err := unix.Connect(fd, sa); err {
		case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
		case unix.ECONNREFUSED, unix.ECONNRESET, unix.ETIMEDOUT, unix.EHOSTUNREACH, unix.ENETUNREACH,
			unix.EHOSTDOWN, unix.ENETDOWN:
			w.err = os.NewSyscallError("connect", err)
			abort()
			return
		default:
			// Connected (nil, EISCONN), or an answer that says nothing of
			// the subflow: package net sees the rest.
			return
		}
	}
}

// connectSockaddr is ap as the socket fd's family takes it: an IPv6
// socket reaches an IPv4 address by its IPv4-mapped form.
func connectSockaddr(fd int, ap netip.AddrPort) (unix.Sockaddr, error) {
	family, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, err
	}
	if family == unix.AF_INET6 {
		sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: netip.AddrFrom16(ap.Addr().As16()).As16()}
		if z := ap.Addr().Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			} else if n, err := strconv.ParseUint(z, 10, 32); err == nil {
				sa.ZoneId = uint32(n)
			}
		}
		return sa, nil
	}
	if !ap.Addr().Unmap().Is4() {
		return nil, syscall.EAFNOSUPPORT
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}, nil
}
