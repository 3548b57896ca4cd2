package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// sockstatTCPMem returns the kernel's TCP memory in use, in bytes: the
// "mem" pages of the TCP line of /proc/net/sockstat, which count against
// net.ipv4.tcp_mem, shared by every socket of the host.
func sockstatTCPMem() (int64, error) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			if f[i] == "mem" {
				pages, err := strconv.ParseInt(f[i+1], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("sockstat: %q: %v", line, err)
				}
				return pages * int64(os.Getpagesize()), nil
			}
		}
	}
	return 0, fmt.Errorf("no TCP mem in /proc/net/sockstat:\n%s", b)
}

// TestServeThousandSlowReaders starts 1,000 downloads whose clients read
// nothing or a trickle, through small receive buffers, while another
// client keeps asking for /. The server must drop every slow reader by
// the rate floor, answer the other client within a bound all along, and
// keep its own heap and the kernel's TCP memory bounded: the latter by
// the SO_SNDBUF cap of download connections, without which each stalled
// socket's send buffer grows to 4 MiB and the host's net.ipv4.tcp_mem
// runs out, stalling every other connection. Dropped downloads are
// reset, which frees their kernel memory at once.
//
// Both ends run in this process, over loopback: 2,000 descriptors and a
// few hundred more, well under the hard limit of 20,000.
func TestServeThousandSlowReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1,000-connection load test")
	}
	const (
		readers   = 1000
		tricklers = 100            // of the readers, those that read a trickle
		size      = defaultMaxSize // what each asks for: far more than they read
		// Measured on Linux 6.18 (the test logs its figures): the heap in
		// use grows by about 17 MiB, mostly the goroutines' and
		// connections' state; the bound leaves room for a loaded machine.
		maxHeapGrowth = 64 << 20
		// The kernel's TCP memory grew by about 510 MiB: each download
		// holds its SO_SNDBUF, which the kernel doubles, and its client's
		// small receive buffer a little more. Uncapped it would reach
		// 4 MiB a download, past net.ipv4.tcp_mem on most hosts. The
		// count is the host's, so the bound leaves half as much again
		// for other processes' sockets.
		maxTCPMemGrowth = readers * 3 * defaultSndBuf
		answerBound     = 2 * time.Second
	)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 2*readers+500 {
		testenv.SkipOrFail(t, "needs %d descriptors; the limit is %d (%v)", 2*readers+500, lim.Cur, err)
	}
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The readers all come from one address and all hold a download: the
	// limits on connections and downloads are raised so that the floor
	// alone drops them (TestServeUnderAttack holds serve to its defaults).
	srv := startServer(t, ln, serveOptions{maxDownloads: readers, maxConns: readers + 100, maxPerAddr: readers + 100})
	addr := ln.Addr().String()
	window := srv.opts.rateWindow

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := int64(ms.HeapInuse)
	baseFDs := testbed.OpenFDs(t)
	baseTCP, err := sockstatTCPMem()
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)

	// Peaks of the heap and of the kernel's TCP memory, sampled every
	// 200 ms until stop.
	var peakHeap, peakTCP atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if h := int64(ms.HeapInuse); h > peakHeap.Load() {
				peakHeap.Store(h)
			}
			if m, _ := sockstatTCPMem(); m > peakTCP.Load() {
				peakTCP.Store(m)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	// The other client: a fresh connection for / every 250 ms, each to
	// be answered within answerBound.
	var asked, answered atomic.Int64
	var slowest atomic.Int64
	var otherErr atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{
			Timeout:   answerBound,
			Transport: &http.Transport{DisableKeepAlives: true},
		}
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			asked.Add(1)
			start := time.Now()
			err := getOK(client, "http://"+addr+"/")
			if err != nil {
				otherErr.Store(fmt.Sprintf("request %d: %v", asked.Load(), err))
				continue
			}
			answered.Add(1)
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
		}
	}()

	// The slow readers, with a 4 KiB receive buffer set before connecting
	// so that the window they offer stays small.
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: rcvbufControl(4 << 10)}
	dialer.SetMultipathTCP(true)
	// Half of the readers speak plain TCP, as browsers do: the kernel
	// frees their buffers otherwise than for MPTCP.
	tcpDialer := *dialer
	tcpDialer.SetMultipathTCP(false)
	conns := make([]net.Conn, 0, readers)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	began := time.Now()
	for i := range readers {
		d := dialer
		if i%2 == 1 {
			d = &tcpDialer
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow reader %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET /download?size=%d HTTP/1.1\r\nHost: x\r\n\r\n", size); err != nil {
			t.Fatalf("slow reader %d: %v", i, err)
		}
		if i < tricklers {
			// 256 bytes every 500 ms: 512 bytes per second, far below
			// the floor of 8 KiB per second.
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 256)
				for {
					select {
					case <-stop:
						return
					case <-time.After(500 * time.Millisecond):
					}
					c.SetReadDeadline(time.Now().Add(time.Second))
					if _, err := c.Read(buf); err != nil && !os.IsTimeout(err) {
						return
					}
				}
			}()
		}
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("%d downloads to start", readers), func() bool { return srv.started.Load() == readers })
	allStarted := time.Since(began)
	// Every download writes into its buffers at once and then stalls: the
	// floor drops it one window after it stalled. Three windows leave
	// room for starting 1,000 of them on a loaded machine.
	waitFor(t, 3*window+10*time.Second, "the rate floor to drop every slow reader", func() bool { return srv.active.Load() == 0 })
	allDropped := time.Since(began)
	// One more second of requests after the load.
	time.Sleep(time.Second)

	heapGrowth := peakHeap.Load() - baseHeap
	tcpGrowth := peakTCP.Load() - baseTCP
	t.Logf("%d slow readers: all started after %v, all dropped after %v (rate window %v); peak heap in use +%.1f MiB; peak TCP memory (sockstat) %.1f MiB, +%.1f MiB; other client: %d/%d answered, slowest %v",
		readers, allStarted.Round(time.Millisecond), allDropped.Round(time.Millisecond), window,
		float64(heapGrowth)/(1<<20), float64(peakTCP.Load())/(1<<20), float64(tcpGrowth)/(1<<20),
		answered.Load(), asked.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))

	if heapGrowth > maxHeapGrowth {
		t.Errorf("heap in use grew by %d MiB; want at most %d MiB", heapGrowth>>20, maxHeapGrowth>>20)
	}
	if tcpGrowth > maxTCPMemGrowth {
		t.Errorf("the kernel's TCP memory grew by %d MiB; want at most %d MiB (%d downloads of SO_SNDBUF %d KiB)",
			tcpGrowth>>20, maxTCPMemGrowth>>20, readers, defaultSndBuf>>10)
	}
	if e := otherErr.Load(); e != nil || answered.Load() < 4 {
		t.Errorf("the other client: %d of %d requests answered within %v; last error: %v", answered.Load(), asked.Load(), answerBound, e)
	}
	// The server closed its ends of the slow readers' connections: this
	// process holds the readers' own ends and little else.
	var fds int
	waitFor(t, 10*time.Second, "the server to close its ends", func() bool {
		fds = testbed.OpenFDs(t)
		return fds < baseFDs+readers+50
	})
	// The server reset the connections, rather than leave the kernel to
	// deliver what their send buffers held to readers that do not read:
	// the kernel frees their memory at once, where closed sockets would
	// hold it in FIN-WAIT-1 for a minute or more.
	var after int64
	waitFor(t, 10*time.Second, "the kernel to free the connections' buffers", func() bool {
		after, _ = sockstatTCPMem()
		return after-baseTCP < 32<<20
	})
	t.Logf("after the drop: %d descriptors open (%d before the test), TCP memory %.1f MiB", fds, baseFDs, float64(after)/(1<<20))
}
