package mptcp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testbed"
)

// skipOrFail skips the test because the machine lacks something it needs,
// or fails it when testbed.RequireEnv is set, as .ci/run does.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	testbed.SkipOrFail(t, format, args...)
}

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

// listenPlainTCP starts a listener that is plain TCP whatever the go line
// says (net.Listen uses MPTCP by default since Go 1.24).
func listenPlainTCP(t testing.TB, network string) *net.TCPListener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		t.Fatalf("plain Listen(%q, %q): %v", network, addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

// dialAccept dials l with d and returns both ends; both are closed when
// the test ends.
func dialAccept(t testing.TB, d *Dialer, network string, l net.Listener) (client net.Conn, server net.Conn) {
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
