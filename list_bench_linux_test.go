package mptcp_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/collector"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// Rows 8 and 9: listing a namespace's MPTCP connections with package
// diag.
//
// Both benchmarks hold loopback MPTCP connections made by the package
// (mptcp.IdleConns), their client ends in this process and their server
// ends in a second one (the server process of BenchmarkIdleConns), all
// in a network namespace of their own: the client namespace of a
// one-link test bed, made for the benchmark and deleted after it. So a
// listing sees these connections alone, two MPTCP sockets each and a TCP
// subflow under each socket, whatever else runs on the machine and
// whatever earlier benchmarks left (the TIME-WAIT sockets of rows 3 and
// 7 last a minute). The connections are made once per benchmark,
// outside the measurements.

// listNS makes the benchmarks' namespace, or skips without root or
// iproute2.
func listNS(b *testing.B) *testbed.NS {
	return testbed.New(b, 1).Client
}

// Row 8: the time to list 10,000 connections (20,000 MPTCP sockets)
// with their subflows, every connection and subflow decoded into Go
// values (a loop over diag.Conn.Connections with Filter.Subflows, on a
// diag.Conn dialed for the listing), against "ss -Mni" then "ss -tni",
// started inside the namespace with their output to /dev/null: ss prints
// the same sockets from the same socket-diagnostics dumps, its -i giving
// each connection's mptcp_info and each subflow's tcp_info and MPTCP ULP
// information. The loop keeps nothing, as ss keeps nothing of what it
// prints.
func BenchmarkListConns(b *testing.B) {
	ss, err := exec.LookPath("ss")
	if err != nil {
		testenv.SkipOrFail(b, "no ss (iproute2) to compare with: %v", err)
	}
	ns := listNS(b)
	ic := mptcp.StartIdleConns(b, ns)
	ic.Grow(mptcp.MaxIdleConns)
	ic.Accepted()
	want := 2 * mptcp.MaxIdleConns
	// ss must see every end too: count its lines once (-H: no header;
	// without -i, one line a socket).
	for _, args := range []string{"-HMn", "-Htn"} {
		var out []byte
		err := ns.Do(func() (err error) {
			out, err = exec.Command(ss, args).Output()
			return err
		})
		if err != nil {
			b.Fatalf("ss %s: %v", args, err)
		}
		if n := bytes.Count(out, []byte("\n")); n < want {
			b.Fatalf("ss %s listed %d sockets, want %d or more", args, n, want)
		}
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	cfg := &diag.Config{NetNS: ns.Path()}
	mptcp.SideBySide(b,
		mptcp.Side{Name: "ss", F: func(b *testing.B) {
			for b.Loop() {
				for _, args := range []string{"-Mni", "-tni"} {
					cmd := exec.Command(ss, args)
					var stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = devNull, &stderr
					if err := ns.Do(cmd.Run); err != nil {
						b.Fatalf("ss %s: %v: %s", args, err, stderr.Bytes())
					}
				}
			}
		}},
		mptcp.Side{Name: "diag", F: func(b *testing.B) {
			b.ReportAllocs()
			filter := &diag.Filter{Subflows: true}
			var conns, subflows int
			for b.Loop() {
				c, err := diag.Dial(cfg)
				if err != nil {
					b.Fatal(err)
				}
				conns, subflows = 0, 0
				for conn, err := range c.Connections(filter) {
					if err != nil {
						b.Fatal(err)
					}
					conns++
					subflows += len(conn.Subflows)
				}
				c.Close()
			}
			if conns < want || subflows < want {
				b.Fatalf("listed %d connections and %d subflows, want %d or more of each", conns, subflows, want)
			}
		}},
	)
}

// Row 9: the memory of the streaming form. The growth of the Go heap
// (its objects, live or not yet swept) at its highest while a loop over
// diag.Conn.Connections, without subflows, reads every connection: over
// 1,000 connections (2,000 sockets) and over 10,000 (20,000), the second
// made by adding 9,000 to the first. Each iteration collects first, then
// reads the heap before the loop, every 100 connections inside it and
// once after it; the sub-benchmark reports the highest growth over its
// iterations as peak-B. A listing that streams grows no more over 10,000
// than over 1,000; one that kept, or left as garbage, something per
// connection would grow ten times as much. (With Filter.Subflows the
// subflows are gathered first, in memory that grows with their number,
// as package diag's doc says: not measured here.)
func BenchmarkListHeap(b *testing.B) {
	ns := listNS(b)
	ic := mptcp.StartIdleConns(b, ns)
	for _, n := range []int{1000, mptcp.MaxIdleConns} {
		ic.Grow(n)
		if n == mptcp.MaxIdleConns {
			ic.Accepted()
		}
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) { listHeap(b, ns, 2*n) })
	}
}

// heapObjects is the runtime metric listHeap samples.
const heapObjects = "/memory/classes/heap/objects:bytes"

// listSink keeps listHeap's use of the connections.
var listSink uint32

func listHeap(b *testing.B, ns *testbed.NS, want int) {
	c, err := diag.Dial(&diag.Config{NetNS: ns.Path()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sample := []metrics.Sample{{Name: heapObjects}}
	if metrics.Read(sample); sample[0].Value.Kind() != metrics.KindUint64 {
		b.Fatalf("runtime/metrics has no %s", heapObjects)
	}
	heap := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var peak uint64
	seen := 0
	filter := &diag.Filter{}
	for b.Loop() {
		runtime.GC()
		before := heap()
		top := before
		n := 0
		var tokens uint32 // uses each connection, so that none is optimized away
		for conn, err := range c.Connections(filter) {
			if err != nil {
				b.Fatal(err)
			}
			tokens ^= conn.Info.Token
			if n++; n%100 == 0 {
				top = max(top, heap())
			}
		}
		top = max(top, heap())
		peak = max(peak, top-before)
		seen = n
		listSink = tokens
	}
	if seen < want {
		b.Fatalf("listed %d connections, want %d or more", seen, want)
	}
	b.ReportMetric(float64(peak), "peak-B")
}

// Rows 10 and 11: a Prometheus scrape of package collector, on the same
// connections as rows 8 and 9.

// scrapeRegistry returns a registry holding only a collector of ns.
func scrapeRegistry(b *testing.B, ns *testbed.NS) *prometheus.Registry {
	c, err := collector.New(&collector.Config{NetNS: ns.Path()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return reg
}

// scrapedConns returns the MPTCP sockets a scrape counted (the sum of
// mptcp_connections over the states), and fails b if a part of the
// scrape failed: a failed listing would be quick, and the ratio a lie.
func scrapedConns(b *testing.B, reg prometheus.Gatherer) int {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "mptcp_connections":
			for _, m := range mf.GetMetric() {
				n += int(m.GetGauge().GetValue())
			}
		case "mptcp_scrape_collector_success":
			for _, m := range mf.GetMetric() {
				if m.GetGauge().GetValue() != 1 {
					b.Fatalf("the scrape's part %s failed", m.GetLabel()[0].GetValue())
				}
			}
		}
	}
	return n
}

// Row 10: the time of a scrape (registry.Gather of a registry holding
// only a collector of the namespace) with 10,000 connections open
// (20,000 MPTCP sockets), against the listing it makes: a loop over
// diag.Conn.Connections without subflows, on a diag.Conn dialed for it,
// that decodes each connection and sums what the collector sums (by
// state, fallbacks, subflows, bytes). The scrape adds the kernel
// counters, the path manager, the sysctl, entering the namespace for
// each, and the metrics' encoding into client_golang's values: its goal
// is at most twice the listing.
func BenchmarkScrape(b *testing.B) {
	ns := listNS(b)
	ic := mptcp.StartIdleConns(b, ns)
	ic.Grow(mptcp.MaxIdleConns)
	ic.Accepted()
	want := 2 * mptcp.MaxIdleConns
	reg := scrapeRegistry(b, ns)
	cfg := &diag.Config{NetNS: ns.Path()}
	mptcp.SideBySide(b,
		mptcp.Side{Name: "list", F: func(b *testing.B) {
			b.ReportAllocs()
			var conns int
			for b.Loop() {
				c, err := diag.Dial(cfg)
				if err != nil {
					b.Fatal(err)
				}
				var byState [256]uint64
				var fallback, subflows, bytes uint64
				conns = 0
				for conn, err := range c.Connections(nil) {
					if err != nil {
						b.Fatal(err)
					}
					conns++
					byState[conn.State]++
					if conn.FellBack() {
						fallback++
					}
					subflows += uint64(conn.Info.TotalSubflows())
					bytes += conn.Info.BytesSent + conn.Info.BytesReceived + conn.Info.BytesRetrans
				}
				c.Close()
				listSink = uint32(byState[mptcp.StateEstablished] + fallback + subflows + bytes)
			}
			if conns < want {
				b.Fatalf("listed %d connections, want %d or more", conns, want)
			}
		}},
		mptcp.Side{Name: "scrape", F: func(b *testing.B) {
			b.ReportAllocs()
			var conns int
			for b.Loop() {
				conns = scrapedConns(b, reg)
			}
			if conns < want {
				b.Fatalf("the scrape counted %d connections, want %d or more", conns, want)
			}
		}},
	)
}

// Row 11: the memory of a scrape. The growth of the Go heap (its
// objects, live or not yet swept) at its highest during a Gather of a
// registry holding only the collector: over 1,000 connections (2,000
// sockets) and over 10,000 (20,000), the second made by adding 9,000 to
// the first. Gather gives no hook inside its work, so a goroutine of the
// benchmark samples the heap every 50 µs while it runs (a Gather of
// 20,000 sockets takes tens of milliseconds: hundreds of samples), after
// a collection and before the Gather; the sub-benchmark reports the
// highest growth over its iterations as peak-B. The heap's objects
// metric only grows between collections, so the samples miss little of
// the peak. A scrape that streams the listing grows no more over 10,000
// than over 1,000.
func BenchmarkScrapeHeap(b *testing.B) {
	ns := listNS(b)
	ic := mptcp.StartIdleConns(b, ns)
	reg := scrapeRegistry(b, ns)
	for _, n := range []int{1000, mptcp.MaxIdleConns} {
		ic.Grow(n)
		if n == mptcp.MaxIdleConns {
			ic.Accepted()
		}
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) { scrapeHeap(b, reg, 2*n) })
	}
}

func scrapeHeap(b *testing.B, reg prometheus.Gatherer, want int) {
	sample := []metrics.Sample{{Name: heapObjects}}
	if metrics.Read(sample); sample[0].Value.Kind() != metrics.KindUint64 {
		b.Fatalf("runtime/metrics has no %s", heapObjects)
	}
	heap := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var peak uint64
	seen := 0
	for b.Loop() {
		runtime.GC()
		before := heap()
		done := make(chan struct{})
		var top uint64
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(50 * time.Microsecond)
			defer t.Stop()
			top = heap()
			for {
				select {
				case <-done:
					top = max(top, heap())
					return
				case <-t.C:
					top = max(top, heap())
				}
			}
		})
		seen = scrapedConns(b, reg)
		close(done)
		wg.Wait()
		peak = max(peak, top-min(top, before))
	}
	if seen < want {
		b.Fatalf("the scrape counted %d connections, want %d or more", seen, want)
	}
	b.ReportMetric(float64(peak), "peak-B")
}
