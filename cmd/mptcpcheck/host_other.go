//go:build !linux

package main

import (
	"runtime"

	"github.com/multipath-go/mptcp/internal/platform"
)

// checkHost reports that MPTCP needs Linux.
func checkHost() hostReport {
	return hostReport{OS: runtime.GOOS, Problems: []string{platform.ErrNotLinux.Error()}}
}
