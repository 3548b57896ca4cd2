//go:build !linux

package main

import "runtime"

// checkHost reports that MPTCP needs Linux.
func checkHost() hostReport {
	return hostReport{OS: runtime.GOOS, Problems: []string{"MPTCP sockets are only available on Linux"}}
}
