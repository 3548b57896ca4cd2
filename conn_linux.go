package mptcp

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// errKernelTooOld is returned for a connection that is MPTCP on a kernel
// that cannot describe it (before 5.16, where SOL_MPTCP does not exist).
var errKernelTooOld = &wrapErr{"mptcp: the kernel reports no MPTCP state before Linux 5.16", errors.ErrUnsupported}

// probeRequest carries one MultipathTCP question into RawConn.Control.
// Its callback is bound once, when the pool makes it, so that a call
// allocates nothing.
type probeRequest struct {
	fn    func(fd uintptr)
	ok    bool
	errno syscall.Errno
}

var probePool = sync.Pool{New: func() any {
	p := new(probeRequest)
	p.fn = func(fd uintptr) { p.ok, p.errno = isMPTCP(fd) }
	return p
}}

func (c *MPTCPConn) multipathTCP() (bool, error) {
	const op = "multipathtcp"
	rc, err := c.rawConn()
	if err != nil {
		return false, c.opError(op, err)
	}
	if c.notMPTCP.Load() {
		if err := c.checkOpen(rc); err != nil {
			return false, c.opError(op, err)
		}
		return false, nil
	}
	p := probePool.Get().(*probeRequest)
	err = rc.Control(p.fn)
	ok, errno := p.ok, p.errno
	p.ok, p.errno = false, 0
	probePool.Put(p)
	if err != nil {
		return false, c.opError(op, err)
	}
	if errno != 0 {
		return false, c.opError(op, errno)
	}
	if !ok {
		c.notMPTCP.Store(true)
	}
	return ok, nil
}

// snapshot runs one MPTCPInfo, Subflows or Snapshot request.
func (c *MPTCPConn) snapshot(kind int, dst []Subflow) (Info, []Subflow, error) {
	op := "subflows"
	if kind == reqInfo {
		op = "mptcpinfo"
	}
	rc, err := c.rawConn()
	if err != nil {
		return Info{}, dst, c.opError(op, err)
	}
	if c.notMPTCP.Load() {
		if err := c.checkOpen(rc); err != nil {
			return Info{}, dst, c.opError(op, err)
		}
		return Info{}, dst, c.opError(op, ErrNotMPTCP)
	}
	r := getRequest(kind)
	r.subs = dst
	err = rc.Control(r.fn)
	in, subs := r.info, r.subs
	errno, decodeErr, notMPTCP, noInfo := r.errno, r.err, r.notMPTC, r.noInfo
	putRequest(r)
	switch {
	case err != nil:
		return Info{}, dst, c.opError(op, err)
	case errno != 0:
		return Info{}, dst, c.opError(op, errno)
	case notMPTCP:
		c.notMPTCP.Store(true)
		return Info{}, dst, c.opError(op, ErrNotMPTCP)
	case noInfo:
		return Info{}, dst, c.opError(op, errKernelTooOld)
	case decodeErr != nil:
		return Info{}, dst, c.opError(op, fmt.Errorf("mptcp: %w", decodeErr))
	}
	return in, subs, nil
}
