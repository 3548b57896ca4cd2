package mptcp

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// toMPTCPSocket replaces the socket behind c, which package net created
// for a plain TCP dial and has not yet connected nor registered with its
// poller, by an MPTCP socket of the same family, at the same descriptor
// number: package net then binds, connects and polls the MPTCP socket as
// its own. A socket that is MPTCP already is left alone.
//
// Package net sets one option before the Control hook runs, IPV6_V6ONLY
// on IPv6 sockets; it is copied. The replaced TCP socket was never bound
// nor connected: closing it sends nothing.
func toMPTCPSocket(c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) { err = replaceWithMPTCP(int(fd)) }); cerr != nil {
		return cerr
	}
	return err
}

func replaceWithMPTCP(fd int) error {
	proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if proto == ipprotoMPTCP {
		return nil
	}
	family, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	s, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, ipprotoMPTCP)
	switch err {
	case nil:
	case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
		// Out of descriptors or memory: nothing to do with MPTCP.
		return os.NewSyscallError("socket", err)
	default:
		// The kernel just made a TCP socket of this family: any other
		// refusal is of MPTCP (EPROTONOSUPPORT, ENOPROTOOPT for
		// net.mptcp.enabled=0, EINVAL before 5.6, a security policy).
		return &noMPTCPSocketError{os.NewSyscallError("socket", err)}
	}
	defer unix.Close(s)
	if family == unix.AF_INET6 {
		v6only, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		if err != nil {
			return os.NewSyscallError("getsockopt", err)
		}
		if err := unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Dup3(s, fd, unix.O_CLOEXEC); err != nil {
		return os.NewSyscallError("dup3", err)
	}
	return nil
}

// kernelFallbackAfter returns how long after connect the kernel sends
// the SYN of an unanswered MPTCP connection without the MPTCP option,
// and after how many retransmissions; 0 where it never does. From 6.12
// it does after net.mptcp.syn_retrans_before_tcp_fallback
// retransmissions (a sysctl of later kernels, 6.18 among them; fixed at
// 2 before it, and 2 by default), 128 or more meaning never. The SYN's
// first timeout is 1 s (TCP_TIMEOUT_INIT); the first
// net.ipv4.tcp_syn_linear_timeouts retransmissions (6.5+) keep it,
// later ones double it. With the
// defaults: SYNs at 0, 1 and 2 s, and the plain one at 3 s (measured on
// 6.18). The sysctls are those of the calling thread's namespace, where
// the dial's socket is made.
func kernelFallbackAfter() (time.Duration, int) {
	n, err := readSysctl("/proc/sys/net/mptcp/syn_retrans_before_tcp_fallback")
	if err != nil {
		// blackhole_timeout came with the fallback, in 6.12.
		if _, err := os.Stat("/proc/sys/net/mptcp/blackhole_timeout"); err != nil {
			return 0, 0
		}
		n = 2
	}
	if n < 0 || n >= 128 {
		return 0, 0
	}
	linear, err := readSysctl("/proc/sys/net/ipv4/tcp_syn_linear_timeouts")
	if err != nil {
		linear = 0
	}
	return synFallbackAfter(n, linear), n
}

// synFallbackAfter is when the kernel sends the SYN that follows n
// retransmissions, the first linear of them with the first timeout.
func synFallbackAfter(n, linear int) time.Duration {
	var after time.Duration
	rto := time.Second // TCP_TIMEOUT_INIT
	for i := 0; i <= n; i++ {
		after += rto
		if i >= linear {
			rto = min(2*rto, 120*time.Second) // TCP_RTO_MAX
		}
	}
	return after
}

func readSysctl(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
