//go:build !linux

package mptcp

import (
	"syscall"
	"time"

	"github.com/multipath-go/mptcp/internal/platform"
)

// toMPTCPSocket fails: only Linux has MPTCP sockets, so a strict dial
// fails before it connects.
func toMPTCPSocket(c syscall.RawConn) error {
	if err := checkOpen(c); err != nil {
		return err
	}
	return &noMPTCPSocketError{platform.ErrNotLinux}
}

// kernelFallbackAfter returns 0: no kernel here falls back on its own.
func kernelFallbackAfter() (time.Duration, int) { return 0, 0 }
