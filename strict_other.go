//go:build !linux

package mptcp

import (
	"errors"
	"syscall"
	"time"
)

// toMPTCPSocket fails: only Linux has MPTCP sockets, so a strict dial
// fails before it connects.
func toMPTCPSocket(c syscall.RawConn) error {
	if err := checkOpen(c); err != nil {
		return err
	}
	return &noMPTCPSocketError{errNoPlatformMPTCP}
}

// errNoPlatformMPTCP is why no MPTCP socket exists outside Linux.
var errNoPlatformMPTCP = &wrapErr{"MPTCP sockets exist on Linux only", errors.ErrUnsupported}

// kernelFallbackAfter returns 0: no kernel here falls back on its own.
func kernelFallbackAfter() (time.Duration, int) { return 0, 0 }
