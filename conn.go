package mptcp

import (
	"io"
	"net"
	"sync/atomic"
)

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

	// token caches the connection's token where socket diagnostics are
	// the only way to its MPTCP state (5.9 - 5.15), so that it is found
	// by its addresses once and by its token after that.
	token atomic.Uint32
}

// NewConn wraps a TCP connection made elsewhere, for example by
// net.Dial, so that its MPTCP state can be read. The MPTCP methods of
// NewConn(nil), like those of a zero MPTCPConn, fail with an error
// matched by os.ErrInvalid.
func NewConn(c *net.TCPConn) *MPTCPConn {
	return &MPTCPConn{TCPConn: c}
}

// MultipathTCP reports whether the connection uses MPTCP now, with the
// most precise test the running kernel offers: TCP_IS_MPTCP (6.10+),
// else an MPTCP_INFO probe (5.16+), else the socket's protocol and, for
// an MPTCP socket, the fallback flag socket diagnostics show (5.9+;
// before that a fallback cannot be seen). Which test the kernel offers is learned from
// the connection's own answers and kept once it is certain, whatever the
// network namespace or sysctls of the first call; a call allocates
// nothing. Before 6.10 a connection that refuses the MPTCP_INFO probe has
// fallen back or lives on a kernel without it: a fresh MPTCP socket tells
// which, once per process. If none can be made (no descriptors left), the
// call fails with that error, errors.Is(err, syscall.EMFILE) for example,
// and the next call tries again.
//
// A connection that fell back to TCP reports false. On platforms other
// than Linux it always reports false and a nil error.
func (c *MPTCPConn) MultipathTCP() (bool, error) { return c.multipathTCP() }

// MPTCPInfo returns the connection-level MPTCP state: from MPTCP_INFO on
// 5.16+, from socket diagnostics on 5.9 - 5.15 (fewer fields: see
// [Info.Has]). On a connection that is not MPTCP the error matches
// [ErrNotMPTCP]; on a kernel without either (before 5.9), or a platform
// other than Linux, it matches errors.ErrUnsupported.
func (c *MPTCPConn) MPTCPInfo() (Info, error) {
	var in Info
	err := c.info(&in)
	return in, err
}

// Subflows returns one [Subflow] per subflow of the connection, with its
// id, addresses and TCP statistics. On 6.5+ one MPTCP_FULL_INFO call reads
// them all at one instant; on 5.16 - 6.4, where subflows have no ids,
// three calls read the addresses, the statistics and the addresses
// again, repeated until both address lists agree, so that each
// subflow's statistics go with its own addresses; on 5.9 - 5.15 they
// come from socket diagnostics, which some kernels show only to
// CAP_NET_ADMIN (an error matched by os.ErrPermission). Errors are as
// for [MPTCPConn.MPTCPInfo]. The slice is new at each call, which costs an
// allocation: code that polls should reuse one with
// [MPTCPConn.AppendSubflows].
func (c *MPTCPConn) Subflows() ([]Subflow, error) {
	return c.AppendSubflows(nil)
}

// AppendSubflows is like [MPTCPConn.Subflows] but appends the subflows to
// dst and returns the extended slice. It allocates nothing when dst has
// room for them. On error it returns dst unchanged.
func (c *MPTCPConn) AppendSubflows(dst []Subflow) ([]Subflow, error) {
	return c.appendSubflows(dst, nil)
}

// Snapshot returns the connection's [Info] and appends its subflows to
// dst, both read by one MPTCP_FULL_INFO call on 6.5+, under the
// connection's lock. Info's subflow count is the path manager's, which
// the kernel updates apart from the list of subflow sockets: while a
// subflow joins or closes, Info.TotalSubflows may differ by one from the
// number of subflows appended. On 5.16 - 6.4 it takes four calls, and before
// 5.16 socket diagnostics answer, in two dumps. Errors are as
// for [MPTCPConn.MPTCPInfo].
func (c *MPTCPConn) Snapshot(dst []Subflow) (Info, []Subflow, error) {
	var in Info
	subs, err := c.appendSubflows(dst, &in)
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
//
// On kernels whose MPTCP sockets refuse splice into them (5.10 with
// MPTCP, measured: EOPNOTSUPP, which package net reports instead of
// falling back from), it copies through user space instead, so that
// io.Copy into an MPTCP connection works there too.
func (c *MPTCPConn) ReadFrom(r io.Reader) (int64, error) {
	if c.spliceRefused() {
		return io.Copy(writerOnly{c.TCPConn}, readerOnly{r})
	}
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

// writerOnly and readerOnly hide every method but Write and Read, so
// that io.Copy neither splices nor calls back into ReadFrom.
type (
	writerOnly struct{ io.Writer }
	readerOnly struct{ io.Reader }
)
