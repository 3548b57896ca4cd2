package mptcp

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
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
	var d net.Dialer
	d.SetMultipathTCP(true)
	c, s := dialAccept(t, &d, "tcp4", listenStd(t, "tcp4", true))
	return c.(*net.TCPConn), s.(*net.TCPConn)
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
