package mptcp

import (
	"context"
	"net"
	"testing"
	"time"
)

// listenLoopback starts a Listener on 127.0.0.1 (or ::1 for "tcp6") and
// closes it when the test ends.
func listenLoopback(t testing.TB, network string) *Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	l, err := Listen(network, addr)
	if err != nil {
		t.Fatalf("Listen(%q, %q): %v", network, addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*Listener)
}

// listenStd starts a listener of package net on loopback, MPTCP or plain
// TCP whatever the go line says (net.Listen uses MPTCP by default since
// Go 1.24), and closes it when the test ends.
func listenStd(t testing.TB, network string, mptcp bool) *net.TCPListener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(mptcp)
	l, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		t.Fatalf("net.ListenConfig.Listen(%q, %q): %v", network, addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

// listenPlainTCP starts a listener that is plain TCP.
func listenPlainTCP(t testing.TB, network string) *net.TCPListener {
	t.Helper()
	return listenStd(t, network, false)
}

// acceptAll accepts l's connections into the returned channel, which
// holds four, until l is closed; then it closes the channel.
func acceptAll(l net.Listener) <-chan net.Conn {
	accepted := make(chan net.Conn, 4)
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return accepted
}

// contextDialer is a dialer of this package or of package net.
type contextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// dialAccept dials l with d and returns both ends; both are closed when
// the test ends.
func dialAccept(t testing.TB, d contextDialer, network string, l net.Listener) (client net.Conn, server net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		accepted <- result{c, err}
	}()
	client, err := d.DialContext(ctx, network, l.Addr().String())
	if err != nil {
		t.Fatalf("dial %v: %v", l.Addr(), err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case r := <-accepted:
		if r.err != nil {
			t.Fatalf("accept: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return client, r.c
	case <-ctx.Done():
		t.Fatal("accept timed out")
	}
	return nil, nil
}

// mptcpPair returns an MPTCP client and server connected over loopback.
func mptcpPair(t testing.TB, network string) (client, server *MPTCPConn) {
	t.Helper()
	l := listenLoopback(t, network)
	c, s := dialAccept(t, &Dialer{}, network, l)
	return c.(*MPTCPConn), s.(*MPTCPConn)
}
