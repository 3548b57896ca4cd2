//go:build linux

// Package mptcptest builds MPTCP connections across a test bed
// (internal/testbed) for the tests of packages that import package
// mptcp. It cannot live in testbed, which the root package's own tests
// import: testbed must not import mptcp.
package mptcptest

import (
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

// Connect dials l's own address from the bed's client namespace with d
// (the zero mptcp.Dialer when nil), accepts the connection, exchanges a
// byte each way, and returns both ends, closed when the test ends: see
// [ConnectTo].
func Connect(t testing.TB, b *testbed.Bed, d *mptcp.Dialer, l net.Listener) (client, server *mptcp.MPTCPConn) {
	t.Helper()
	return ConnectTo(t, b, d, l, l.Addr().(*net.TCPAddr).AddrPort().Addr().Unmap())
}

// ConnectTo is Connect dialing raddr on l's port, for a listener whose
// own address is no place to dial, such as one on [::], or for a
// connection that starts on another link. It is testbed.Connect with
// the package's types: the server end of a plain TCP listener is
// wrapped by mptcp.NewConn, so that tests of fallback ask it too.
func ConnectTo(t testing.TB, b *testbed.Bed, d *mptcp.Dialer, l net.Listener, raddr netip.Addr) (client, server *mptcp.MPTCPConn) {
	t.Helper()
	if d == nil {
		d = &mptcp.Dialer{}
	}
	c, s := testbed.Connect(t, b, d.DialContext, l, raddr)
	client = c.(*mptcp.MPTCPConn)
	if tcp, ok := s.(*net.TCPConn); ok {
		return client, mptcp.NewConn(tcp)
	}
	return client, s.(*mptcp.MPTCPConn)
}

// WaitSubflows waits up to 10 s for c to have n subflows, and returns
// them; it fails the test if c never has n. The kernel adds subflows
// after the connection is established, and removes them after their
// link fails.
func WaitSubflows(t testing.TB, c *mptcp.MPTCPConn, n int) []mptcp.Subflow {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		subs, err := c.Subflows()
		if err != nil {
			t.Fatalf("%v->%v: Subflows: %v", c.LocalAddr(), c.RemoteAddr(), err)
		}
		if len(subs) == n {
			return subs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v->%v: %d subflows after 10 s, want %d:\n%v", c.LocalAddr(), c.RemoteAddr(), len(subs), n, mptcp.SubflowTable(subs))
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
