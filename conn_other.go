//go:build !linux

package mptcp

import (
	"errors"
	"syscall"
)

// errNoMPTCPHere is what MPTCPInfo and Subflows return off Linux.
var errNoMPTCPHere = &wrapErr{"mptcp: MPTCP state is only available on Linux", errors.ErrUnsupported}

func (c *MPTCPConn) multipathTCP() (bool, error) {
	const op = "multipathtcp"
	rc, err := c.rawConn()
	if err != nil {
		return false, c.opError(op, err)
	}
	if err := c.checkOpen(rc); err != nil {
		return false, c.opError(op, err)
	}
	return false, nil
}

func (c *MPTCPConn) snapshot(kind int, _ *Info, dst []Subflow) ([]Subflow, error) {
	op := "subflows"
	if kind == reqInfo {
		op = "mptcpinfo"
	}
	rc, err := c.rawConn()
	if err != nil {
		return dst, c.opError(op, err)
	}
	if err := c.checkOpen(rc); err != nil {
		return dst, c.opError(op, err)
	}
	return dst, c.opError(op, errNoMPTCPHere)
}

// isMPTCPSocket reports false: only Linux has MPTCP sockets.
func isMPTCPSocket(rc syscall.RawConn) (bool, error) {
	return false, rc.Control(noop)
}
