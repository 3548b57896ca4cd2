//go:build linux

package mptcp

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
	"golang.org/x/sys/unix"
)

// The benchmarks of rows 3 to 5: connections and streams, the package
// against the standard library.

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
