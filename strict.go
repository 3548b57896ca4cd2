package mptcp

import (
	"context"
	"errors"
	"syscall"
)

// strictDial is the Control hook of a dial with RequireMPTCP.
//
// Package net dials such a dial as plain TCP (SetMultipathTCP(false)):
// asked for MPTCP, it retries an address over a plain TCP socket after any
// failure of the MPTCP socket (a refused port, a timeout, a cancelled
// context), and that retry sends a plain SYN before anyone can refuse it.
// Instead the hook puts an MPTCP socket in the place of each TCP socket
// package net creates, before it connects, and only then runs the user's
// hook. Every socket a strict dial connects is therefore MPTCP, and a
// failure is reported as package net reports it, with no retry.
type strictDial struct {
	off            bool // SetMultipathTCP(false): no socket may connect
	control        func(network, address string, c syscall.RawConn) error
	controlContext func(ctx context.Context, network, address string, c syscall.RawConn) error
	// abort ends the dial early, for watch: where the kernel never
	// reports a failed connect, watch finds the failure (connectWatch).
	abort func()
	watch *connectWatch
}

// noMPTCPSocketError is the error of a strict dial that could not create
// an MPTCP socket (a kernel without MPTCP, net.mptcp.enabled=0, another
// platform). It matches ErrNotMPTCP and, through Unwrap, the cause.
type noMPTCPSocketError struct{ err error }

func (e *noMPTCPSocketError) Error() string {
	return "mptcp: no MPTCP socket could be created and RequireMPTCP is set: " + e.err.Error()
}
func (e *noMPTCPSocketError) Unwrap() error        { return e.err }
func (e *noMPTCPSocketError) Is(target error) bool { return target == ErrNotMPTCP }

// errMPTCPOff is why a strict dial of a Dialer told not to use MPTCP
// makes no MPTCP socket.
var errMPTCPOff = errors.New("the Dialer's SetMultipathTCP(false) turned MPTCP off")

// hookError is the user's Control hook failing on the MPTCP socket of a
// dial with RequireMPTCP.
type hookError struct{ err error }

func (e *hookError) Error() string {
	return "mptcp: RequireMPTCP is set and Control failed on the MPTCP socket: " + e.err.Error()
}
func (e *hookError) Unwrap() error { return e.err }

func (s *strictDial) check(ctx context.Context, network, address string, c syscall.RawConn) error {
	if s.off {
		return &noMPTCPSocketError{errMPTCPOff}
	}
	if err := toMPTCPSocket(c); err != nil {
		return err
	}
	if err := s.userControl(ctx, network, address, c); err != nil {
		return &hookError{err}
	}
	if s.abort != nil {
		s.watch = watchConnect(c, address, s.abort)
	}
	return nil
}

// userControl runs the Dialer's own hook, as net.Dialer would.
func (s *strictDial) userControl(ctx context.Context, network, address string, c syscall.RawConn) error {
	switch {
	case s.controlContext != nil:
		return s.controlContext(ctx, network, address, c)
	case s.control != nil:
		return s.control(network, address, c)
	}
	return nil
}
