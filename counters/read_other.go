//go:build !linux

package counters

import "github.com/multipath-go/mptcp/internal/platform"

func read(*Config) (Counters, error) { return nil, platform.ErrNotLinux }
