//go:build !linux

package explain

import (
	"errors"
	"net/netip"
)

// Capture records the handshakes of a network namespace; only Linux has
// one.
type Capture struct{}

// StartCapture fails off Linux, with an error matching
// errors.ErrUnsupported.
func StartCapture() (*Capture, error) {
	return nil, errors.ErrUnsupported
}

// Stop returns nil: nothing is captured off Linux.
func (c *Capture) Stop(local, remote netip.AddrPort) *Handshake { return nil }
