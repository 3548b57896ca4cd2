package mptcp

import (
	"context"
	"sync"
	"syscall"
)

// strictDial is the Control hook of a dial with RequireMPTCP. It runs on
// every socket package net creates for the dial, before connect, and
// refuses a plain TCP socket unless it retries an address whose MPTCP
// socket was tried and failed to connect (a refused port, a timeout):
// the TCP attempt reports that failure better than ErrNotMPTCP would. A
// TCP socket that retries an address whose MPTCP socket the user's hook
// refused fails with the hook's error instead: nothing is sent.
type strictDial struct {
	control        func(network, address string, c syscall.RawConn) error
	controlContext func(ctx context.Context, network, address string, c syscall.RawConn) error

	mu sync.Mutex
	// tried holds the addresses an MPTCP socket was created for, with
	// what the user's hook returned on it.
	tried map[string]error
}

var errNoMPTCPSocket = &wrapErr{"mptcp: no MPTCP socket could be created and RequireMPTCP is set", ErrNotMPTCP}

// hookError is the user's Control hook failing on the MPTCP socket of a
// dial with RequireMPTCP.
type hookError struct{ err error }

func (e *hookError) Error() string {
	return "mptcp: RequireMPTCP is set and Control failed on the MPTCP socket: " + e.err.Error()
}
func (e *hookError) Unwrap() error { return e.err }

func (s *strictDial) check(ctx context.Context, network, address string, c syscall.RawConn) error {
	mptcp, err := isMPTCPSocket(c)
	if err != nil {
		return err
	}
	if mptcp {
		err := s.userControl(ctx, network, address, c)
		s.mu.Lock()
		if s.tried == nil {
			s.tried = make(map[string]error)
		}
		s.tried[address] = err
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	hookErr, tried := s.tried[address]
	s.mu.Unlock()
	switch {
	case !tried:
		return errNoMPTCPSocket
	case hookErr != nil:
		return &hookError{hookErr}
	}
	return s.userControl(ctx, network, address, c)
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
