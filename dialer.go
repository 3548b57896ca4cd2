package mptcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Dialer is a drop-in replacement for [net.Dialer] that asks for MPTCP.
// Its fields have the meaning of their net.Dialer twins; the zero value
// dials like a zero net.Dialer, with MPTCP.
//
// For the networks "tcp", "tcp4" and "tcp6" it asks the kernel for an
// MPTCP socket whatever GODEBUG or the main module's go line say, and the
// connection it returns is an [*MPTCPConn]. Where MPTCP cannot be had (a
// kernel without it, net.mptcp.enabled=0, a peer or a middlebox that
// refuses it) the connection falls back to plain TCP, as with
// net.Dialer.SetMultipathTCP(true), unless RequireMPTCP is set. Other
// networks are dialed by net.Dialer unchanged.
//
// Like net.Dialer, after any failure of the MPTCP attempt (a refused port
// included) the connection is tried once more over plain TCP, unless
// RequireMPTCP is set. That
// includes a Control or ControlContext hook that fails on the MPTCP
// socket because it sets an option MPTCP sockets refuse. Measured on
// fresh MPTCP sockets (testdata/kernels), 6.1, 6.12 and 6.18 refuse
// SO_ATTACH_FILTER, IP_TTL, TCP_QUICKACK, TCP_REPAIR, TCP_SAVE_SYN,
// TCP_ULP, TCP_USER_TIMEOUT and TCP_WINDOW_CLAMP (EOPNOTSUPP or
// ENOPROTOOPT); 6.1 and 6.12 also refuse TCP_MAXSEG, and 6.1
// IP_BIND_ADDRESS_NO_PORT and TCP_NOTSENT_LOWAT; 5.10 refuses every
// IP- and TCP-level option of the list, and takes SO_ATTACH_FILTER. All
// three newer kernels take
// SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_SNDBUF, SO_RCVBUF,
// SO_PRIORITY, SO_MARK, SO_BINDTODEVICE, SO_LINGER, SO_TIMESTAMP, IP_TOS,
// IP_FREEBIND, IP_TRANSPARENT, TCP_NODELAY, TCP_CORK, TCP_KEEPIDLE,
// TCP_CONGESTION and TCP_FASTOPEN_CONNECT.
//
// One kernel bug shows through: 5.10 with MPTCP (measured; 6.1 and later
// are fine) never completes a non-blocking MPTCP connect to a port that
// refuses it. The reset reaches the subflow but not the MPTCP socket,
// which reports neither an error nor a connection, so package net cannot
// see it: its dial waits out its Timeout or context deadline, and fails
// with a timeout instead of ECONNREFUSED, or waits forever without one.
// A strict dial (RequireMPTCP) asks the subflow itself on kernels without
// SOL_MPTCP (before 5.16), connecting again while package net waits, and
// fails with the subflow's error (ECONNREFUSED) within half a second of
// it. Other dials cannot: package net retries a failed MPTCP attempt over
// plain TCP, which the port may accept (a path that refuses only MPTCP),
// and ending the MPTCP attempt early would end that retry too. Set a
// Timeout on such kernels.
//
// It is safe to call Dialer's methods concurrently.
type Dialer struct {
	// Timeout is the maximum amount of time a dial will wait for a
	// connect to complete. See net.Dialer.Timeout.
	Timeout time.Duration

	// Deadline is the absolute point in time after which dials will
	// fail. See net.Dialer.Deadline.
	Deadline time.Time

	// LocalAddr is the local address to use when dialing. See
	// net.Dialer.LocalAddr.
	LocalAddr net.Addr

	// DualStack previously enabled RFC 6555 Fast Fallback.
	//
	// Deprecated: Fast Fallback is enabled by default. To disable, set
	// FallbackDelay to a negative value.
	DualStack bool

	// FallbackDelay specifies the length of time to wait before spawning
	// an RFC 6555 Fast Fallback connection. See net.Dialer.FallbackDelay.
	FallbackDelay time.Duration

	// KeepAlive specifies the interval between keep-alive probes. See
	// net.Dialer.KeepAlive.
	KeepAlive time.Duration

	// KeepAliveConfig specifies the keep-alive probe configuration. See
	// net.Dialer.KeepAliveConfig.
	KeepAliveConfig net.KeepAliveConfig

	// Resolver optionally specifies an alternate resolver to use.
	Resolver *net.Resolver

	// Cancel is an optional channel whose closure indicates that the dial
	// should be canceled.
	//
	// Deprecated: Use DialContext instead.
	Cancel <-chan struct{}

	// Control, if not nil, is called after creating the network
	// connection but before actually dialing. See net.Dialer.Control.
	Control func(network, address string, c syscall.RawConn) error

	// ControlContext, if not nil, is called after creating the network
	// connection but before actually dialing. If ControlContext is not
	// nil, Control is ignored. See net.Dialer.ControlContext.
	ControlContext func(ctx context.Context, network, address string, c syscall.RawConn) error

	// RequireMPTCP makes TCP dials fail with an error matched by
	// errors.Is(err, ErrNotMPTCP) unless the connection uses MPTCP once
	// established. When no MPTCP socket can be created (a kernel without
	// MPTCP, net.mptcp.enabled=0, SetMultipathTCP(false), other
	// platforms) the dial fails before any packet is sent; when the peer
	// or a middlebox refuses MPTCP the connection is closed. Nothing is
	// left open either way.
	//
	// A strict dial never creates a plain TCP socket. Without
	// RequireMPTCP, as with net.Dialer, an MPTCP attempt that fails (a
	// refused port, a timeout, a cancelled context) is retried over plain
	// TCP; with it, the attempt's own failure is returned, as package net
	// reports it, and no plain SYN is sent. When Control or
	// ControlContext fails on the MPTCP socket, the dial fails before any
	// packet is sent, with an error that wraps the hook's (errors.Is and
	// errors.As find it).
	//
	// A host name is resolved by the Dialer, with Resolver, and its
	// addresses are tried as net.Dialer tries them: one deadline shared
	// among them, and for "tcp" Fast Fallback between IPv4 and IPv6
	// (FallbackDelay). A connection that is not MPTCP counts as a failed
	// address: the next one is tried. When every address fails, the
	// error is a *net.OpError whose message names each address with its
	// failure, and whose Err unwraps to every address's own *net.OpError,
	// so that errors.Is and errors.As find each cause (ErrNotMPTCP,
	// syscall.ECONNREFUSED, a timeout); its Timeout method reports
	// whether the dial's deadline passed. With a single address the
	// error is that address's, as with net.Dialer.
	//
	// The kernel too may fall back on its own. From Linux 6.12 it
	// retransmits an unanswered SYN without the MPTCP option after
	// net.mptcp.syn_retrans_before_tcp_fallback retransmissions (2 by
	// default: 3 s after the first SYN with the default timers). A strict
	// dial gives up on the address 250 ms before that, from the sysctls
	// of the dialing thread's namespace and a first SYN timeout of 1 s,
	// with an error matched by ErrNotMPTCP whose Timeout method reports
	// true; the next address, if any, is tried. Set the sysctl to 128 or
	// more for the kernel, and so the dial, to keep waiting. Beyond the
	// Dialer's reach: while the kernel's blackhole detection
	// (net.mptcp.blackhole_timeout) has turned MPTCP off, MPTCP sockets
	// connect with plain SYNs; the connection is then refused like any
	// other that is not MPTCP, but its SYN has left.
	RequireMPTCP bool

	noMPTCP bool // set by SetMultipathTCP(false)
}

// MultipathTCP reports whether the dialer asks for MPTCP: true unless
// [Dialer.SetMultipathTCP] turned it off.
func (d *Dialer) MultipathTCP() bool { return !d.noMPTCP }

// SetMultipathTCP turns the request for MPTCP on (the default) or off.
// Off, the dialer dials plain TCP but still returns *MPTCPConn values,
// which then report that they are not MPTCP.
func (d *Dialer) SetMultipathTCP(use bool) { d.noMPTCP = !use }

// Dial connects to the address on the named network. See net.Dial.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to the address on the named network using the
// provided context. See net.Dialer.DialContext. For TCP networks the
// returned net.Conn is an *MPTCPConn.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if ctx == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNilContext}
	}
	if !isTCP(network) {
		nd := d.netDialer(nil)
		return nd.DialContext(ctx, network, address)
	}
	var mc *MPTCPConn
	var err error
	if d.RequireMPTCP {
		mc, err = d.dialStrict(ctx, network, address)
	} else {
		var c net.Conn
		if c, err = d.netDialer(nil).DialContext(ctx, network, address); err == nil {
			mc, err = d.finish(c.(*net.TCPConn), network) // always, for a TCP network
		}
	}
	if err != nil {
		// A nil interface, as net.Dialer returns: not a nil *MPTCPConn
		// inside a non-nil net.Conn.
		return nil, err
	}
	return mc, nil
}

// errNilContext is a dial's answer to a nil context, where package net
// panics.
var errNilContext error = invalidError("mptcp: nil context")

// DialTCP acts like DialContext for TCP networks, with addresses given as
// netip.AddrPort. See net.Dialer.DialTCP.
func (d *Dialer) DialTCP(ctx context.Context, network string, laddr, raddr netip.AddrPort) (*MPTCPConn, error) {
	if ctx == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNilContext}
	}
	if d.RequireMPTCP {
		ctx, cancel := d.dialCtx(ctx)
		defer cancel()
		return d.dialStrictOne(ctx, network, func(ctx context.Context, nd *net.Dialer) (*net.TCPConn, error) {
			return nd.DialTCP(ctx, network, laddr, raddr)
		})
	}
	tc, err := d.netDialer(nil).DialTCP(ctx, network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return d.finish(tc, network)
}

// DialUDP is net.Dialer.DialUDP: UDP has no MPTCP.
func (d *Dialer) DialUDP(ctx context.Context, network string, laddr, raddr netip.AddrPort) (*net.UDPConn, error) {
	if ctx == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNilContext}
	}
	nd := d.netDialer(nil)
	return nd.DialUDP(ctx, network, laddr, raddr)
}

// DialIP is net.Dialer.DialIP.
func (d *Dialer) DialIP(ctx context.Context, network string, laddr, raddr netip.Addr) (*net.IPConn, error) {
	if ctx == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNilContext}
	}
	nd := d.netDialer(nil)
	return nd.DialIP(ctx, network, laddr, raddr)
}

// DialUnix is net.Dialer.DialUnix.
func (d *Dialer) DialUnix(ctx context.Context, network string, laddr, raddr *net.UnixAddr) (*net.UnixConn, error) {
	if ctx == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNilContext}
	}
	nd := d.netDialer(nil)
	return nd.DialUnix(ctx, network, laddr, raddr)
}

// finish wraps a dialed connection and enforces RequireMPTCP.
func (d *Dialer) finish(tc *net.TCPConn, network string) (*MPTCPConn, error) {
	mc := NewConn(tc)
	if !d.RequireMPTCP {
		return mc, nil
	}
	ok, err := mc.MultipathTCP()
	if err == nil && !ok {
		err = ErrNotMPTCP
	}
	if err != nil {
		laddr, raddr := tc.LocalAddr(), tc.RemoteAddr()
		tc.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Source: laddr, Addr: raddr, Err: unwrapOp(err)}
	}
	return mc, nil
}

// unwrapOp returns the error inside a *net.OpError, so that a dial error
// does not nest one OpError in another.
func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok {
		return oe.Err
	}
	return err
}

// netDialer builds the net.Dialer for one dial. A fresh one per dial keeps
// Dialer's fields free to change between dials, as net.Dialer's are.
func (d *Dialer) netDialer(st *strictDial) *net.Dialer {
	nd := &net.Dialer{
		Timeout:   d.Timeout,
		Deadline:  d.Deadline,
		LocalAddr: d.LocalAddr,
		//lint:ignore SA1019 a drop-in passes deprecated fields on unchanged
		DualStack:       d.DualStack,
		FallbackDelay:   d.FallbackDelay,
		KeepAlive:       d.KeepAlive,
		KeepAliveConfig: d.KeepAliveConfig,
		Resolver:        d.Resolver,
		//lint:ignore SA1019 a drop-in passes deprecated fields on unchanged
		Cancel:         d.Cancel,
		Control:        d.Control,
		ControlContext: d.ControlContext,
	}
	nd.SetMultipathTCP(!d.noMPTCP)
	if st != nil {
		// A plain TCP dial whose hook makes every socket MPTCP: see
		// strictDial.
		nd.SetMultipathTCP(false)
		st.off = d.noMPTCP
		st.control, st.controlContext = d.Control, d.ControlContext
		nd.Control, nd.ControlContext = nil, st.check
	}
	return nd
}

func (d *Dialer) strict() *strictDial {
	if !d.RequireMPTCP {
		return nil
	}
	return new(strictDial)
}

func isTCP(network string) bool {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return true
	}
	return false
}

// Dial connects to the address on the named network, like net.Dial, with
// MPTCP for TCP networks. See [Dialer].
func Dial(network, address string) (net.Conn, error) {
	var d Dialer
	return d.Dial(network, address)
}

// DialTimeout acts like Dial but takes a timeout, like net.DialTimeout.
func DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	d := Dialer{Timeout: timeout}
	return d.Dial(network, address)
}

// DialContext acts like Dial with a context.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d Dialer
	return d.DialContext(ctx, network, address)
}

// DialTCP acts like net.DialTCP, with MPTCP.
func DialTCP(network string, laddr, raddr *net.TCPAddr) (*MPTCPConn, error) {
	switch {
	case !isTCP(network):
		return nil, &net.OpError{Op: "dial", Net: network, Source: opAddr(laddr), Addr: opAddr(raddr), Err: net.UnknownNetworkError(network)}
	case raddr == nil:
		return nil, &net.OpError{Op: "dial", Net: network, Source: opAddr(laddr), Err: errMissingAddress}
	}
	var d Dialer
	if laddr != nil {
		d.LocalAddr = laddr
	}
	c, err := d.DialContext(context.Background(), network, raddr.String())
	if err != nil {
		return nil, err
	}
	return c.(*MPTCPConn), nil
}

var errMissingAddress = errors.New("missing address")

// opAddr avoids a non-nil net.Addr interface holding a nil pointer.
func opAddr(a *net.TCPAddr) net.Addr {
	if a == nil {
		return nil
	}
	return a
}
