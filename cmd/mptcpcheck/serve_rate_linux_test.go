package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
)

// startDownload dials addr with a receive buffer of rcvbuf bytes (0: the
// kernel's), asks for a download of size bytes and returns the
// connection and the response, whose body is still to be read.
func startDownload(t *testing.T, addr string, rcvbuf, size int) (net.Conn, *http.Response) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = rcvbufControl(rcvbuf)
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /download?size=%d HTTP/1.1\r\nHost: x\r\n\r\n", size)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %s", resp.Status)
	}
	c.SetReadDeadline(time.Time{})
	return c, resp
}

// A reader that takes 5 MiB at once and then sleeps 5 s, again and again,
// averages 1 MiB/s, over a hundred times the default floor: it is never
// dropped, although the server cannot write for as long as it sleeps.
func TestServeRateFloorKeepsBurstyReader(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 15 s")
	}
	const (
		gulp  = 5 << 20
		pause = 5 * time.Second
		size  = 3 * gulp
	)
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ln, serveOptions{})
	_, resp := startDownload(t, ln.Addr().String(), 0, size)
	start := time.Now()
	var got int64
	for got < size {
		if got > 0 {
			time.Sleep(pause)
		}
		n, err := io.CopyN(io.Discard, resp.Body, gulp)
		got += n
		if err != nil {
			t.Fatalf("after %d of %d bytes, %v in: %v (pausing %v after each %d MiB; floor %d bytes/s over %v)",
				got, size, time.Since(start).Round(time.Millisecond), err, pause, gulp>>20, srv.opts.minRate, srv.opts.rateWindow)
		}
	}
	t.Logf("%d MiB in gulps of %d MiB, %v apart: %v", size>>20, gulp>>20, pause, time.Since(start).Round(time.Millisecond))
}

// curl --limit-rate 1M, over TCP and over MPTCP (mptcpize), fetches a
// 12 MiB download whole from serve with its defaults.
func TestServeRateFloorKeepsCurlLimitRate(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 s")
	}
	const size = 12 << 20
	curl := requireTool(t, "curl")
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, ln, serveOptions{})
	url := fmt.Sprintf("http://%s/download?size=%d", ln.Addr(), size)
	args := []string{"-sS", "-o", "/dev/null", "--max-time", "60", "--limit-rate", "1M", "-w", "%{http_code} %{size_download} %{time_total}", url}
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"TCP", append([]string{curl}, args...)},
		{"MPTCP", append([]string{requireTool(t, "mptcpize"), "run", curl}, args...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := runTool(t, tc.argv[0], tc.argv[1:]...)
			f := strings.Fields(out)
			if len(f) != 3 || f[0] != "200" || f[1] != strconv.Itoa(size) {
				t.Fatalf("curl --limit-rate 1M: %q; want 200 and all %d bytes", out, size)
			}
			t.Logf("curl --limit-rate 1M over %s: %s bytes in %s s", tc.name, f[1], f[2])
		})
	}
}

// A reader slower than the floor is still dropped, whether it trickles
// or stalls, within a few windows of starting.
func TestServeRateFloorDropsSlowReaders(t *testing.T) {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ln, serveOptions{})
	addr := ln.Addr().String()
	window, floor := srv.opts.rateWindow, srv.opts.minRate
	for _, tc := range []struct {
		name string
		rate int // bytes per second read; 0: none
	}{
		{"stalled", 0},
		{"trickle", int(floor) / 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, resp := startDownload(t, addr, 4<<10, defaultMaxSize)
			start := time.Now()
			var got int64
			var err error
			// Until the server resets the connection, read at tc.rate.
			for err == nil && tcpState(c) == unix.BPF_TCP_ESTABLISHED && time.Since(start) < 5*window {
				time.Sleep(100 * time.Millisecond)
				if tc.rate > 0 {
					var n int64
					n, err = io.CopyN(io.Discard, resp.Body, int64(tc.rate/10))
					got += n
				}
			}
			took := time.Since(start)
			if err == nil {
				// What the buffers held comes first, then the reset.
				_, err = io.Copy(io.Discard, resp.Body)
			}
			if !isReset(err) {
				t.Fatalf("a %s reader after %v: %v; want the download reset", tc.name, took, err)
			}
			// The grace, then what the 4 KiB receive buffer took at the
			// floor's rate, and a window's margin for a loaded machine.
			if took < window || took > 3*window {
				t.Errorf("a %s reader dropped after %v; want after the grace of %v and within %v", tc.name, took, window, 3*window)
			}
			t.Logf("a %s reader (%d bytes/s, floor %d): dropped after %v, having read %d bytes: %v", tc.name, tc.rate, floor, took.Round(time.Millisecond), got, err)
		})
	}
}

// A reader that takes a large part of a download at once and then stops
// is far ahead of the floor for an hour; it is dropped once it has
// received nothing for maxStall (30 s; 2 s here), so that it does not
// hold its download slot and connection all that time.
func TestServeRateFloorDropsReaderThatStops(t *testing.T) {
	const stall = 2 * time.Second
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ln, serveOptions{maxStall: stall})
	c, resp := startDownload(t, ln.Addr().String(), 0, defaultMaxSize)
	if _, err := io.CopyN(io.Discard, resp.Body, 16<<20); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	waitFor(t, 4*stall, "the download to be dropped", func() bool { return tcpState(c) != unix.BPF_TCP_ESTABLISHED })
	took := time.Since(stopped)
	if took < stall {
		t.Errorf("dropped %v after it stopped reading; want no sooner than %v", took, stall)
	}
	if _, err := io.Copy(io.Discard, resp.Body); !isReset(err) {
		t.Errorf("after the drop: %v; want a reset", err)
	}
	t.Logf("16 MiB read, then nothing: dropped after %v (floor %d bytes/s)", took.Round(time.Millisecond), srv.opts.minRate)
}
