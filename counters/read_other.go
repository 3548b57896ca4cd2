//go:build !linux

package counters

import (
	"fmt"

	"github.com/multipath-go/mptcp/internal/platform"
)

func read(*Config) (Counters, error) { return nil, fmt.Errorf("counters: %w", platform.ErrNotLinux) }
