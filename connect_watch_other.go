//go:build !linux

package mptcp

import "syscall"

// watchConnect watches nothing: only Linux 5.10 - 5.15 need it.
func watchConnect(syscall.RawConn, string, func()) *connectWatch { return nil }
