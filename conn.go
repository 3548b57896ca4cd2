package mptcp

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
)

// ErrNotMPTCP is matched, through [errors.Is], by the errors of calls that
// need an MPTCP connection made on one that is not: a connection that
// fell back to TCP, or a plain TCP one. A [Dialer] with RequireMPTCP set
// fails with it too.
var ErrNotMPTCP = errors.New("mptcp: connection is not using MPTCP")

// MPTCPConn is a TCP connection made or accepted by this package: a
// *net.TCPConn, with every method and the zero-copy paths of one, plus
// what the kernel knows of its MPTCP state.
//
// Every TCP connection a [Dialer] or [Listener] returns is an *MPTCPConn,
// whether it uses MPTCP or fell back to TCP. Its methods are safe to call
// concurrently with Read, Write and Close. After Close they return an
// error matched by errors.Is(err, net.ErrClosed).
//
// Errors are *net.OpError values with the connection's addresses, around
// [ErrNotMPTCP], net.ErrClosed, errors.ErrUnsupported or an
// *os.SyscallError.
type MPTCPConn struct {
	*net.TCPConn

	// notMPTCP caches a "no": a plain TCP socket never becomes MPTCP and a
	// connection that fell back never returns to MPTCP, so the kernel need
	// not be asked again.
	notMPTCP atomic.Bool
}

// NewConn wraps a TCP connection made elsewhere, for example by
// net.Dial, so that its MPTCP state can be read.
func NewConn(c *net.TCPConn) *MPTCPConn {
	return &MPTCPConn{TCPConn: c}
}

// MultipathTCP reports whether the connection uses MPTCP now, with the
// most precise test the running kernel offers: TCP_IS_MPTCP (6.10+),
// else an MPTCP_INFO probe (5.16+), else the socket's protocol (which
// cannot see a fallback). The kernel's options are probed once per
// process; a call allocates nothing after that.
//
// A connection that fell back to TCP reports false. On platforms other
// than Linux it always reports false and a nil error.
func (c *MPTCPConn) MultipathTCP() (bool, error) { return c.multipathTCP() }

// MPTCPInfo returns the connection-level MPTCP state. On a connection that
// is not MPTCP the error matches [ErrNotMPTCP]; on a kernel older than
// 5.16, or a platform other than Linux, it matches errors.ErrUnsupported.
func (c *MPTCPConn) MPTCPInfo() (Info, error) {
	var in Info
	_, err := c.snapshot(reqInfo, &in, nil)
	return in, err
}

// Subflows returns one [Subflow] per subflow of the connection, with its
// id, addresses and TCP statistics. On 6.5+ one MPTCP_FULL_INFO call reads
// them all at one instant; on 5.16 - 6.4, where subflows have no ids, two
// calls read the statistics and then the addresses. Errors are as for
// [MPTCPConn.MPTCPInfo]. The slice is new at each call, which costs an
// allocation: code that polls should reuse one with
// [MPTCPConn.AppendSubflows].
func (c *MPTCPConn) Subflows() ([]Subflow, error) {
	return c.AppendSubflows(nil)
}

// AppendSubflows is like [MPTCPConn.Subflows] but appends the subflows to
// dst and returns the extended slice. It allocates nothing when dst has
// room for them. On error it returns dst unchanged.
func (c *MPTCPConn) AppendSubflows(dst []Subflow) ([]Subflow, error) {
	return c.snapshot(reqSubflows, nil, dst)
}

// Snapshot returns the connection's [Info] and appends its subflows to
// dst, both read by one MPTCP_FULL_INFO call on 6.5+, so that they
// describe the same instant (Info.TotalSubflows equals the number of
// subflows appended). On 5.16 - 6.4 it takes three calls. Errors are as
// for [MPTCPConn.MPTCPInfo].
func (c *MPTCPConn) Snapshot(dst []Subflow) (Info, []Subflow, error) {
	var in Info
	subs, err := c.snapshot(reqSnapshot, &in, dst)
	return in, subs, err
}

// ReadFrom implements io.ReaderFrom. It hands *MPTCPConn sources, alone
// or inside an *io.LimitedReader, to the embedded TCPConn as the
// *net.TCPConn they hold, so that the kernel's splice and sendfile paths
// are used exactly where two *net.TCPConn would use them.
//
// One shape cannot be helped from here: a *net.TCPConn reading from an
// io.LimitReader around an *MPTCPConn copies through user space, because
// package net recognizes only its own types inside an io.LimitedReader.
// Read from the embedded TCPConn (io.LimitReader(c.TCPConn, n)) there.
func (c *MPTCPConn) ReadFrom(r io.Reader) (int64, error) {
	switch v := r.(type) {
	case *MPTCPConn:
		if v.TCPConn != nil {
			r = v.TCPConn
		}
	case *io.LimitedReader:
		if m, ok := v.R.(*MPTCPConn); ok && m.TCPConn != nil {
			lr := io.LimitedReader{R: m.TCPConn, N: v.N}
			n, err := c.TCPConn.ReadFrom(&lr)
			v.N = lr.N
			return n, err
		}
	}
	return c.TCPConn.ReadFrom(r)
}

// rawConn returns the connection's syscall.RawConn. It is not kept in
// the MPTCPConn, which would cost every connection 24 bytes of heap:
// inlined where it is used, the call allocates nothing, as the compiler
// sees the RawConn's concrete type and keeps it on the stack.
func (c *MPTCPConn) rawConn() (syscall.RawConn, error) {
	if c == nil || c.TCPConn == nil {
		return nil, syscall.EINVAL
	}
	return c.TCPConn.SyscallConn()
}

// checkOpen fails with net.ErrClosed once the connection is closed.
func (c *MPTCPConn) checkOpen(rc syscall.RawConn) error { return rc.Control(noop) }

func noop(uintptr) {}

// opError wraps err the way package net does: a *net.OpError with the
// connection's addresses, net.ErrClosed for every form of "closed", and
// an *os.SyscallError around a bare errno.
func (c *MPTCPConn) opError(op string, err error) error {
	oe := &net.OpError{Op: op, Net: "tcp", Err: sockoptErr(err)}
	if c != nil && c.TCPConn != nil {
		oe.Source, oe.Addr = c.LocalAddr(), c.RemoteAddr()
		if oe.Source != nil {
			oe.Net = oe.Source.Network()
		}
	}
	return oe
}

// Kinds of snapshot request.
const (
	reqInfo = iota
	reqSubflows
	reqSnapshot
)

// sockoptErr maps every form of "closed" to net.ErrClosed and puts a
// bare errno inside an *os.SyscallError.
func sockoptErr(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, net.ErrClosed), errors.As(err, &errno) && errno == syscall.EBADF:
		return net.ErrClosed
	case errors.As(err, &errno):
		return os.NewSyscallError("getsockopt", errno)
	}
	return err
}

// wrapErr is an error with its own message that matches another through
// errors.Is.
type wrapErr struct {
	msg string
	err error
}

func (e *wrapErr) Error() string { return e.msg }
func (e *wrapErr) Unwrap() error { return e.err }
