//go:build linux

package mptcp

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The benchmarks below compare the package with the standard library, or
// with the system call it cannot avoid, in the same process and the same
// run: each parent benchmark has a baseline sub-benchmark ("stdlib",
// "floor" or "tcp") next to the package's ("mptcp", or the method's
// name). go run ./internal/cmd/benchcmp runs them several times and
// prints the ratios against the goals of BENCHMARKS.md.
//
// Every benchmark works with -benchtime=1x, which CI uses, and skips (or
// fails under MPTCP_TEST_REQUIRE_ENV) where the machine lacks MPTCP, root
// or network namespaces.

// benchOrderEnv, set to "reverse", makes every side-by-side benchmark
// start with its package sub-benchmark rather than its baseline.
// benchcmp alternates the order between runs.
const benchOrderEnv = "MPTCP_BENCH_ORDER"

// benchRoundsEnv, set to a number N, makes sideBySide measure each side
// 2N times rather than twice: A B B A, N times over. benchcmp sets it for
// the micro-benchmarks, whose least time per operation it takes.
const benchRoundsEnv = "MPTCP_BENCH_ROUNDS"

// side is one sub-benchmark of a side-by-side comparison.
type side struct {
	name string
	f    func(b *testing.B)
}

// sideBySide runs each side twice, in the order given and then in the
// reverse order (A B B A; B A A B when benchOrderEnv says so), so that
// whatever favours an earlier or a later measurement in a run (a drift
// of the machine, a heap or caches left by the previous one) favours
// every side alike; benchRoundsEnv repeats that. The second run of a side
// is named NAME#01, the third NAME#02 and so on; benchcmp takes the least
// of their times per operation, or the mean of their rates.
func sideBySide(b *testing.B, sides ...side) {
	b.Helper()
	runSides(b, sides, true)
}

// sideBySideOnce runs each side once, in the order given or reversed:
// for the benchmarks that take seconds and vary little.
func sideBySideOnce(b *testing.B, sides ...side) {
	b.Helper()
	runSides(b, sides, false)
}

func runSides(b *testing.B, sides []side, twice bool) {
	b.Helper()
	order := slices.Clone(sides)
	if os.Getenv(benchOrderEnv) == "reverse" {
		slices.Reverse(order)
	}
	if twice {
		rounds := 1
		if v := os.Getenv(benchRoundsEnv); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				b.Fatalf("%s=%q: want a count of rounds, 1 or more", benchRoundsEnv, v)
			}
			rounds = n
		}
		back := slices.Clone(order)
		slices.Reverse(back)
		round := slices.Concat(order, back)
		order = nil
		for range rounds {
			order = append(order, round...)
		}
	}
	for _, s := range order {
		b.Run(s.name, s.f)
	}
}

// stdPair returns both ends of a loopback connection whose sockets are
// MPTCP, made by package net alone: plain *net.TCPConn, the standard
// library's way to use MPTCP. Both are closed when the benchmark ends.
func stdPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	l := listenStd(tb, "tcp4", true)
	var d net.Dialer
	d.SetMultipathTCP(true)
	c, err := d.Dial("tcp4", l.Addr().String())
	if err != nil {
		tb.Fatalf("net.Dialer.Dial: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	s, err := l.Accept()
	if err != nil {
		tb.Fatalf("accept: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	client, server = c.(*net.TCPConn), s.(*net.TCPConn)
	if ok, err := client.MultipathTCP(); !ok || err != nil {
		tb.Fatalf("the standard library's connection is not MPTCP: %v, %v", ok, err)
	}
	return client, server
}

// benchPair returns both ends of an MPTCP loopback connection made by
// the package, checked to be MPTCP.
func benchPair(tb testing.TB) (client, server *MPTCPConn) {
	tb.Helper()
	requireMPTCP(tb)
	client, server = mptcpPair(tb, "tcp4")
	if ok, err := client.MultipathTCP(); !ok || err != nil {
		tb.Fatalf("the package's connection is not MPTCP: %v, %v", ok, err)
	}
	return client, server
}

// Row 1. MultipathTCP on one MPTCP connection: the package's method
// against the standard library's, which the *MPTCPConn embeds.
func BenchmarkMultipathTCP(b *testing.B) {
	client, _ := benchPair(b)
	warm(func() { client.TCPConn.MultipathTCP() }, func() { client.MultipathTCP() })
	sideBySide(b,
		side{"stdlib", func(b *testing.B) {
			b.ReportAllocs()
			tc := client.TCPConn
			for b.Loop() {
				if ok, err := tc.MultipathTCP(); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		}},
		side{"mptcp", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := client.MultipathTCP(); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		}},
	)
	b.Run("paired", func(b *testing.B) {
		multipath := func(c interface{ MultipathTCP() (bool, error) }) func() error {
			return func() error {
				if ok, err := c.MultipathTCP(); !ok || err != nil {
					return fmt.Errorf("MultipathTCP = %v, %v", ok, err)
				}
				return nil
			}
		}
		paired(b, [2]string{"stdlib", "mptcp"}, [2]func() error{multipath(client.TCPConn), multipath(client)})
	})
}

// warmTime is how long warm runs each side of a micro-benchmark before
// the measured runs.
const warmTime = 50 * time.Millisecond

// warm calls each function for warmTime, one after the other: the first
// measurement of a run would otherwise pay for what the first calls do
// once (code and data to bring into the caches, pools to fill).
func warm(fs ...func()) {
	for _, f := range fs {
		for start := time.Now(); time.Since(start) < warmTime; {
			for range 100 {
				f()
			}
		}
	}
}

// pairedBlock is how many calls of one side paired makes between two
// readings of the clock: 256 calls of the micro-benchmarks take 0.1 to
// 0.3 ms, short beside the machine's swings and long beside the clock's
// cost (well under 0.1 µs) and the misses of the first calls after the
// other side's block.
const pairedBlock = 256

// paired measures two functions in one loop, in alternating blocks of
// pairedBlock calls (A B, then B A, and so on), and reports the time per
// call of each as NAME-ns/call. The machine's interference (another
// process, the host, interrupts) comes and goes over milliseconds, and
// so falls on both sides alike, where two sub-benchmarks a quarter of a
// second apart each draw their own: the ratio of the two figures varies
// far less from run to run than the ratio of two sub-benchmarks does.
// benchcmp judges rows 1 and 2 on it.
func paired(b *testing.B, names [2]string, fs [2]func() error) {
	b.Helper()
	var total [2]time.Duration
	calls := 0
	for i := 0; b.Loop(); i++ {
		for k := range 2 {
			side := (i + k) % 2
			start := time.Now()
			for range pairedBlock {
				if err := fs[side](); err != nil {
					b.Fatalf("%s: %v", names[side], err)
				}
			}
			total[side] += time.Since(start)
		}
		calls += pairedBlock
	}
	for k, name := range names {
		b.ReportMetric(float64(total[k].Nanoseconds())/float64(calls), name+"-ns/call")
	}
}

// The floors of row 2: one getsockopt of the data a method returns, by a
// raw system call inside RawConn.Control, into a preallocated buffer,
// with a callback bound once so that nothing allocates. That is the
// least any code can do to get the data; the package's figures are
// compared with it.

func newFullInfoFloor() *fullInfoFloor {
	f := new(fullInfoFloor)
	f.fn = func(fd uintptr) {
		h := f.head[:]
		clear(h)
		ne := binary.NativeEndian
		ne.PutUint32(h[fiSizeTCPInfoUser:], tcpInfoLen)
		ne.PutUint32(h[fiSizeSfInfoUser:], subflowInfoLen)
		ne.PutUint32(h[fiSizeArraysUser:], initialSubflows)
		ne.PutUint64(h[fiSubflowInfo:], uint64(uintptr(unsafe.Pointer(&f.sfi[0]))))
		ne.PutUint64(h[fiTCPInfo:], uint64(uintptr(unsafe.Pointer(&f.tcpi[0]))))
		f.optlen = uint32(len(h))
		_, _, f.errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, solMPTCP, optMPTCPFullInfo,
			uintptr(unsafe.Pointer(&h[0])), uintptr(unsafe.Pointer(&f.optlen)), 0)
	}
	return f
}

// The throughput benchmarks (rows 4, 5 and 6) keep one stream running
// for the whole of a sub-benchmark: a writer goroutine writes as fast as
// the connection takes, and the benchmark goroutine reads, one chunk per
// b.Loop iteration, after a warm-up that lets the congestion windows and
// the socket buffers grow. Nothing pauses between iterations, so the
// figure is the steady rate at which bytes arrive, not counting slow
// start or bytes still in flight when the clock stops.
