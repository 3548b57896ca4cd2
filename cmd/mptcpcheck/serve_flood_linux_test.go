//go:build floodtest

// The flood test does not pass yet: with 1,000 downloads stalled, the
// kernel's TCP memory (send buffers on the server side, autotuned up to
// net.ipv4.tcp_wmem) reaches net.ipv4.tcp_mem and new connections stall,
// so the check that another client is answered fails. Run it with
// go test -tags floodtest -run TestServeHoldsSlowReaders.

package main

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
)

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestServeHoldsSlowReadersInBoundedMemory holds 1,000 downloads whose
// readers never read: the server's heap stays bounded, other clients
// still get answers, and the slow readers are dropped once they have
// stayed below the rate floor for the window.
func TestServeHoldsSlowReadersInBoundedMemory(t *testing.T) {
	const (
		readers  = 1000
		size     = 16 << 20
		window   = 5 * time.Second
		maxGrowH = 64 << 20
	)
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ln, serveOptions{
		maxSize:      size,
		maxDownloads: readers + 10,
		maxConns:     readers + 10,
		minRate:      64 << 10,
		rateWindow:   window,
	})
	addr := ln.Addr().String()
	before := heapInuse()
	start := time.Now()

	conns := make([]net.Conn, 0, readers)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	req := "GET /download?size=" + strconv.Itoa(size) + " HTTP/1.1\r\nHost: x\r\n\r\n"
	// Dial in parallel, so that the flood builds faster than the window.
	conns = conns[:readers]
	// A small receive buffer keeps the kernel's share of each small.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
	}}
	var wg sync.WaitGroup
	errc := make(chan error, readers)
	for w := range 50 {
		wg.Go(func() {
			for i := w; i < readers; i += 50 {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					errc <- err
					return
				}
				conns[i] = c
				if _, err := io.WriteString(c, req); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "all downloads to start", func() bool { return srv.started.Load() == readers })
	active := srv.active.Load()
	during := heapInuse()
	growth := int64(during) - int64(before)
	t.Logf("%d slow downloads started (%d in progress) %v after the first: heap in use %d MiB before, %d MiB during (growth %.1f MiB)",
		readers, active, time.Since(start).Round(time.Millisecond), before>>20, during>>20, float64(growth)/(1<<20))
	if growth > maxGrowH {
		t.Errorf("heap grew by %d MiB with %d slow readers, want less than %d MiB", growth>>20, readers, maxGrowH>>20)
	}

	if b, err := os.ReadFile("/proc/net/sockstat"); err == nil {
		t.Logf("%s", b)
	}
	// Another client still gets an answer during the flood.
	client, _ := mptcpClient(t, nil)
	client.Timeout = 5 * time.Second
	t0 := time.Now()
	defer func() { t.Logf("answer in %v", time.Since(t0)) }()
	if a, _ := getJSON(t, client, "http://"+addr+"/?format=json", nil); !a.Connection.MPTCP {
		t.Errorf("report during the flood: %+v", a.Connection)
	}

	// The slow readers are dropped after the window: the server ends
	// every download and closes each connection before its body is whole.
	waitFor(t, 3*window, "the slow downloads to be dropped", func() bool { return srv.active.Load() == 0 })
	t.Logf("all dropped %v after the first", time.Since(start).Round(time.Millisecond))
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Fatalf("slow reader %d: %v after %d bytes, want the connection closed", i, err, n)
		}
		if n >= size {
			t.Fatalf("slow reader %d: got %d bytes, the whole body", i, n)
		}
	}
}
