//go:build linux

package testbed

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// Connect dials raddr, on l's port, from the bed's client namespace with
// dial, accepts the connection on l, exchanges a byte each way
// ([PingPong]) and returns both ends, closed when the test ends. Each
// step has 10 s. It is the one way the tests make a connection across a
// bed; mptcptest.Connect gives the same ends as *mptcp.MPTCPConn.
func Connect(t testing.TB, b *Bed, dial DialFunc, l net.Listener, raddr netip.Addr) (client, server net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	port := l.Addr().(*net.TCPAddr).Port
	c, err := b.Client.Dialer(dial)(ctx, "tcp", netip.AddrPortFrom(raddr, uint16(port)).String())
	if err != nil {
		t.Fatalf("testbed: dial %v: %v", raddr, err)
	}
	t.Cleanup(func() { c.Close() })
	var s net.Conn
	select {
	case s = <-accepted:
		if s == nil {
			t.Fatal("testbed: accept failed")
		}
	case <-ctx.Done():
		t.Fatal("testbed: accept timed out")
	}
	t.Cleanup(func() { s.Close() })
	PingPong(t, c, s)
	return c, s
}
