//go:build !linux

package explain

import (
	"net/netip"

	"github.com/multipath-go/mptcp/internal/platform"
)

// Capture records the handshakes of a network namespace; only Linux has
// one.
type Capture struct{}

// StartCapture fails off Linux, with platform.ErrNotLinux, which matches
// errors.ErrUnsupported.
func StartCapture() (*Capture, error) {
	return nil, platform.ErrNotLinux
}

// Stop returns nil: nothing is captured off Linux.
func (c *Capture) Stop(local, remote netip.AddrPort) *Handshake { return nil }
