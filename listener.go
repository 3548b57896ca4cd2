package mptcp

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"
)

// ListenConfig is a drop-in replacement for [net.ListenConfig] that asks
// for MPTCP listening sockets. Its fields have the meaning of their
// net.ListenConfig twins.
//
// For the networks "tcp", "tcp4" and "tcp6" it creates an MPTCP listening
// socket whatever GODEBUG or the main module's go line say, falling back
// to a TCP socket where the kernel cannot create one (as
// net.ListenConfig.SetMultipathTCP(true) does), and returns a [*Listener].
// An MPTCP listener also accepts plain TCP clients. Other networks are
// passed to net.ListenConfig unchanged.
type ListenConfig struct {
	// Control, if not nil, is called after creating the network
	// connection but before binding it. See net.ListenConfig.Control.
	Control func(network, address string, c syscall.RawConn) error

	// KeepAlive specifies the keep-alive period for accepted
	// connections. See net.ListenConfig.KeepAlive.
	KeepAlive time.Duration

	// KeepAliveConfig specifies the keep-alive probe configuration for
	// accepted connections. See net.ListenConfig.KeepAliveConfig.
	KeepAliveConfig net.KeepAliveConfig

	noMPTCP bool // set by SetMultipathTCP(false)
}

// MultipathTCP reports whether the config asks for MPTCP: true unless
// [ListenConfig.SetMultipathTCP] turned it off.
func (lc *ListenConfig) MultipathTCP() bool { return !lc.noMPTCP }

// SetMultipathTCP turns the request for MPTCP on (the default) or off.
func (lc *ListenConfig) SetMultipathTCP(use bool) { lc.noMPTCP = !use }

// Listen announces on the local network address. For TCP networks the
// returned net.Listener is a *Listener. See net.ListenConfig.Listen.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	nlc := lc.netListenConfig()
	l, err := nlc.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if tl, ok := l.(*net.TCPListener); ok {
		return &Listener{TCPListener: tl}, nil
	}
	return l, nil
}

// ListenPacket is net.ListenConfig.ListenPacket: packet networks have no
// MPTCP.
func (lc *ListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	nlc := lc.netListenConfig()
	return nlc.ListenPacket(ctx, network, address)
}

func (lc *ListenConfig) netListenConfig() *net.ListenConfig {
	nlc := &net.ListenConfig{Control: lc.Control, KeepAlive: lc.KeepAlive, KeepAliveConfig: lc.KeepAliveConfig}
	nlc.SetMultipathTCP(!lc.noMPTCP)
	return nlc
}

// Listen announces on the local network address, like net.Listen, with an
// MPTCP socket for TCP networks. See [ListenConfig].
func Listen(network, address string) (net.Listener, error) {
	var lc ListenConfig
	return lc.Listen(context.Background(), network, address)
}

// ListenTCP acts like net.ListenTCP, with an MPTCP socket.
func ListenTCP(network string, laddr *net.TCPAddr) (*Listener, error) {
	if !isTCP(network) {
		return nil, &net.OpError{Op: "listen", Net: network, Source: nil, Addr: opAddr(laddr), Err: net.UnknownNetworkError(network)}
	}
	address := ""
	if laddr != nil {
		address = laddr.String()
	}
	var lc ListenConfig
	l, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return nil, err
	}
	return l.(*Listener), nil
}

// Listener is a TCP listener whose Accept, AcceptTCP and AcceptMPTCP
// return [*MPTCPConn] values. It embeds the *net.TCPListener it wraps, so
// Close, SetDeadline, File and SyscallConn are that listener's; its
// AcceptTCP is not promoted (see [Listener.AcceptTCP]).
type Listener struct {
	*net.TCPListener
}

var _ net.Listener = (*Listener)(nil)

// Addr returns the listener's network address, or nil when it holds no
// listener (a zero or nil Listener), where the embedded method would
// panic.
func (l *Listener) Addr() net.Addr {
	if l == nil || l.TCPListener == nil {
		return nil
	}
	return l.TCPListener.Addr()
}

// NewListener wraps a TCP listener made elsewhere: one from net.Listen,
// or one built from an inherited file descriptor (socket activation)
// with net.FileListener. Whether its connections can be MPTCP depends on
// how its socket was created; see [Listener.MultipathTCP].
//
// l must be a *net.TCPListener or a *Listener (returned as is).
//
// Its errors are *net.OpError values (Op "newlistener"). A nil listener,
// of either type, or a Listener that holds none, is an error matched by
// os.ErrInvalid.
func NewListener(l net.Listener) (*Listener, error) {
	switch v := l.(type) {
	case *Listener:
		if v == nil || v.TCPListener == nil {
			return nil, newListenerError(errNilListener)
		}
		return v, nil
	case *net.TCPListener:
		if v == nil {
			return nil, newListenerError(errNilListener)
		}
		return &Listener{TCPListener: v}, nil
	case nil:
		return nil, newListenerError(errNilListener)
	}
	return nil, newListenerError(fmt.Errorf("mptcp: %T is not a *net.TCPListener", l))
}

var errNilListener error = invalidError("mptcp: nil listener")

func newListenerError(err error) error {
	return &net.OpError{Op: "newlistener", Net: "tcp", Err: err}
}

// Accept waits for and returns the next connection, an *MPTCPConn.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptMPTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptMPTCP waits for and returns the next connection as an *MPTCPConn.
// It is MPTCP if the client asked for MPTCP and the listening socket is
// an MPTCP socket; otherwise it is plain TCP.
func (l *Listener) AcceptMPTCP() (*MPTCPConn, error) {
	if l == nil || l.TCPListener == nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: errNoListener}
	}
	tc, err := l.TCPListener.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return NewConn(tc), nil
}

// AcceptTCP is [Listener.AcceptMPTCP]. It takes the place of the
// embedded *net.TCPListener's AcceptTCP, which would hand out a
// *net.TCPConn without the MPTCP methods, and so differs from it in its
// result's type: an *MPTCPConn, which embeds that *net.TCPConn (its
// TCPConn field) and has every method of it. Code that needs the bare
// form calls l.TCPListener.AcceptTCP.
func (l *Listener) AcceptTCP() (*MPTCPConn, error) { return l.AcceptMPTCP() }

// MultipathTCP reports whether the listening socket is an MPTCP socket,
// which accepts MPTCP clients (and plain TCP ones). It is false for a
// listener that fell back to TCP when it was created, and on platforms
// other than Linux.
func (l *Listener) MultipathTCP() (bool, error) {
	const op = "multipathtcp"
	if l == nil || l.TCPListener == nil {
		return false, &net.OpError{Op: op, Net: "tcp", Err: errNoListener}
	}
	rc, err := l.SyscallConn()
	if err == nil {
		var ok bool
		if ok, err = isMPTCPSocket(rc); err == nil {
			return ok, nil
		}
	}
	return false, &net.OpError{Op: op, Net: l.Addr().Network(), Source: nil, Addr: l.Addr(), Err: sockoptErr(err)}
}
