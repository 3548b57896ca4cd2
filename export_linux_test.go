package mptcp

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/multipath-go/mptcp/internal/testbed"
)

// What the external test package (mptcp_test) borrows from this one:
// the benchmarks of rows 8 and 9 use package diag, which imports mptcp
// and so cannot be imported by the tests of package mptcp itself; the
// external test files are part of the same test binary, and reach the
// helpers below.

// MaxIdleConns is how many connections an IdleConns holds at most: the
// count the server process of BenchmarkIdleConns accepts.
const MaxIdleConns = idleConns

// IdleConns holds idle loopback MPTCP connections made by the package's
// Dialer inside a network namespace, whose server ends live in a second
// process in the same namespace, as those of BenchmarkIdleConns do
// (TestIdleConnsPeer, with the package's Listener): 10,000 connections
// have 20,000 ends, more descriptors than one process may have here.
type IdleConns struct {
	b     *testing.B
	ns    *testbed.NS
	peer  *idlePeer
	conns []net.Conn
}

// StartIdleConns starts the server process inside ns, checks that a
// first connection to it is MPTCP, and returns an IdleConns that holds
// none yet. It skips where BenchmarkIdleConns does (no MPTCP, too few
// descriptors). Everything is closed when the benchmark ends.
func StartIdleConns(b *testing.B, ns *testbed.NS) *IdleConns {
	b.Helper()
	requireMPTCP(b)
	needNoFile(b, idleConns+500)
	ic := &IdleConns{b: b, ns: ns, conns: make([]net.Conn, 0, idleConns)}
	ic.peer = startIdlePeerIn(b, "mptcp", ns)
	// Registered after the peer's cleanup, so run before it: the client
	// ends close first, as in BenchmarkIdleConns.
	b.Cleanup(func() {
		for _, c := range ic.conns {
			c.Close()
		}
	})
	var first net.Conn
	if err := ic.dial(1, func(c net.Conn) { first = c }); err != nil {
		b.Fatal(err)
	}
	ok, err := first.(*MPTCPConn).MultipathTCP()
	first.Close()
	if !ok || err != nil {
		b.Fatalf("the connection is not MPTCP: %v, %v", ok, err)
	}
	ic.peer.expect("ready")
	return ic
}

// dial makes n connections to the server process, from one thread inside
// the namespace, and gives each to keep.
func (ic *IdleConns) dial(n int, keep func(net.Conn)) error {
	ctx, cancel := context.WithTimeout(context.Background(), idleWait)
	defer cancel()
	var d Dialer
	return ic.ns.Do(func() error {
		for i := range n {
			c, err := d.DialContext(ctx, "tcp4", ic.peer.addr)
			if err != nil {
				return fmt.Errorf("dial, after %d connections: %v", i, err)
			}
			keep(c)
		}
		return nil
	})
}

// Grow dials until n connections are open, n at most MaxIdleConns. Once
// it returns, the kernel holds both ends of each: the server's is made
// when the handshake completes, accepted or not.
func (ic *IdleConns) Grow(n int) {
	ic.b.Helper()
	if n > idleConns {
		ic.b.Fatalf("%d connections: the server process accepts %d", n, idleConns)
	}
	if err := ic.dial(n-len(ic.conns), func(c net.Conn) { ic.conns = append(ic.conns, c) }); err != nil {
		ic.b.Fatal(err)
	}
}

// Accepted waits until the server process has accepted MaxIdleConns
// connections: call it after Grow(MaxIdleConns).
func (ic *IdleConns) Accepted() {
	ic.b.Helper()
	ic.peer.expect("heap")
}

// Side is one sub-benchmark of SideBySide.
type Side struct {
	Name string
	F    func(b *testing.B)
}

// SideBySide runs the sides as sideBySide does: A B B A, or B A A B
// when MPTCP_BENCH_ORDER says so, the second run of a side named
// NAME#01.
func SideBySide(b *testing.B, sides ...Side) {
	b.Helper()
	s := make([]side, len(sides))
	for i, x := range sides {
		s[i] = side{x.Name, x.F}
	}
	sideBySide(b, s...)
}
