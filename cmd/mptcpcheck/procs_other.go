//go:build !linux

package main

// socketOwners finds nothing: only Linux has /proc/PID/fd, and MPTCP.
func socketOwners(string, map[uint32]bool) map[uint32][]owner { return map[uint32][]owner{} }
