package mptcp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testbed"
)

// Benchmarks over the two links of a test bed (internal/testbed): they
// need root and network namespaces, and skip without them (or fail
// under MPTCP_TEST_REQUIRE_ENV).

// twoPathsRate is the rate of each shaped link of BenchmarkTwoPaths, in
// bit/s, and twoPathsQdisc the tc specification that sets it.
const (
	twoPathsRate  = 20e6
	twoPathsQdisc = "tbf rate 20mbit burst 32kbit latency 50ms"
	// twoPathsChunk is the operation of BenchmarkTwoPaths: 64 KiB
	// written and read, 26 ms at 20 Mbit/s.
	twoPathsChunk = 64 << 10
)

// waitBenchSubflows polls c until it has n subflows, for at most 10 s.
func waitBenchSubflows(tb testing.TB, c *MPTCPConn, n int) {
	tb.Helper()
	dst := make([]Subflow, 0, initialSubflows)
	for deadline := time.Now().Add(10 * time.Second); ; {
		subs, err := c.AppendSubflows(dst[:0])
		if err != nil {
			tb.Fatalf("Subflows: %v", err)
		}
		if len(subs) == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d subflows after 10s, want %d:\n%v", len(subs), n, SubflowTable(subs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bedListen returns a function that listens on every address of the
// server namespace, with the package (mptcp) or with package net asking
// for plain TCP.
func bedListen(mptcp bool) func() (net.Listener, error) {
	return func() (net.Listener, error) {
		if mptcp {
			return Listen("tcp4", ":0")
		}
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		return lc.Listen(context.Background(), "tcp4", ":0")
	}
}

// twoSubflowConn returns the client end of an MPTCP connection with two
// subflows, one per link of a new test bed: the second comes from a
// "subflow" endpoint on the client's second link.
func twoSubflowConn(b *testing.B) *MPTCPConn {
	b.Helper()
	requireMPTCP(b)
	bed := testbed.New(b, 2)
	bed.Endpoint(bed.Client, bed.Links[1].Client, "subflow")
	l := bed.Server.Listen(bedListen(true))
	c, _ := testbed.Connect(b, bed, (&Dialer{}).DialContext, l, bed.Links[0].Server)
	mc := c.(*MPTCPConn)
	waitBenchSubflows(b, mc, 2)
	return mc
}

// twoPathsWarmup is how long BenchmarkTwoPaths streams before the
// clock starts: long enough for the windows of both subflows to open.
const twoPathsWarmup = 2 * time.Second

// Row 6. Two links shaped to 20 Mbit/s each: the rate of one MPTCP
// connection of the package, with a subflow on each link, against one
// plain TCP connection of package net on the first link, to a plain TCP
// listener. The client writes without pause; after a warm-up of 2 s, the
// server reads 64 KiB per operation. The connections of the two sides
// never run at the same time. The sum of the link rates is reported as
// links-MB/s.
func BenchmarkTwoPaths(b *testing.B) {
	requireMPTCP(b)
	bed := testbed.New(b, 2)
	for i := range bed.Links {
		bed.Shape(i, twoPathsQdisc)
	}
	bed.Endpoint(bed.Client, bed.Links[1].Client, "subflow")
	ml := bed.Server.Listen(bedListen(true))
	pl := bed.Server.Listen(bedListen(false))
	server := bed.Links[0].Server
	links := float64(len(bed.Links)) * twoPathsRate / 8 / 1e6
	stream := func(b *testing.B, c, s net.Conn) {
		s.SetReadDeadline(time.Now().Add(streamDeadline))
		stop := startWriter(c, twoPathsChunk)
		defer stop()
		warmUp(b, s, twoPathsChunk, twoPathsWarmup)
		readStream(b, s, twoPathsChunk, false)
		b.ReportMetric(links, "links-MB/s")
	}
	sideBySideOnce(b,
		side{"tcp", func(b *testing.B) {
			var d net.Dialer
			d.SetMultipathTCP(false)
			c, s := testbed.Connect(b, bed, d.DialContext, pl, server)
			if ok, err := c.(*net.TCPConn).MultipathTCP(); ok || err != nil {
				b.Fatalf("the plain TCP connection reports MultipathTCP %v, %v", ok, err)
			}
			stream(b, c, s)
		}},
		side{"mptcp", func(b *testing.B) {
			c, s := testbed.Connect(b, bed, (&Dialer{}).DialContext, ml, server)
			waitBenchSubflows(b, c.(*MPTCPConn), 2)
			stream(b, c, s)
		}},
	)
}
