package mptcp

import "syscall"

// rawConn returns the connection's syscall.RawConn, or errNilConn or
// errNoConn. It is
// not kept in the MPTCPConn, which would cost every connection 24 bytes
// of heap: inlined where it is used, the call allocates nothing, as the
// compiler sees the RawConn's concrete type and keeps it on the stack.
func (c *MPTCPConn) rawConn() (syscall.RawConn, error) {
	if c == nil {
		return nil, errNilConn
	}
	if c.TCPConn == nil {
		return nil, errNoConn
	}
	return c.TCPConn.SyscallConn()
}

// checkOpen fails with net.ErrClosed once the connection is closed.
func checkOpen(rc syscall.RawConn) error { return rc.Control(noop) }

func noop(uintptr) {}
