//go:build !linux

package main

import (
	"net/netip"

	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/platform"
)

// tcpListeners finds nothing: only Linux has MPTCP listeners to find.
func tcpListeners(string, *diag.Filter) ([]netip.AddrPort, error) { return nil, platform.ErrNotLinux }
