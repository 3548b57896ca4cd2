package mptcp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// These tests prove, by measuring, that an *MPTCPConn keeps the kernel's
// zero-copy paths (splice between sockets, sendfile from a file) wherever
// two *net.TCPConn keep them.
//
// The measure is the per-thread I/O accounting of /proc/thread-self/io.
// The copy under test runs on a goroutine locked to its own OS thread, so
// that thread's counters hold that copy's system calls and nobody else's.
// On Linux (checked on 6.18):
//
//   - read(2) and write(2) on a socket or file add one to syscr or syscw
//     and the bytes to rchar or wchar: a user-space io.Copy of 16 MiB
//     through its 32 KiB buffer shows more than 512 of each;
//   - splice(2) adds nothing to any of the four counters: a spliced copy
//     of 16 MiB shows 0;
//   - sendfile(2) adds one to syscr and one to syscw per call, and its
//     bytes to rchar and wchar: Go asks for the whole file in each call,
//     so the 16 MiB go in as many calls as the socket buffer fills up,
//     2 to about 20 over loopback.
//
// So syscr and syscw tell a zero-copy io.Copy from a user-space one by
// more than an order of magnitude for both splice and sendfile (rchar
// and wchar do so for splice only). Each test runs the same shape on
// fresh loopback connections: with MPTCP sockets as plain *net.TCPConn
// (the baseline), with *MPTCPConn from this package, and once as a
// negative control in which zero-copy is impossible (the source hidden
// in a struct{ io.Reader }), which shows that the measure does see a
// user-space copy.

const (
	zeroCopySize = 16 << 20

	// ioDeadline bounds every socket operation of a test; ioWait, longer,
	// bounds every wait for a goroutine, so that a stuck copy fails on
	// its deadline first.
	ioDeadline = 60 * time.Second
	ioWait     = 90 * time.Second
)

// threadIO is a thread's I/O accounting, from /proc/thread-self/io.
type threadIO struct {
	syscr, syscw int64 // read and write system calls
	rchar, wchar int64 // bytes they moved
}

func (a threadIO) sub(b threadIO) threadIO {
	return threadIO{a.syscr - b.syscr, a.syscw - b.syscw, a.rchar - b.rchar, a.wchar - b.wchar}
}

func (a threadIO) String() string {
	return fmt.Sprintf("syscr=%d syscw=%d rchar=%d wchar=%d", a.syscr, a.syscw, a.rchar, a.wchar)
}

// readThreadIO reads the calling thread's I/O accounting with one open,
// one read and one close, so that reading it moves the counters by a
// small constant. The caller must be locked to its OS thread.
func readThreadIO() (threadIO, error) {
	fd, err := syscall.Open("/proc/thread-self/io", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return threadIO{}, os.NewSyscallError("open /proc/thread-self/io", err)
	}
	var buf [512]byte
	n, err := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	if err != nil {
		return threadIO{}, os.NewSyscallError("read /proc/thread-self/io", err)
	}
	var a threadIO
	fields := map[string]*int64{"syscr": &a.syscr, "syscw": &a.syscw, "rchar": &a.rchar, "wchar": &a.wchar}
	seen := 0
	for line := range strings.Lines(string(buf[:n])) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if p := fields[k]; ok && p != nil {
			if *p, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return threadIO{}, fmt.Errorf("/proc/thread-self/io: %q: %v", line, err)
			}
			seen++
		}
	}
	if seen != len(fields) {
		return threadIO{}, fmt.Errorf("/proc/thread-self/io: want syscr, syscw, rchar and wchar in %q", buf[:n])
	}
	return a, nil
}

// requireThreadIO skips the test where the kernel keeps no per-thread
// I/O accounting (CONFIG_TASK_IO_ACCOUNTING unset, no /proc).
func requireThreadIO(t *testing.T) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_, err := readThreadIO()
		errc <- err
	}()
	if err := <-errc; err != nil {
		testenv.SkipOrFail(t, "no per-thread I/O accounting (/proc/thread-self/io) to measure with: %v", err)
	}
}

// onLockedThread runs copyFn on a goroutine locked to an OS thread of its
// own and returns what copyFn returned and what it added to that thread's
// I/O accounting, net of the cost of reading the accounting (measured by
// two back-to-back reads).
func onLockedThread(t *testing.T, copyFn func() (int64, error)) (int64, threadIO) {
	t.Helper()
	type result struct {
		n    int64
		acct threadIO
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// No UnlockOSThread: the thread ends with the goroutine, so no
		// other goroutine ever runs on it.
		runtime.LockOSThread()
		var r result
		defer func() { done <- r }()
		s0, err := readThreadIO()
		if err != nil {
			r.err = err
			return
		}
		s1, err := readThreadIO()
		if err != nil {
			r.err = err
			return
		}
		r.n, r.err = copyFn()
		s2, err := readThreadIO()
		if err != nil && r.err == nil {
			r.err = err
		}
		r.acct = s2.sub(s1).sub(s1.sub(s0))
	}()
	r := awaitZeroCopy(t, done, "the measured copy")
	if r.err != nil {
		t.Fatalf("measured copy: %v (after %d bytes)", r.err, r.n)
	}
	return r.n, r.acct
}

// awaitZeroCopy receives from ch, failing the test after ioWait.
func awaitZeroCopy[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(ioWait)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", ioWait, what)
	}
	panic("unreachable")
}

// setIODeadlines bounds every operation on the connections.
func setIODeadlines(t *testing.T, conns ...net.Conn) {
	t.Helper()
	d := time.Now().Add(ioDeadline)
	for _, c := range conns {
		if err := c.SetDeadline(d); err != nil {
			t.Fatalf("SetDeadline on %v: %v", c.LocalAddr(), err)
		}
	}
}

// netMPTCPPair returns both ends of a loopback connection whose sockets
// are MPTCP, made by package net alone: plain *net.TCPConn, the
// baseline. Both are closed when the test ends.
func netMPTCPPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.ListenConfig.Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		accepted <- result{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	d.SetMultipathTCP(true)
	c, err := d.DialContext(ctx, "tcp4", l.Addr().String())
	if err != nil {
		t.Fatalf("net.Dialer.DialContext: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	r := awaitZeroCopy(t, accepted, "accept")
	if r.err != nil {
		t.Fatalf("accept: %v", r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return c.(*net.TCPConn), r.c.(*net.TCPConn)
}

// copyKind selects who makes the connections of one run.
type copyKind int

const (
	kindTCPConn   copyKind = iota // *net.TCPConn, MPTCP sockets from package net
	kindMPTCPConn                 // *MPTCPConn from this package's Dialer and Listener
	kindControl                   // *MPTCPConn, with zero-copy defeated by the caller
)

func (k copyKind) String() string {
	return [...]string{"net.TCPConn", "MPTCPConn", "control"}[k]
}

// pair returns the two ends of a fresh loopback connection of kind k.
func (k copyKind) pair(t *testing.T) (near, far net.Conn) {
	t.Helper()
	var c, s net.Conn
	if k == kindTCPConn {
		c, s = netMPTCPPair(t)
	} else {
		c, s = mptcpPair(t, "tcp4")
	}
	mp, err := c.(interface{ MultipathTCP() (bool, error) }).MultipathTCP()
	t.Logf("%v pair %v -> %v: MultipathTCP() = %v, %v", k, c.LocalAddr(), c.RemoteAddr(), mp, err)
	return s, c
}

// zeroCopyCloseWriter is what *net.TCPConn and *MPTCPConn have to end
// their side of a stream.
type zeroCopyCloseWriter interface{ CloseWrite() error }

// zeroCopyPayload is the data every test moves: zeroCopySize
// pseudo-random bytes, the same on every run.
var zeroCopyPayload = sync.OnceValue(func() []byte {
	b := make([]byte, zeroCopySize)
	rand.NewChaCha8([32]byte{'m', 'p', 't', 'c', 'p'}).Read(b)
	return b
})

// copyRun is one measured copy into dst, the near end of a connection
// whose far end, dstFar, collects what arrives.
type copyRun struct {
	dst, dstFar net.Conn
	// feed, if not nil, runs in its own goroutine during the copy and
	// writes the source's data.
	feed func() error
	// copy is the io.Copy under test, run on a locked thread.
	copy func() (int64, error)
}

// do runs r and checks that copy returned want bytes, that they reached
// dstFar intact and that feed succeeded. It returns the accounting of
// the copy's thread.
func (r copyRun) do(t *testing.T, want []byte) threadIO {
	t.Helper()
	setIODeadlines(t, r.dst, r.dstFar)

	fed := make(chan error, 1)
	if r.feed != nil {
		go func() { fed <- r.feed() }()
	} else {
		fed <- nil
	}
	type received struct {
		n   int64
		sum [32]byte
		err error
	}
	recv := make(chan received, 1)
	go func() {
		h := sha256.New()
		n, err := io.Copy(h, r.dstFar)
		var rv received
		rv.n, rv.err = n, err
		h.Sum(rv.sum[:0])
		recv <- rv
	}()

	n, acct := onLockedThread(t, r.copy)
	// The copy is over: end the stream so that dstFar reads EOF.
	if err := r.dst.(zeroCopyCloseWriter).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite after the copy: %v", err)
	}
	if err := awaitZeroCopy(t, fed, "the feeder"); err != nil {
		t.Fatalf("feeding the source: %v", err)
	}
	rv := awaitZeroCopy(t, recv, "the receiver")
	if rv.err != nil {
		t.Fatalf("receiving: %v after %d bytes", rv.err, rv.n)
	}
	if n != int64(len(want)) {
		t.Errorf("io.Copy returned %d, want %d", n, len(want))
	}
	if rv.n != int64(len(want)) || rv.sum != sha256.Sum256(want) {
		t.Errorf("received %d bytes with SHA-256 %x, want %d bytes with SHA-256 %x", rv.n, rv.sum, len(want), sha256.Sum256(want))
	}
	return acct
}

// zeroCopyRounds is how many times the baseline and the package each run
// a shape. The tests compare the fewest system calls of those runs, the
// cost of the path itself: sendfile(2) is retried after a full socket
// buffer, so its count varies between runs with the receiver's speed
// (from 2 to about 20 calls for 16 MiB over loopback).
const zeroCopyRounds = 3

// measureShape runs one(k) zeroCopyRounds times for the baseline and the
// package, alternately, and once for the negative control, then fails
// the test unless the package's copy made as many read and write system
// calls as the baseline's, within a small margin, and the negative
// control made many: enough that a user-space copy could not pass for a
// zero-copy one.
func measureShape(t *testing.T, one func(t *testing.T, k copyKind) threadIO) {
	t.Helper()
	requireThreadIO(t)
	var runs [3][]threadIO
	for range zeroCopyRounds {
		for _, k := range []copyKind{kindTCPConn, kindMPTCPConn} {
			runs[k] = append(runs[k], one(t, k))
		}
	}
	runs[kindControl] = append(runs[kindControl], one(t, kindControl))
	if t.Failed() {
		return
	}
	var best [3]threadIO
	for k, rs := range runs {
		best[k] = rs[0]
		for _, r := range rs[1:] {
			best[k].syscr = min(best[k].syscr, r.syscr)
			best[k].syscw = min(best[k].syscw, r.syscw)
			best[k].rchar = min(best[k].rchar, r.rchar)
			best[k].wchar = min(best[k].wchar, r.wchar)
		}
		t.Logf("%-11v fewest of %d run(s): %v; all: %v", copyKind(k), len(rs), best[k], rs)
	}
	base, pkg, ctl := best[kindTCPConn], best[kindMPTCPConn], best[kindControl]

	// A user-space io.Copy reads at most 32 KiB per read(2).
	const userCopyCalls = zeroCopySize / (32 << 10)
	if ctl.syscr < userCopyCalls || ctl.syscw < userCopyCalls/2 {
		t.Errorf("the negative control made %d read and %d write syscalls, want >= %d and >= %d: /proc/thread-self/io does not see a user-space copy here, so it proves nothing",
			ctl.syscr, ctl.syscw, userCopyCalls, userCopyCalls/2)
	}

	// The margin absorbs noise: the odd runtime write(2) to its eventfd,
	// a sendfile(2) retried after a full socket buffer.
	margin := func(b int64) int64 { return 16 + b/4 }
	for _, c := range []struct {
		what           string
		base, pkg, ctl int64
	}{
		{"read", base.syscr, pkg.syscr, ctl.syscr},
		{"write", base.syscw, pkg.syscw, ctl.syscw},
	} {
		if d := c.pkg - c.base; d > margin(c.base) || -d > margin(c.base) {
			t.Errorf("the package's copy made %d %s syscalls where two *net.TCPConn made %d (margin %d): it does not take the same path",
				c.pkg, c.what, c.base, margin(c.base))
		}
		// A package copy through user space where the baseline's is
		// zero-copy would be off by about ctl: the margin must be far
		// smaller, or this test could not tell the two paths apart.
		if 4*margin(c.base) >= c.ctl {
			t.Errorf("the margin (%d %s syscalls) is not small against the %d of a user-space copy: the measure cannot tell the paths apart",
				margin(c.base), c.what, c.ctl)
		}
	}
	if base.syscr*4 > ctl.syscr {
		// Not a failure of this package: package net itself does not
		// use zero-copy for this shape.
		t.Logf("note: the baseline itself is not zero-copy (%d read syscalls against %d for a user-space copy)", base.syscr, ctl.syscr)
	}
}

// hideReader returns r as a plain io.Reader: no WriteTo, not a
// *net.TCPConn, *os.File or *io.LimitedReader, so that io.Copy and
// ReadFrom must copy through user space.
func hideReader(r io.Reader) io.Reader { return struct{ io.Reader }{r} }

// proxyShape measures one proxy shape: the far end of connection A
// sends the payload and closes its side; copyFn copies the near end of
// A (src) into the near end of B (dst); the far end of B must receive
// the payload.
func proxyShape(t *testing.T, copyFn func(k copyKind, dst, src net.Conn) (int64, error)) {
	t.Helper()
	data := zeroCopyPayload()
	measureShape(t, func(t *testing.T, k copyKind) threadIO {
		src, srcFar := k.pair(t)
		dst, dstFar := k.pair(t)
		setIODeadlines(t, src, srcFar)
		return copyRun{
			dst: dst, dstFar: dstFar,
			feed: func() error {
				if _, err := srcFar.Write(data); err != nil {
					return err
				}
				return srcFar.(zeroCopyCloseWriter).CloseWrite()
			},
			copy: func() (int64, error) { return copyFn(k, dst, src) },
		}.do(t, data)
	})
}

// TestZeroCopySpliceProxy: io.Copy(dst, src) between two connections, a
// proxy. For two *MPTCPConn, io.Copy takes src's WriteTo, promoted from
// *net.TCPConn, which hands dst and src to dst's ReadFrom; it must
// splice as it does between two *net.TCPConn.
func TestZeroCopySpliceProxy(t *testing.T) {
	proxyShape(t, func(k copyKind, dst, src net.Conn) (int64, error) {
		if k == kindControl {
			return io.Copy(dst, hideReader(src))
		}
		return io.Copy(dst, src)
	})
}

// TestZeroCopySpliceReadFrom: dst.ReadFrom(src) called directly, as code
// that knows its destination does, which reaches the *MPTCPConn case of
// MPTCPConn.ReadFrom (io.Copy goes through src's WriteTo instead).
func TestZeroCopySpliceReadFrom(t *testing.T) {
	proxyShape(t, func(k copyKind, dst, src net.Conn) (int64, error) {
		rf := dst.(io.ReaderFrom)
		if k == kindControl {
			return rf.ReadFrom(hideReader(src))
		}
		return rf.ReadFrom(src)
	})
}

// TestZeroCopySpliceLimitReader: io.Copy(dst, io.LimitReader(src, n)),
// the shape that loses splice for a type that merely embeds
// *net.TCPConn. The source holds more than n bytes: the copy must stop
// at n, leave the LimitedReader's N at 0 and the rest unread in src.
func TestZeroCopySpliceLimitReader(t *testing.T) {
	data := zeroCopyPayload()
	tail := []byte("bytes past the limit, which the copy must leave in src")
	measureShape(t, func(t *testing.T, k copyKind) threadIO {
		src, srcFar := k.pair(t)
		dst, dstFar := k.pair(t)
		setIODeadlines(t, src, srcFar)
		lr := &io.LimitedReader{R: src, N: int64(len(data))}
		acct := copyRun{
			dst: dst, dstFar: dstFar,
			feed: func() error {
				_, err := srcFar.Write(append(data[:len(data):len(data)], tail...))
				return err
			},
			copy: func() (int64, error) {
				if k == kindControl {
					return io.Copy(dst, hideReader(lr))
				}
				return io.Copy(dst, lr)
			},
		}.do(t, data)
		if lr.N != 0 {
			t.Errorf("%v: LimitedReader.N = %d after the copy, want 0", k, lr.N)
		}
		rest := make([]byte, len(tail))
		if _, err := io.ReadFull(src, rest); err != nil || !bytes.Equal(rest, tail) {
			t.Errorf("%v: reading past the limit: %q, %v; want %q", k, rest, err, tail)
		}
		return acct
	})
}

// TestZeroCopySendfile: io.Copy(dst, f) for an *os.File f, which the
// kernel serves with sendfile(2) when dst is a TCP connection. The file's
// offset must end at its size.
func TestZeroCopySendfile(t *testing.T) {
	data := zeroCopyPayload()
	name := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	measureShape(t, func(t *testing.T, k copyKind) threadIO {
		dst, dstFar := k.pair(t)
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		acct := copyRun{
			dst: dst, dstFar: dstFar,
			copy: func() (int64, error) {
				if k == kindControl {
					return io.Copy(dst, hideReader(f))
				}
				return io.Copy(dst, f)
			},
		}.do(t, data)
		if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != int64(len(data)) {
			t.Errorf("%v: file offset after the copy = %d, %v; want %d", k, off, err, len(data))
		}
		return acct
	})
}

// io.Copy into an MPTCP connection delivers every byte, from a TCP
// connection and from another MPTCP one, whole or through an
// io.LimitReader, on every kernel: 5.10 with MPTCP refuses splice into
// MPTCP sockets, and the package copies through user space there.
func TestCopyIntoMPTCPConn(t *testing.T) {
	requireMPTCP(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, src := range []string{"tcp", "mptcp"} {
		for _, limit := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/limit=%v", src, limit), func(t *testing.T) {
				var in, feed net.Conn
				if src == "tcp" {
					l := listenPlainTCP(t, "tcp4")
					var d Dialer
					d.SetMultipathTCP(false)
					in, feed = dialAccept(t, &d, "tcp4", l)
				} else {
					c, s := mptcpPair(t, "tcp4")
					in, feed = c, s
				}
				dst, far := mptcpPair(t, "tcp4")
				setIODeadlines(t, in, feed, dst, far)
				go func() {
					feed.Write(data)
					feed.Close()
				}()
				got := make(chan []byte, 1)
				go func() {
					b, _ := io.ReadAll(io.LimitReader(far, int64(len(data))))
					got <- b
				}()
				var r io.Reader = in
				if limit {
					r = io.LimitReader(in, int64(len(data)))
				}
				n, err := io.Copy(dst, r)
				if err != nil || n != int64(len(data)) {
					t.Fatalf("io.Copy into an MPTCP connection: %d bytes, %v", n, err)
				}
				if b := <-got; !bytes.Equal(b, data) {
					t.Fatalf("the far end received %d bytes, not what was sent", len(b))
				}
			})
		}
	}
}
