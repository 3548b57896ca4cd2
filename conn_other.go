//go:build !linux

package mptcp

import (
	"syscall"

	"github.com/multipath-go/mptcp/internal/platform"
)

func (c *MPTCPConn) multipathTCP() (bool, error) {
	if err := c.open(); err != nil {
		return false, c.opError("multipathtcp", err)
	}
	return false, nil
}

func (c *MPTCPConn) info(*Info) error {
	return c.unsupported("mptcpinfo")
}

func (c *MPTCPConn) appendSubflows(dst []Subflow, _ *Info) ([]Subflow, error) {
	return dst, c.unsupported("subflows")
}

// unsupported is the error of an MPTCP state request off Linux: that of
// the connection if it has one (closed, no connection), else
// platform.ErrNotLinux.
func (c *MPTCPConn) unsupported(op string) error {
	err := c.open()
	if err == nil {
		err = platform.ErrNotLinux
	}
	return c.opError(op, err)
}

// open fails when there is no open connection.
func (c *MPTCPConn) open() error {
	rc, err := c.rawConn()
	if err != nil {
		return err
	}
	return checkOpen(rc)
}

// isMPTCPSocket reports false: only Linux has MPTCP sockets.
func isMPTCPSocket(rc syscall.RawConn) (bool, error) {
	return false, checkOpen(rc)
}

// spliceRefused reports false: splice exists on Linux only, where package
// net decides.
func (c *MPTCPConn) spliceRefused() bool { return false }
