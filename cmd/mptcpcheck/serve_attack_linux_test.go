package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// attackKind is what an attacking connection does once connected.
type attackKind int

const (
	attackIdle     attackKind = iota // one GET /, then silence: an idle keep-alive connection
	attackHeaders                    // half a request, then silence
	attackDownload                   // a large download through a 4 KiB receive buffer, never read
)

var attackRequest = [...]string{
	attackIdle:     "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	attackHeaders:  "GET / HTTP/1.1\r\nHost: x\r\n",
	attackDownload: fmt.Sprintf("GET /download?size=%d HTTP/1.1\r\nHost: x\r\n\r\n", defaultMaxSize),
}

// attacker keeps connections of each kind open to addr from the source
// addresses srcs, in turn: each connection the server closes (or never
// accepts) is opened again, once a second at most, until stop.
type attacker struct {
	addr   string
	srcs   []net.IP
	opened atomic.Int64 // connections opened, the first and the reopened
	open   atomic.Int64 // of which established and not closed by the server
	wg     sync.WaitGroup
	stop   chan struct{}
}

func newAttacker(addr string, srcs []net.IP) *attacker {
	return &attacker{addr: addr, srcs: srcs, stop: make(chan struct{})}
}

// start adds n connections of kind k.
func (a *attacker) start(k attackKind, n int) {
	for i := range n {
		src := a.srcs[(int(k)*7919+i)%len(a.srcs)]
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.hold(k, src)
		}()
	}
}

// halt stops every connection and waits for them to close.
func (a *attacker) halt() {
	close(a.stop)
	a.wg.Wait()
}

// hold opens one connection of kind k from src after another, each when
// the server has closed the last, at most once a second.
func (a *attacker) hold(k attackKind, src net.IP) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 2 * time.Second}
	if k == attackDownload {
		d.Control = rcvbufControl(4 << 10)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		a.opened.Add(1)
		c, err := d.Dial("tcp", a.addr)
		if err == nil {
			if _, err = io.WriteString(c, attackRequest[k]); err == nil {
				a.open.Add(1)
				// Wait, a second at a time, for the server to close it.
				for err == nil && tcpState(c) == unix.BPF_TCP_ESTABLISHED {
					select {
					case <-a.stop:
						err = net.ErrClosed
					case <-tick.C:
					}
				}
				a.open.Add(-1)
			}
			c.Close()
		}
		select {
		case <-a.stop:
			return
		case <-tick.C:
		}
	}
}

// rcvbufControl is a net.Dialer's Control that sets SO_RCVBUF to n
// before the connection is made, so that the window it offers stays small.
func rcvbufControl(n int) func(_, _ string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}); err != nil {
			return err
		}
		return serr
	}
}

// tcpState returns the TCP state of c (unix.BPF_TCP_*), or 0.
func tcpState(c net.Conn) uint8 {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var state uint8
	rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			state = info.State
		}
	})
	return state
}

// loopbackAddrs returns n addresses of 127.0.0.0/8 from 127.0.1.2 on,
// each of them local on Linux's loopback, none of them the server's
// 127.0.0.1 or the normal client's 127.1.0.1.
func loopbackAddrs(n int) []net.IP {
	ips := make([]net.IP, n)
	for i := range ips {
		ips[i] = net.IPv4(127, 0, byte(1+i/250), byte(2+i%250))
	}
	return ips
}

// raiseFileLimit raises this process's soft limit on descriptors to its
// hard limit and fails the test when that leaves fewer than need.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < need {
		testenv.SkipOrFail(t, "needs %d descriptors; the hard limit is %d", need, lim.Max)
	}
}

// normalClient asks addr for / from the address src every second, n
// times, each on a new connection, and returns what went wrong: an error,
// a status other than 200, or an answer slower than bound.
func normalClient(addr string, src net.IP, n int, bound time.Duration) (failures []string, slowest time.Duration) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
	client := &http.Client{
		Timeout:   bound,
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext},
	}
	for i := range n {
		start := time.Now()
		err := getOK(client, "http://"+addr+"/")
		took := time.Since(start)
		slowest = max(slowest, took)
		if err == nil && took > bound {
			err = fmt.Errorf("answered after %v", took.Round(time.Millisecond))
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("request %d at %v: %v", i+1, time.Duration(i)*time.Second, err))
		}
		time.Sleep(time.Until(start.Add(time.Second)))
	}
	return failures, slowest
}

// getOK gets url and reads the answer whole; any status but 200 is an
// error.
func getOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// buildMptcpcheck builds the command into a temporary directory (or
// copies the prebuilt one: testenv.BuildCommand).
func buildMptcpcheck(t *testing.T) string {
	t.Helper()
	return testenv.Command(t, filepath.Join(t.TempDir(), "mptcpcheck"))
}

// serveProcess runs "mptcpcheck serve" with args as a process of its own
// and returns it with the address it serves on. Cleanup stops it.
func serveProcess(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("serve did not stop within 10 s of an interrupt")
		}
		if stderr.Len() > 0 {
			t.Logf("serve's stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "serving on http://")
	if err != nil || !ok {
		t.Fatalf("serve announced %q, %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return cmd, addr
}

// procStatusKiB returns the field (VmRSS, VmHWM) of /proc/PID/status in KiB.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// TestServeUnderAttack runs serve as a process of its own, with its
// default flags, against an attacker that keeps 600 idle keep-alive
// connections, 300 with unfinished headers and 800 stalled downloads open
// from 200 addresses, each reopened within a second of being closed: far
// more than -max-conns, from too many addresses for the per-address bound
// to matter. A normal client, from an address of its own, asks for /
// every second for 20 s: every answer must be 200 within 1 s, and serve's
// resident memory stay within 64 MiB.
func TestServeUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1,700-connection load test")
	}
	const (
		idle, headers, downloads = 600, 300, 800
		requests                 = 20
		answerBound              = time.Second
		maxRSS                   = 64 << 10 // KiB
	)
	raiseFileLimit(t, idle+headers+downloads+500)
	cmd, addr := serveProcess(t, buildMptcpcheck(t), "-addr", "127.0.0.1:0")
	pid := cmd.Process.Pid

	a := newAttacker(addr, loopbackAddrs(200))
	a.start(attackIdle, idle)
	a.start(attackHeaders, headers)
	a.start(attackDownload, downloads)
	defer a.halt()

	// serve's resident memory, sampled every 100 ms.
	var peakRSS, minOpen, maxOpen atomic.Int64
	minOpen.Store(1 << 30)
	sampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if kib, err := procStatusKiB(pid, "VmRSS"); err == nil && kib > peakRSS.Load() {
				peakRSS.Store(kib)
			}
			select {
			case <-sampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	// Let the attack take hold: every connection opened once.
	time.Sleep(3 * time.Second)
	openedBefore := a.opened.Load()
	sampleOpen := time.NewTicker(500 * time.Millisecond)
	go func() {
		for {
			select {
			case <-sampling:
				return
			case <-sampleOpen.C:
				n := a.open.Load()
				if n < minOpen.Load() {
					minOpen.Store(n)
				}
				if n > maxOpen.Load() {
					maxOpen.Store(n)
				}
			}
		}
	}()
	failures, slowest := normalClient(addr, net.IPv4(127, 1, 0, 1), requests, answerBound)
	sampleOpen.Stop()
	close(sampling)
	<-sampled
	hwm, err := procStatusKiB(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	reopened := a.opened.Load() - openedBefore
	t.Logf("attacker: %d connections to hold, %d to %d of them open at a time, %d opened during the %d s of requests; normal client: %d of %d answered, slowest %v; serve: peak VmRSS %.1f MiB, VmHWM %.1f MiB",
		idle+headers+downloads, minOpen.Load(), maxOpen.Load(), reopened, requests, requests-len(failures), requests,
		slowest.Round(time.Millisecond), float64(peakRSS.Load())/1024, float64(hwm)/1024)
	for _, f := range failures {
		t.Errorf("normal client: %s", f)
	}
	if hwm > maxRSS || peakRSS.Load() > maxRSS {
		t.Errorf("serve's resident memory peaked at %d KiB (VmHWM %d KiB); want at most %d KiB", peakRSS.Load(), hwm, maxRSS)
	}
	// The attack was real: the attacker held more than serve serves at
	// once, and serve kept closing its connections.
	if maxOpen.Load() < defaultMaxConns || reopened < requests*100 {
		t.Errorf("the attack held at most %d connections and reopened %d in %d s; want over %d and %d", maxOpen.Load(), reopened, requests, defaultMaxConns, requests*100)
	}
}

// TestServeBoundsOneAddress opens 600 idle keep-alive connections from
// one address, after a client at another address opened 10 of its own.
// serve, with its defaults, holds at most -max-conns-per-addr of the
// attacker's, shedding the attacker's own to make room for its next, and
// leaves the other client's connections alone, although every one of them
// is idle and older than the attacker's.
func TestServeBoundsOneAddress(t *testing.T) {
	const attackers, others = 600, 10
	raiseFileLimit(t, 2*(attackers+others)+200)
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ln, serveOptions{})
	addr := ln.Addr().String()

	dialFrom := func(src net.IP) net.Conn {
		t.Helper()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, attackRequest[attackIdle]); err != nil {
			t.Fatal(err)
		}
		return c
	}
	var mine []net.Conn
	for range others {
		mine = append(mine, dialFrom(net.IPv4(127, 1, 0, 1)))
	}
	var theirs []net.Conn
	for range attackers {
		theirs = append(theirs, dialFrom(net.IPv4(127, 0, 0, 2)))
	}
	// The server answers each request, then sheds the oldest idle
	// connections of the attacker's address as more come.
	count := func(cs []net.Conn) (n int) {
		for _, c := range cs {
			if tcpState(c) == unix.BPF_TCP_ESTABLISHED {
				n++
			}
		}
		return n
	}
	var held int
	waitFor(t, 10*time.Second, "the server to shed the attacker's connections over the bound", func() bool {
		held = count(theirs)
		return held <= defaultMaxPerAddr
	})
	if n := count(mine); n != others {
		t.Errorf("%d of the other client's %d connections still open; want every one", n, others)
	}
	failures, _ := normalClient(addr, net.IPv4(127, 1, 0, 1), 1, 2*time.Second)
	for _, f := range failures {
		t.Errorf("the other client: %s", f)
	}
	t.Logf("attacker's connections open: %d of %d; shed %d; other client's open: %d of %d", held, attackers, srv.conns.shed.Load(), count(mine), others)
}

// TestServeShedsUnfinishedBodies: 600 connections from 200 addresses
// each send a request with a body and then only its first byte. net/http
// reads what is left of a body after the answer, for as long as the read
// timeout, so that these connections look busy; serve counts them as
// unfinished requests, which a newcomer sheds, and a client at another
// address is served.
func TestServeShedsUnfinishedBodies(t *testing.T) {
	const attackers = 600
	raiseFileLimit(t, 2*attackers+200)
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ln, serveOptions{})
	addr := ln.Addr().String()
	srcs := loopbackAddrs(200)
	for i := range attackers {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: srcs[i%len(srcs)]}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx")
	}
	failures, slowest := normalClient(addr, net.IPv4(127, 1, 0, 1), 3, time.Second)
	for _, f := range failures {
		t.Errorf("the other client: %s", f)
	}
	t.Logf("%d unfinished bodies: %d connections shed, %d refused; the other client's slowest answer %v",
		attackers, srv.conns.shed.Load(), srv.conns.refused.Load(), slowest.Round(time.Millisecond))
}
