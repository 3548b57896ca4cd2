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

// snapshot runs one MPTCPInfo, Subflows or Snapshot request: in
// receives the Info where the request has one (MPTCPInfo, Snapshot), and
// the subflows are appended to dst (Subflows, Snapshot). The Info goes
// through a pointer so that AppendSubflows neither zeroes nor copies one
// it would throw away.
func (c *MPTCPConn) snapshot(kind int, in *Info, dst []Subflow) ([]Subflow, error) {
	op := "subflows"
	if kind == reqInfo {
		op = "mptcpinfo"
	}
	rc, err := c.rawConn()
	if err != nil {
		return dst, c.opError(op, err)
	}
	if c.notMPTCP.Load() {
		if err := c.checkOpen(rc); err != nil {
			return dst, c.opError(op, err)
		}
		return dst, c.opError(op, ErrNotMPTCP)
	}
	var (
		subs []Subflow
		out  outcome
	)
	if kind == reqInfo {
		// MPTCP_INFO reads into a buffer handed to the system call
		// itself, which may be on the stack: the request can be too, as
		// neither it nor the callback escapes.
		var r request
		r.kind = kind
		err = rc.Control(func(fd uintptr) { r.run(fd) })
		*in, subs, out = r.info, dst, r.outcome
	} else {
		// MPTCP_FULL_INFO hands the kernel the addresses of buffers inside
		// its argument, which must not move: they live on the heap, in
		// pooled requests.
		r := getRequest(kind)
		r.subs = dst
		err = rc.Control(r.fn)
		if kind == reqSnapshot {
			*in = r.info
		}
		subs, out = r.subs, r.outcome
		putRequest(r)
	}
	var fail error
	switch {
	case err != nil:
		fail = err
	case out.errno != 0:
		fail = out.errno
	case out.notMPTC:
		c.notMPTCP.Store(true)
		fail = ErrNotMPTCP
	case out.noInfo:
		fail = errKernelTooOld
	case out.err != nil:
		fail = fmt.Errorf("mptcp: %w", out.err)
	default:
		return subs, nil
	}
	if in != nil {
		*in = Info{}
	}
	return dst, c.opError(op, fail)
}
