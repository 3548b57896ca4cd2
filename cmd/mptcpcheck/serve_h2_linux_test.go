package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// recordingListener keeps the connections it accepts.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*mptcp.MPTCPConn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if mc, ok := c.(*mptcp.MPTCPConn); ok {
		l.mu.Lock()
		l.conns = append(l.conns, mc)
		l.mu.Unlock()
	}
	return c, err
}

// startHTTP2Server starts serve over HTTPS with opts, on a listener that
// records what it accepts, and returns a client that speaks HTTP/2 to it
// and its URL.
func startHTTP2Server(t *testing.T, opts serveOptions) (*server, *recordingListener, *http.Client, string) {
	t.Helper()
	certFile, keyFile, pool := testbed.SelfSignedCert(t)
	cert, err := loadCert(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &recordingListener{Listener: inner}
	opts.tlsCert = &cert
	srv := startServer(t, ln, opts)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return srv, ln, &http.Client{Transport: tr, Timeout: 10 * time.Second}, "https://" + inner.Addr().String()
}

// getOverHTTP2 gets url with client and fails t unless the answer came
// over HTTP/2.
func getOverHTTP2(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		resp.Body.Close()
		t.Fatalf("%s came over %s; the test needs HTTP/2", url, resp.Proto)
	}
	return resp
}

// accepted returns how many connections l accepted.
func (l *recordingListener) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Over HTTP/2 a download shares its connection with the client's other
// requests: one cut short must not leave that connection to end with a
// reset (SO_LINGER 0), which would discard whatever the server wrote
// last for the other requests, nor shrink its send buffer. Both apply to
// HTTP/1 connections only, which carry one download at a time.
func TestDownloadOverHTTP2LeavesTheConnectionAlone(t *testing.T) {
	srv, ln, client, base := startHTTP2Server(t, serveOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/download?size=33554432", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("the download came over %s; the test needs HTTP/2", resp.Proto)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	cancel() // the stream is reset; the connection stays
	resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); srv.active.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the download's handler did not end within 5 s of the cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err = client.Get(base + "/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	ln.mu.Lock()
	conns := ln.conns
	ln.mu.Unlock()
	if len(conns) != 1 {
		t.Fatalf("%d connections accepted, want the one HTTP/2 connection", len(conns))
	}
	raw, err := conns[0].SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var linger *unix.Linger
	var sndbuf int
	var gerr error
	raw.Control(func(fd uintptr) {
		linger, gerr = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER)
		if gerr == nil {
			sndbuf, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	if linger.Onoff != 0 {
		t.Errorf("after a download cut short, the HTTP/2 connection has SO_LINGER %+v: it would end with a reset", *linger)
	}
	if sndbuf == 2*defaultSndBuf {
		t.Errorf("the HTTP/2 connection's send buffer was fixed at -sndbuf (%d)", sndbuf)
	}
}

// Over HTTP/2, the 503 for a download over -max-downloads leaves the
// connection open: the client's download in progress and its next
// request go on over the same connection, with no GOAWAY.
func TestDownloadRefusedOverHTTP2KeepsTheConnection(t *testing.T) {
	_, ln, client, base := startHTTP2Server(t, serveOptions{maxDownloads: 1})

	// Three times the client's HTTP/2 stream window (4 MiB), so that it
	// is still in progress at the 503, and small enough to finish within
	// the client's timeout on an emulated machine (2.5 MB/s measured).
	first := getOverHTTP2(t, client, base+"/download?size=12582912")
	defer first.Body.Close()
	second, err := client.Get(base + "/download?size=10")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, second.Body)
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" {
		t.Fatalf("a second download at -max-downloads 1: %s, Retry-After %q; want 503 and when to retry", second.Status, second.Header.Get("Retry-After"))
	}
	next, err := client.Get(base + "/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, next.Body)
	next.Body.Close()
	if next.StatusCode != http.StatusOK {
		t.Errorf("the request after the 503: %s", next.Status)
	}
	if n, err := io.Copy(io.Discard, first.Body); err != nil || n == 0 {
		t.Errorf("the download in progress after the 503: %d bytes, %v; want it whole", n, err)
	}
	n := ln.accepted()
	if n != 1 {
		t.Errorf("%d connections accepted; want the one HTTP/2 connection to serve every request", n)
	}
}

// Over HTTP/2, a download whose reader stops is dropped as over HTTP/1,
// by resetting its stream alone: the connection serves the next request.
func TestDownloadStalledOverHTTP2ResetsTheStreamAlone(t *testing.T) {
	const stall = 2 * time.Second
	srv, ln, client, base := startHTTP2Server(t, serveOptions{maxStall: stall})
	resp := getOverHTTP2(t, client, base+"/download?size=67108864")
	defer resp.Body.Close()
	// Read nothing: the stream's flow-control window fills, then nothing
	// moves.
	waitFor(t, 5*stall, "the stalled download to be dropped", func() bool { return srv.active.Load() == 0 })
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Error("the stalled download's body ended without an error; want its stream reset")
	}
	next, err := client.Get(base + "/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, next.Body)
	next.Body.Close()
	n := ln.accepted()
	if next.StatusCode != http.StatusOK || n != 1 {
		t.Errorf("after the drop: %s over %d connections; want 200 over the one connection", next.Status, n)
	}
}
