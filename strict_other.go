//go:build !linux

package mptcp

import (
	"syscall"
	"time"

	"github.com/multipath-go/mptcp/internal/platform"
)

// errNoMPTCPSocket is what a strict dial meets off Linux.
var errNoMPTCPSocket error = &noMPTCPSocketError{platform.ErrNotLinux}

// toMPTCPSocket fails: only Linux has MPTCP sockets, so a strict dial
// fails before it connects.
func toMPTCPSocket(c syscall.RawConn) error {
	if err := checkOpen(c); err != nil {
		return err
	}
	return errNoMPTCPSocket
}

// kernelFallbackAfter returns 0: no kernel here falls back on its own.
func kernelFallbackAfter() (time.Duration, int) { return 0, 0 }
