package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// TestDownloadStatus checks /download/status over two paths of the test
// bed: an unknown id gets 404; the id a download's response carries
// reports that download's connection, with its two subflows by the
// addresses the client sees and their byte counters; once the download
// ended, the same id gets 404. The download's body arrives whole: the
// reset that ends a dropped download never cuts a completed one.
func TestDownloadStatus(t *testing.T) {
	b := testbed.New(t, 2)
	for i := range b.Links {
		b.Shape(i, "tbf rate 20mbit burst 32kbit latency 50ms")
	}
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	// Small socket buffers bound what the server can write ahead of the
	// client's reads, whatever the machine's speed: the download below
	// is bigger than all of them together (the client's and the server's
	// MPTCP sockets and their four subflows), so it is still in
	// progress when the status is asked (the server was measured 0.9 MB
	// ahead of the client's reads after 5 s without any). Kept small, the
	// download takes seconds, not minutes, on an emulated machine (the
	// kernel matrix, without KVM).
	b.Client.Sysctl("net.ipv4.tcp_rmem", "4096 131072 524288")
	b.Server.Sysctl("net.ipv4.tcp_wmem", "4096 16384 524288")
	ln := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", ":0") })
	srv := startServer(t, ln, serveOptions{})
	base := fmt.Sprintf("http://%v", netip.AddrPortFrom(b.Links[0].Server, uint16(ln.Addr().(*net.TCPAddr).Port)))

	dial := b.Client.Dialer((&mptcp.Dialer{Timeout: 10 * time.Second}).DialContext)
	// The download's connection, kept to compare its addresses with the
	// status; the status is asked over other connections.
	conns := make(chan net.Conn, 1)
	// The download took 6 s to 67 s in emulated machines sharing the CPU.
	download := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err == nil {
				select {
				case conns <- c:
				default:
				}
			}
			return c, err
		},
	}}
	poll := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial}}
	t.Cleanup(func() {
		download.CloseIdleConnections()
		poll.CloseIdleConnections()
	})
	status := func(id string) (int, downloadStatus) {
		t.Helper()
		resp, err := poll.Get(base + "/download/status?id=" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st downloadStatus
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatalf("status of %q: %v", id, err)
			}
		}
		return resp.StatusCode, st
	}

	for _, id := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if code, _ := status(id); code != http.StatusNotFound {
			t.Errorf("status of unknown id %q: %d, want 404", id, code)
		}
	}

	const size = 8 << 20 // about 2 s over the two 20 Mbit/s paths
	resp, err := download.Get(fmt.Sprintf("%s/download?size=%d", base, size))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	id := resp.Header.Get(downloadIDHeader)
	if len(id) != 26 {
		t.Fatalf("download's %s: %q, want 26 characters", downloadIDHeader, id)
	}
	c := <-conns
	got := int64(0)
	read := func(n int64) {
		t.Helper()
		m, err := io.CopyN(io.Discard, resp.Body, n)
		got += m
		if err != nil {
			t.Fatalf("download: %v after %d bytes", err, got)
		}
	}
	read(1 << 20)

	// The client's second subflow joins once data flows: wait for it.
	var st downloadStatus
	waitFor(t, 10*time.Second, "the status to show two subflows", func() bool {
		read(64 << 10)
		code, s := status(id)
		if code != http.StatusOK {
			t.Fatalf("status of the download in progress: %d", code)
		}
		st = s
		return len(st.Connection.Subflows) == 2
	})
	// The server's view of the download's connection: its addresses are
	// the client's, swapped, and its first subflow is the connection's.
	if !st.Connection.MPTCP || st.Connection.Local != c.RemoteAddr().String() || st.Connection.Remote != c.LocalAddr().String() {
		t.Errorf("status reports connection %s -> %s (MPTCP %v); the download's is %s -> %s",
			st.Connection.Remote, st.Connection.Local, st.Connection.MPTCP, c.LocalAddr(), c.RemoteAddr())
	}
	clientAddrs := map[string]bool{}
	for _, s := range st.Connection.Subflows {
		clientAddrs[netip.MustParseAddrPort(s.Remote).Addr().String()] = true
		if s.BytesAcked == 0 {
			t.Errorf("subflow %s -> %s: no byte acknowledged", s.Local, s.Remote)
		}
	}
	if !clientAddrs[b.Links[0].Client.String()] || !clientAddrs[b.Links[1].Client.String()] {
		t.Errorf("subflows from %v; want one from each client address", clientAddrs)
	}
	if st.Size != size || st.Written < got || st.Written > size || st.ElapsedMillis <= 0 {
		t.Errorf("status: size %d, written %d, elapsed %d ms; the client read %d of %d", st.Size, st.Written, st.ElapsedMillis, got, size)
	}
	t.Logf("the server had written %d bytes when the status was asked; the client had read %d", st.Written, got)
	read(size - got)
	if n, _ := io.Copy(io.Discard, resp.Body); n != 0 {
		t.Errorf("download: %d bytes more than %d", n, size)
	}
	waitFor(t, 5*time.Second, "the download to end", func() bool { return srv.active.Load() == 0 })
	if code, _ := status(id); code != http.StatusNotFound {
		t.Errorf("status of a finished download: %d, want 404", code)
	}
}
