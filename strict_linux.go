package mptcp

import (
	"os"
	"syscall"

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
	if err != nil {
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
