//go:build linux

// Package mptcptest builds MPTCP connections across a test bed
// (internal/testbed) for the tests of packages that import package
// mptcp. It cannot live in testbed, which the root package's own tests
// import: testbed must not import mptcp.
package mptcptest

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// Listen starts an MPTCP listener inside the bed's server namespace, on
// addr with a port the kernel chooses; it is closed when the test ends.
func Listen(t testing.TB, b *testbed.Bed, network string, addr netip.Addr) net.Listener {
	t.Helper()
	return b.Server.Listen(func() (net.Listener, error) {
		return mptcp.Listen(network, netip.AddrPortFrom(addr, 0).String())
	})
}

// Connect dials l from the bed's client namespace with d (the zero
// mptcp.Dialer when nil), accepts the connection, exchanges a byte each
// way (testbed.PingPong), and returns both ends, closed when the test
// ends. Each step has 10 s.
func Connect(t testing.TB, b *testbed.Bed, d *mptcp.Dialer, l net.Listener) (client, server *mptcp.MPTCPConn) {
	t.Helper()
	return ConnectTo(t, b, d, l, l.Addr().Network(), l.Addr().String())
}

// ConnectTo is Connect dialing network and address, for a listener
// whose own address is no place to dial, such as a dual-stack one on
// [::].
func ConnectTo(t testing.TB, b *testbed.Bed, d *mptcp.Dialer, l net.Listener, network, address string) (client, server *mptcp.MPTCPConn) {
	t.Helper()
	if d == nil {
		d = &mptcp.Dialer{}
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.Client.Dialer(d.DialContext)(ctx, network, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var s net.Conn
	select {
	case s = <-accepted:
		t.Cleanup(func() { s.Close() })
	case <-ctx.Done():
		t.Fatal("accept timed out")
	}
	testbed.PingPong(t, c, s)
	return c.(*mptcp.MPTCPConn), s.(*mptcp.MPTCPConn)
}

// WaitSubflows waits up to 10 s for c to have n subflows, and fails the
// test if it never does.
func WaitSubflows(t testing.TB, c *mptcp.MPTCPConn, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		subs, err := c.Subflows()
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subflows after 10 s, want %d: %v", len(subs), n, subs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TwoPaths builds a two-link test bed with a subflow endpoint on the
// client's second link, and returns an MPTCP connection across it with
// its second subflow up.
func TwoPaths(t testing.TB) (b *testbed.Bed, client, server *mptcp.MPTCPConn) {
	t.Helper()
	b = testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	client, server = Connect(t, b, nil, Listen(t, b, "tcp4", b.Links[0].Server))
	WaitSubflows(t, client, 2)
	return b, client, server
}
