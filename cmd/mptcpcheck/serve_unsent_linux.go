package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// unsentBytes returns how many bytes written to c its peer has not yet
// acknowledged (SIOCOUTQ, which MPTCP sockets answer too since Linux 6.1).
func unsentBytes(c syscall.Conn) (int64, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return int64(n), true
}
