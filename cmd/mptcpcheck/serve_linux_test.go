package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestServeCapsDownloadsAndConns checks -max-downloads (503) and
// -max-conns (an idle connection shed for a newcomer).
func TestServeCapsDownloadsAndConns(t *testing.T) {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, ln, serveOptions{maxDownloads: 2, maxConns: 3, minRate: 1 << 10, rateWindow: 10 * time.Second})
	addr := ln.Addr().String()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for range 2 { // two downloads that are never read
		c := dial()
		io.WriteString(c, "GET /download?size=60000000 HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	waitFor(t, 5*time.Second, "two downloads", func() bool { return srv.active.Load() == 2 })

	third := dial()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(third, "GET /download?size=10 HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close {
		t.Errorf("download over -max-downloads: %d, close %v; want 503 and the connection closed", resp.StatusCode, resp.Close)
	}

	// The third slot is free again once the server closed that one. Wait
	// for the server to count it gone: a newcomer admitted before that
	// would shed one of the downloads to make room (found on an emulated
	// machine), leaving the fourth below room for it.
	waitFor(t, 5*time.Second, "the refused download's connection to be closed", func() bool {
		srv.conns.mu.Lock()
		defer srv.conns.mu.Unlock()
		return srv.conns.n == 2
	})
	var idle net.Conn
	waitFor(t, 5*time.Second, "a third connection to be served", func() bool {
		if idle != nil {
			idle.Close()
		}
		idle = dial()
		idle.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	// idle holds the third slot, the connection that costs least to lose:
	// a fourth connection is served, and idle is shed to make room. The
	// wait above may itself have shed a connection (a try made while the
	// refused download's connection still counted), so count from here.
	shed := srv.conns.shed.Load()
	if n := srv.active.Load(); n != 2 {
		t.Fatalf("%d downloads before the fourth connection, want the two", n)
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	fourth := dial()
	fourth.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(fourth, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(fourth), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("connection over -max-conns: %v; want it served", err)
	}
	if b, err := io.ReadAll(idle); len(b) != 0 || (err != nil && !isReset(err)) {
		t.Errorf("the idle connection after a fourth came: read %q, %v; want it closed", b, err)
	}
	if n := srv.conns.shed.Load() - shed; n != 1 {
		t.Errorf("%d connections shed for the fourth, want 1", n)
	}
}

// TestServeTLSMisconfiguredIsUsageError checks that a missing or
// mismatched certificate is refused before anything is announced, naming
// the flag, with the usage status.
func TestServeTLSMisconfiguredIsUsageError(t *testing.T) {
	certA, keyA, _ := testbed.SelfSignedCert(t)
	_, keyB, _ := testbed.SelfSignedCert(t)
	missing := filepath.Join(t.TempDir(), "x.pem")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM"), 0o600)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing cert", missing, keyA, "-cert: open " + missing},
		{"missing key", certA, missing, "-key: open " + missing},
		{"mismatched key", certA, keyB, "-cert " + certA + " and -key " + keyB + ": tls: private key does not match public key"},
		{"not a certificate", garbage, keyA, "-cert " + garbage + " and -key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "serve", "-addr", "127.0.0.1:0", "-cert", tc.cert, "-key", tc.key)
			if code != exitUsage || !strings.Contains(errs, tc.want) || strings.Contains(out+errs, "serving on") {
				t.Errorf("status %d, stdout %q, stderr %q; want %d, %q and nothing served", code, out, errs, exitUsage, tc.want)
			}
		})
	}
}

// TestServeSndbufFlag checks that a negative -sndbuf is a usage error
// naming the flag, before anything is served.
func TestServeSndbufFlag(t *testing.T) {
	code, out, errs := runCmd(t, "serve", "-addr", "127.0.0.1:0", "-sndbuf", "-1")
	if code != exitUsage || !strings.Contains(errs, "-sndbuf must be at least 0") || strings.Contains(out, "serving on") {
		t.Errorf("serve -sndbuf -1: status %d, stdout %q, stderr %q; want %d and the flag named", code, out, errs, exitUsage)
	}
}

// TestServeMaxConnsPerAddrFlag checks that -max-conns-per-addr below 1 is
// a usage error naming the flag, before anything is served.
func TestServeMaxConnsPerAddrFlag(t *testing.T) {
	code, out, errs := runCmd(t, "serve", "-addr", "127.0.0.1:0", "-max-conns-per-addr", "0")
	if code != exitUsage || !strings.Contains(errs, "-max-conns-per-addr must be at least 1") || strings.Contains(out, "serving on") {
		t.Errorf("serve -max-conns-per-addr 0: status %d, stdout %q, stderr %q; want %d and the flag named", code, out, errs, exitUsage)
	}
}
