package mptcp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// Row 7: the Go heap that idle connections take.
//
// 10,000 loopback connections have 20,000 ends, more file descriptors
// than a process may have where RLIMIT_NOFILE is 20,000 and cannot be
// raised (no CAP_SYS_RESOURCE, as in many containers). So the server
// ends live in a second process, this test binary run again as
// TestIdleConnsPeer, and each process measures its own heap: a
// connection's figure is what its client end costs here plus what its
// server end costs there.

// idleConns is how many connections BenchmarkIdleConns holds at once.
const idleConns = 10000

// idlePeerEnv tells the test binary to serve as the server process of
// BenchmarkIdleConns: "stdlib" or "mptcp" say whose listener to use.
const idlePeerEnv = "MPTCP_BENCH_IDLE_PEER"

// idleWait bounds every wait of BenchmarkIdleConns and its peer.
const idleWait = 2 * time.Minute

// BenchmarkIdleConns reports, as B/conn, the Go heap per idle loopback
// MPTCP connection while 10,000 are open, both ends counted: made by the
// package's Dialer and Listener against net.Dialer and net.ListenConfig
// with SetMultipathTCP(true). Each process reads runtime.MemStats.HeapAlloc
// after a collection, before the first measured connection and once all
// are open; the slice that holds them is allocated before, and one
// connection made and closed before that, so that what a process
// allocates once (the kernel probe, netpoll) is not counted.
func BenchmarkIdleConns(b *testing.B) {
	requireMPTCP(b)
	needNoFile(b, idleConns+500)
	sideBySideOnce(b,
		side{"stdlib", func(b *testing.B) {
			var d net.Dialer
			d.SetMultipathTCP(true)
			idle(b, "stdlib", d.DialContext)
		}},
		side{"mptcp", func(b *testing.B) {
			var d Dialer
			idle(b, "mptcp", d.DialContext)
		}},
	)
}

func idle(b *testing.B, kind string, dial dialFunc) {
	conns := make([]net.Conn, 0, idleConns)
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		// Drop the references too: the next iteration's "before" must
		// not count closed connections still held by the slice.
		clear(conns)
		conns = conns[:0]
	}
	b.Cleanup(closeAll)
	var perConn, clientPerConn float64
	iters := 0
	for b.Loop() {
		peer := startIdlePeer(b, kind)
		ctx, cancel := context.WithTimeout(context.Background(), idleWait)
		c, err := dial(ctx, "tcp4", peer.addr)
		if err != nil {
			b.Fatalf("dial: %v", err)
		}
		if ok, err := c.(interface{ MultipathTCP() (bool, error) }).MultipathTCP(); !ok || err != nil {
			b.Fatalf("the connection is not MPTCP: %v, %v", ok, err)
		}
		c.Close()
		peer.expect("ready")

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range idleConns {
			c, err := dial(ctx, "tcp4", peer.addr)
			if err != nil {
				b.Fatalf("after %d connections: %v", len(conns), err)
			}
			conns = append(conns, c)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		cancel()
		client := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		server, err := strconv.ParseFloat(peer.expect("heap"), 64)
		if err != nil {
			b.Fatalf("server process: %v", err)
		}
		clientPerConn += client / idleConns
		perConn += (client + server) / idleConns
		iters++
		closeAll()
		peer.stop()
	}
	b.ReportMetric(perConn/float64(iters), "B/conn")
	b.ReportMetric(clientPerConn/float64(iters), "client-B/conn")
}

// idlePeer is a running server process of BenchmarkIdleConns.
type idlePeer struct {
	b     *testing.B
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	addr  string
	log   strings.Builder // what it printed, for errors
}

// startIdlePeer runs this test binary as TestIdleConnsPeer with a
// listener of the given kind, and waits for its address.
func startIdlePeer(b *testing.B, kind string) *idlePeer { return startIdlePeerIn(b, kind, nil) }

// startIdlePeerIn is startIdlePeer with the server process started
// inside the namespace ns, when ns is not nil.
func startIdlePeerIn(b *testing.B, kind string, ns *testbed.NS) *idlePeer {
	p := &idlePeer{b: b}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestIdleConnsPeer$", "-test.count=1", "-test.timeout="+(2*idleWait).String())
	p.cmd.Env = append(os.Environ(), idlePeerEnv+"="+kind)
	p.cmd.Stderr = os.Stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := p.cmd.Start
	if ns != nil {
		// A process forked from a thread inside a namespace starts in it.
		start = func() error { return ns.Do(p.cmd.Start) }
	}
	if err := start(); err != nil {
		b.Fatalf("start the server process: %v", err)
	}
	b.Cleanup(func() {
		p.stdin.Close()
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	p.out = bufio.NewScanner(stdout)
	p.addr = p.expect("addr")
	return p
}

// expect returns the rest of the next line the peer prints that starts
// with word, or fails the benchmark.
func (p *idlePeer) expect(word string) string {
	p.b.Helper()
	for p.out.Scan() {
		line := p.out.Text()
		fmt.Fprintln(&p.log, line)
		if rest, ok := strings.CutPrefix(line, idlePeerPrefix+word+" "); ok {
			return rest
		}
		if line == idlePeerPrefix+word {
			return ""
		}
	}
	p.b.Fatalf("the server process ended before saying %q; it printed:\n%s", word, p.log.String())
	return ""
}

// stop ends the peer: it closes its connections when its stdin closes.
func (p *idlePeer) stop() {
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		for p.out.Scan() {
			fmt.Fprintln(&p.log, p.out.Text())
		}
		p.b.Fatalf("server process: %v; it printed:\n%s", err, p.log.String())
	}
}

// idlePeerPrefix starts every line the peer prints for its parent.
const idlePeerPrefix = "idlepeer: "

// TestIdleConnsPeer is the server process of BenchmarkIdleConns, and does
// nothing unless idlePeerEnv is set. It listens on 127.0.0.1, prints its
// address, accepts and closes one connection, prints "ready", accepts
// idleConns connections, prints the growth of its heap, and closes
// everything once its stdin closes.
func TestIdleConnsPeer(t *testing.T) {
	kind := os.Getenv(idlePeerEnv)
	if kind == "" {
		return
	}
	say := func(format string, args ...any) { fmt.Printf(idlePeerPrefix+format+"\n", args...) }
	var accept func() (net.Conn, error)
	var l net.Listener
	switch kind {
	case "stdlib":
		tl := listenStd(t, "tcp4", true)
		l, accept = tl, func() (net.Conn, error) { return tl.AcceptTCP() }
	case "mptcp":
		ml := listenLoopback(t, "tcp4")
		l, accept = ml, func() (net.Conn, error) { return ml.AcceptMPTCP() }
	default:
		t.Fatalf("%s=%q, want stdlib or mptcp", idlePeerEnv, kind)
	}
	l.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now().Add(idleWait))
	conns := make([]net.Conn, 0, idleConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	say("addr %s", l.Addr())
	c, err := accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	say("ready")
	for range idleConns {
		c, err := accept()
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	say("heap %d", int64(after.HeapAlloc)-int64(before.HeapAlloc))
	io.Copy(io.Discard, os.Stdin)
}

// needNoFile makes sure this process, and the server process it starts,
// may open n files, raising the soft RLIMIT_NOFILE up to the hard one if
// need be, or skips.
func needNoFile(b *testing.B, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		testenv.SkipOrFail(b, "getrlimit(RLIMIT_NOFILE): %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		testenv.SkipOrFail(b, "%d connections need %d file descriptors per process; RLIMIT_NOFILE allows %d", idleConns, n, lim.Max)
	}
	old := lim
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		testenv.SkipOrFail(b, "raise RLIMIT_NOFILE to %d: %v", lim.Cur, err)
	}
	b.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}
