//go:build !linux

package main

import (
	"runtime"
	"syscall"

	mib "github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/internal/platform"
)

// checkHost reports that MPTCP needs Linux.
func checkHost() hostReport {
	return hostReport{OS: runtime.GOOS, Problems: []string{platform.ErrNotLinux.Error()}}
}

// readBlackhole returns nil: only Linux has the blackhole detection.
func readBlackhole(mib.Counters) *explain.Blackhole { return nil }

// isMPTCPSocket returns false: only Linux has MPTCP sockets.
func isMPTCPSocket(syscall.Conn) bool { return false }

// inNetNS runs f for "", and fails for a namespace: only Linux has them.
func inNetNS(name string, f func()) error {
	if name != "" {
		return platform.ErrNotLinux
	}
	f()
	return nil
}
