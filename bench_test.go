//go:build linux

package mptcp

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multipath-go/mptcp/internal/testenv"

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

// infoFloor asks MPTCP_INFO for the mptcp_info MPTCPInfo decodes.
type infoFloor struct {
	fn     func(fd uintptr)
	optlen uint32
	errno  syscall.Errno
	buf    [infoLen]byte
}

func newInfoFloor() *infoFloor {
	f := new(infoFloor)
	f.fn = func(fd uintptr) {
		f.optlen = uint32(len(f.buf))
		_, _, f.errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, solMPTCP, optMPTCPInfo,
			uintptr(unsafe.Pointer(&f.buf[0])), uintptr(unsafe.Pointer(&f.optlen)), 0)
	}
	return f
}

// fullInfoFloor asks MPTCP_FULL_INFO for what AppendSubflows decodes,
// with the room the package reserves: the header and mptcp_info, and
// initialSubflows elements of mptcp_subflow_info and tcp_info. The
// request header is rewritten before each call, as the kernel writes its
// answer over it.
type fullInfoFloor struct {
	fn     func(fd uintptr)
	optlen uint32
	errno  syscall.Errno
	head   [fullInfoHdrLen + infoLen]byte
	sfi    [initialSubflows * subflowInfoLen]byte
	tcpi   [initialSubflows * tcpInfoLen]byte
}

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

// subflows is the subflow count of the last answer.
func (f *fullInfoFloor) subflows() int {
	return int(binary.NativeEndian.Uint32(f.head[fiNumSubflows:]))
}

// floorCall returns a function that makes one floor call, for paired.
func floorCall(rc syscall.RawConn, fn func(fd uintptr), errno *syscall.Errno) func() error {
	return func() error {
		if err := rc.Control(fn); err != nil {
			return err
		}
		if *errno != 0 {
			return *errno
		}
		return nil
	}
}

// runFloor benchmarks rc.Control(fn) and fails on any error.
func runFloor(b *testing.B, rc syscall.RawConn, fn func(fd uintptr), errno *syscall.Errno) {
	b.ReportAllocs()
	for b.Loop() {
		if err := rc.Control(fn); err != nil || *errno != 0 {
			b.Fatalf("floor getsockopt: %v, errno %v", err, *errno)
		}
	}
}

// Row 2. MPTCPInfo against one MPTCP_INFO getsockopt.
func BenchmarkMPTCPInfo(b *testing.B) {
	client, _ := benchPair(b)
	rc, err := client.TCPConn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	floor := newInfoFloor()
	warm(func() { rc.Control(floor.fn) }, func() { client.MPTCPInfo() })
	sideBySide(b,
		side{"floor", func(b *testing.B) {
			f := newInfoFloor()
			runFloor(b, rc, f.fn, &f.errno)
			if f.optlen != infoLen {
				b.Fatalf("MPTCP_INFO returned %d bytes, want %d", f.optlen, infoLen)
			}
		}},
		side{"mptcp", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.MPTCPInfo(); err != nil {
					b.Fatal(err)
				}
			}
		}},
	)
	b.Run("paired", func(b *testing.B) {
		f := newInfoFloor()
		paired(b, [2]string{"floor", "mptcp"}, [2]func() error{
			floorCall(rc, f.fn, &f.errno),
			func() error { _, err := client.MPTCPInfo(); return err },
		})
	})
}

// Row 2. AppendSubflows (the filling form) and Subflows (the allocating
// form) against one MPTCP_FULL_INFO getsockopt, with one subflow over
// loopback and with two over the two links of a test bed.
func BenchmarkSubflows(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var c *MPTCPConn
			if n == 1 {
				c, _ = benchPair(b)
			} else {
				c = twoSubflowConn(b)
			}
			subflowsSides(b, c, n)
		})
	}
}

func subflowsSides(b *testing.B, c *MPTCPConn, n int) {
	rc, err := c.TCPConn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	check := func(b *testing.B, subs []Subflow) {
		if len(subs) != n {
			b.Fatalf("%d subflows, want %d", len(subs), n)
		}
	}
	floor := newFullInfoFloor()
	dst := make([]Subflow, 0, initialSubflows)
	warm(func() { rc.Control(floor.fn) }, func() { c.AppendSubflows(dst[:0]) })
	sideBySide(b,
		side{"floor", func(b *testing.B) {
			f := newFullInfoFloor()
			runFloor(b, rc, f.fn, &f.errno)
			if f.subflows() != n {
				b.Fatalf("MPTCP_FULL_INFO reports %d subflows, want %d", f.subflows(), n)
			}
		}},
		side{"AppendSubflows", func(b *testing.B) {
			dst := make([]Subflow, 0, initialSubflows)
			var err error
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = c.AppendSubflows(dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
			check(b, dst)
		}},
	)
	b.Run("paired", func(b *testing.B) {
		f := newFullInfoFloor()
		dst := make([]Subflow, 0, initialSubflows)
		paired(b, [2]string{"floor", "AppendSubflows"}, [2]func() error{
			floorCall(rc, f.fn, &f.errno),
			func() error {
				subs, err := c.AppendSubflows(dst[:0])
				if err == nil && len(subs) != n {
					err = fmt.Errorf("%d subflows, want %d", len(subs), n)
				}
				return err
			},
		})
		if f.subflows() != n {
			b.Fatalf("MPTCP_FULL_INFO reports %d subflows, want %d", f.subflows(), n)
		}
	})
	// The allocating form comes after, so that the garbage it makes (and
	// the collector and scavenger work that follows) does not land in the
	// measurements above.
	b.Run("Subflows", func(b *testing.B) {
		var subs []Subflow
		var err error
		b.ReportAllocs()
		for b.Loop() {
			if subs, err = c.Subflows(); err != nil {
				b.Fatal(err)
			}
		}
		check(b, subs)
	})
}

// Row 3. Dial, accept and close one loopback MPTCP connection: the
// package's Dialer and Listener against net.Dialer and net.ListenConfig
// with SetMultipathTCP(true). The client closes first, as an HTTP client
// does, and both ends are closed before the next dial.
func BenchmarkDialAcceptClose(b *testing.B) {
	requireMPTCP(b)
	sideBySide(b,
		side{"stdlib", func(b *testing.B) {
			var d net.Dialer
			d.SetMultipathTCP(true)
			dialAcceptClose(b, listenStd(b, "tcp4", true), d.DialContext)
		}},
		side{"mptcp", func(b *testing.B) {
			var d Dialer
			dialAcceptClose(b, listenLoopback(b, "tcp4"), d.DialContext)
		}},
	)
}

type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

func dialAcceptClose(b *testing.B, l net.Listener, dial dialFunc) {
	ctx := context.Background()
	addr := l.Addr().String()
	connect := func() (c, s net.Conn) {
		c, err := dial(ctx, "tcp4", addr)
		if err != nil {
			b.Fatalf("dial: %v", err)
		}
		s, err = l.Accept()
		if err != nil {
			b.Fatalf("accept: %v", err)
		}
		return c, s
	}
	c, s := connect()
	type multipath interface{ MultipathTCP() (bool, error) }
	ok, _ := c.(multipath).MultipathTCP()
	c.Close()
	s.Close()
	if !ok {
		b.Fatal("the dialed connection is not MPTCP")
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c, s := connect()
		c.Close()
		s.Close()
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "conns/s")
}

// The throughput benchmarks (rows 4, 5 and 6) keep one stream running
// for the whole of a sub-benchmark: a writer goroutine writes as fast as
// the connection takes, and the benchmark goroutine reads, one chunk per
// b.Loop iteration, after a warm-up that lets the congestion windows and
// the socket buffers grow. Nothing pauses between iterations, so the
// figure is the steady rate at which bytes arrive, not counting slow
// start or bytes still in flight when the clock stops.

// bulkChunk is the operation of the throughput benchmarks over
// loopback: 1 MiB read at the receiving end.
const bulkChunk = 1 << 20

// loopbackWarmup is how long the loopback streams run before the clock
// starts.
const loopbackWarmup = 200 * time.Millisecond

// streamDeadline bounds every read and write of a stream, so that a
// stuck stream fails rather than hangs.
const streamDeadline = 10 * time.Minute

var bulkData = make([]byte, bulkChunk)

// startWriter writes chunk-sized writes to w until a write fails, and
// returns a function that stops it and waits for it to end.
func startWriter(w net.Conn, chunk int) (stop func()) {
	w.SetWriteDeadline(time.Now().Add(streamDeadline))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := w.Write(bulkData[:chunk]); err != nil {
				return
			}
		}
	}()
	return func() {
		w.SetWriteDeadline(time.Unix(1, 0)) // unblocks the Write
		<-done
	}
}

// warmUp reads from r for d.
func warmUp(b *testing.B, r net.Conn, chunk int, d time.Duration) {
	buf := make([]byte, chunk)
	for start := time.Now(); time.Since(start) < d; {
		if _, err := r.Read(buf); err != nil {
			b.Fatalf("warm-up read: %v", err)
		}
	}
}

// stallThreshold is how long the read of one chunk over loopback must
// take to count as a stall: twenty times what it takes while data flows.
//
// MPTCP over loopback, on Linux 6.18 at least, stops for about 200 ms
// (a retransmission or window-probe timer of the MPTCP layer) one to four
// times a second under a bulk stream, whoever makes the sockets: plain
// TCP does not. Such a stall costs a fifth of a one-second measurement,
// so a rate that counts them measures how many stalls the run drew more
// than anything else. The loopback rows therefore also report the rate
// while data flows (flow-MB/s: bytes over the time outside stalls), and
// the stalls (stalls/s, and their count, stalls), so that a side that
// stalled more would show: benchcmp tests their counts.
const stallThreshold = 20 * time.Millisecond

// readStream times the reading of one chunk per b.Loop iteration from r
// and returns the iteration count. It sets the bytes per operation, so
// that the benchmark reports MB/s; with stalls set, it also reports
// flow-MB/s, stalls/s and stalls.
func readStream(b *testing.B, r net.Conn, chunk int, stalls bool) (n int) {
	buf := make([]byte, chunk)
	b.SetBytes(int64(chunk))
	b.ReportAllocs()
	var stalled time.Duration
	count := 0
	last := time.Now()
	for b.Loop() {
		if _, err := io.ReadFull(r, buf); err != nil {
			b.Fatalf("read: %v", err)
		}
		if stalls {
			now := time.Now()
			if d := now.Sub(last); d > stallThreshold {
				stalled += d
				count++
			}
			last = now
		}
		n++
	}
	if stalls {
		elapsed := b.Elapsed()
		b.ReportMetric(float64(n)*float64(chunk)/1e6/(elapsed-stalled).Seconds(), "flow-MB/s")
		b.ReportMetric(float64(count)/elapsed.Seconds(), "stalls/s")
		b.ReportMetric(float64(count), "stalls")
	}
	return n
}

// Row 4. Bulk transfer over one loopback MPTCP connection, client to
// server: the package's connections against two *net.TCPConn over MPTCP
// sockets. The client writes 1 MiB per Write, the server reads 1 MiB per
// operation with io.ReadFull.
func BenchmarkBulk(b *testing.B) {
	requireMPTCP(b)
	sideBySide(b,
		side{"stdlib", func(b *testing.B) {
			c, s := stdPair(b)
			bulk(b, c, s)
		}},
		side{"mptcp", func(b *testing.B) {
			c, s := benchPair(b)
			bulk(b, c, s)
		}},
	)
}

func bulk(b *testing.B, w, r net.Conn) {
	r.SetReadDeadline(time.Now().Add(streamDeadline))
	stop := startWriter(w, bulkChunk)
	defer stop()
	warmUp(b, r, bulkChunk, loopbackWarmup)
	readStream(b, r, bulkChunk, true)
}

// Row 5. A proxy: io.Copy from one connection (src) to another (dst), on
// an OS thread of its own, directly and through an io.LimitReader, with
// the package's connections against *net.TCPConn over MPTCP sockets. A
// writer feeds the far end of src; the benchmark reads the far end of
// dst, 1 MiB per operation.
//
// The proxy thread's read and write system calls, from
// /proc/self/task/TID/io, tell whether the kernel spliced (splice(2)
// counts as neither: 0 per MiB) or the bytes went through user space (a
// 32 KiB io.Copy buffer makes 32 reads and 32 writes per MiB): they are
// reported as reads/MiB and writes/MiB. The "control" sub-benchmark
// hides the source from io.Copy, forcing a user-space copy, to show that
// the measure sees one.
func BenchmarkProxy(b *testing.B) {
	requireMPTCP(b)
	if _, err := readTaskIO(os.Getpid()); err != nil {
		testenv.SkipOrFail(b, "no per-thread I/O accounting (/proc/self/task/TID/io) to count system calls with: %v", err)
	}
	for _, limit := range []bool{false, true} {
		name := "direct"
		if limit {
			name = "limit"
		}
		b.Run(name, func(b *testing.B) {
			sideBySide(b,
				side{"stdlib", func(b *testing.B) { proxy(b, proxyStd, limit) }},
				side{"mptcp", func(b *testing.B) { proxy(b, proxyMPTCP, limit) }},
			)
		})
	}
	b.Run("control", func(b *testing.B) { proxy(b, proxyControl, false) })
}

type proxyKind int

const (
	proxyStd     proxyKind = iota // *net.TCPConn over MPTCP sockets
	proxyMPTCP                    // *MPTCPConn
	proxyControl                  // *MPTCPConn, source hidden from io.Copy
)

// proxyPair returns a fresh connection of kind k: near is the proxy's
// end, far the writer's or the reader's.
func proxyPair(b *testing.B, k proxyKind) (near, far net.Conn) {
	if k == proxyStd {
		c, s := stdPair(b)
		return s, c
	}
	c, s := benchPair(b)
	return s, c
}

func proxy(b *testing.B, k proxyKind, limit bool) {
	src, srcFar := proxyPair(b, k)
	dst, dstFar := proxyPair(b, k)
	src.SetReadDeadline(time.Now().Add(streamDeadline))
	dst.SetWriteDeadline(time.Now().Add(streamDeadline))
	stopWriter := startWriter(srcFar, bulkChunk)
	defer stopWriter()

	type result struct {
		n   int64
		err error
	}
	tids := make(chan int, 1)
	copied := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, and no
		// other goroutine ever runs on it.
		runtime.LockOSThread()
		tids <- unix.Gettid()
		var from io.Reader = src
		if limit {
			// A limit the stream never reaches: what matters is that
			// io.Copy sees an *io.LimitedReader.
			from = io.LimitReader(src, 1<<62)
		}
		if k == proxyControl {
			from = struct{ io.Reader }{from}
		}
		n, err := io.Copy(dst, from)
		copied <- result{n, err}
	}()
	tid := <-tids
	defer func() {
		// End the copy wherever it waits: reading src, or writing dst,
		// which nobody reads any more.
		src.SetReadDeadline(time.Unix(1, 0))
		dst.SetWriteDeadline(time.Unix(1, 0))
		if r := <-copied; r.n == 0 {
			b.Errorf("the proxy copied nothing: %v", r.err)
		}
	}()

	dstFar.SetReadDeadline(time.Now().Add(streamDeadline))
	warmUp(b, dstFar, bulkChunk, loopbackWarmup)
	before, err := readTaskIO(tid)
	if err != nil {
		b.Fatal(err)
	}
	n := readStream(b, dstFar, bulkChunk, true)
	after, err := readTaskIO(tid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(after.syscr-before.syscr)/float64(n), "reads/MiB")
	b.ReportMetric(float64(after.syscw-before.syscw)/float64(n), "writes/MiB")
}

// readTaskIO reads the I/O accounting of thread tid of this process.
func readTaskIO(tid int) (threadIO, error) {
	name := fmt.Sprintf("/proc/self/task/%d/io", tid)
	data, err := os.ReadFile(name)
	if err != nil {
		return threadIO{}, err
	}
	var a threadIO
	fields := map[string]*int64{"syscr": &a.syscr, "syscw": &a.syscw, "rchar": &a.rchar, "wchar": &a.wchar}
	seen := 0
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if p := fields[k]; ok && p != nil {
			if *p, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return threadIO{}, fmt.Errorf("%s: %q: %v", name, line, err)
			}
			seen++
		}
	}
	if seen != len(fields) {
		return threadIO{}, fmt.Errorf("%s: want syscr, syscw, rchar and wchar in %q", name, data)
	}
	return a, nil
}
