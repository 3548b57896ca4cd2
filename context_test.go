package mptcp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
)

// ConnContext and ConnFromContext find the *MPTCPConn in a handler, over
// plain HTTP and over TLS, where it arrives inside a *tls.Conn.
func TestConnContextFindsConnectionPlainAndTLS(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[useTLS], func(t *testing.T) {
			ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			// MPTCP where the kernel has it; a kernel without it (5.10 in
			// the kernel matrix) gives a TCP listener, and the handler
			// must still find the connection and say so.
			listenerMPTCP, err := ln.(*mptcp.Listener).MultipathTCP()
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(reportMPTCP))
			srv.Listener.Close()
			srv.Listener = ln
			srv.Config.ConnContext = mptcp.ConnContext
			if useTLS {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()

			client := srv.Client()
			tr := client.Transport.(*http.Transport)
			tr.DialContext = (&mptcp.Dialer{Timeout: 5 * time.Second}).DialContext
			client.Timeout = 10 * time.Second
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.TLS == nil && useTLS {
				t.Fatal("the request did not use TLS")
			}
			if got, want := string(body), fmt.Sprintf("your connection uses MPTCP: %v\n", listenerMPTCP); got != want {
				t.Errorf("handler said %q (status %d), want %q", got, resp.StatusCode, want)
			}
		})
	}
}

func TestConnContextIgnoresOtherConnections(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	ctx := mptcp.ConnContext(context.Background(), tls.Client(c1, &tls.Config{}))
	if c, ok := mptcp.ConnFromContext(ctx); ok || c != nil {
		t.Errorf("ConnFromContext found %v in the context of a pipe", c)
	}
}

// A handler of a server without ConnContext finds no connection, and the
// nil *MPTCPConn it gets says what to do instead.
func TestConnFromContextWithoutConnContextSaysWhatToDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := mptcp.ConnFromContext(r.Context())
		_, err := c.MultipathTCP()
		fmt.Fprintf(w, "%v %v %v", ok, errors.Is(err, os.ErrInvalid), err)
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got := string(body); !strings.HasPrefix(got, "false true ") || !strings.Contains(got, "http.Server.ConnContext is mptcp.ConnContext") {
		t.Errorf("handler without ConnContext: %q; want ok false and an error matching os.ErrInvalid that names the remedy", got)
	}
}

// ConnContext finds the connection of a server on a listener of package
// net too: a *net.TCPConn, which it wraps.
func TestConnContextFindsNetTCPConn(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(reportMPTCP))
	srv.Config.ConnContext = mptcp.ConnContext
	srv.Start()
	defer srv.Close()
	var d net.Dialer
	d.SetMultipathTCP(false)
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got, want := string(body), "your connection uses MPTCP: false\n"; got != want {
		t.Errorf("handler said %q (status %d), want %q", got, resp.StatusCode, want)
	}
}

// ConnOf finds the connection behind a *tls.Conn and a *net.TCPConn, and
// nothing, without panicking, in nil values and other connections.
func TestConnOf(t *testing.T) {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := mptcp.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mc := c.(*mptcp.MPTCPConn)
	for name, nc := range map[string]net.Conn{
		"*MPTCPConn":         mc,
		"*tls.Conn":          tls.Client(mc, &tls.Config{}),
		"*tls.Conn of a tls": tls.Server(tls.Client(mc, &tls.Config{}), &tls.Config{}),
	} {
		if got, ok := mptcp.ConnOf(nc); got != mc || !ok {
			t.Errorf("ConnOf(%s) = %p, %v; want %p, true", name, got, ok, mc)
		}
	}
	if got, ok := mptcp.ConnOf(mc.TCPConn); !ok || got.TCPConn != mc.TCPConn {
		t.Errorf("ConnOf(*net.TCPConn) = %v, %v; want it wrapped", got, ok)
	}

	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	for name, nc := range map[string]net.Conn{
		"nil":               nil,
		"nil *MPTCPConn":    (*mptcp.MPTCPConn)(nil),
		"nil *net.TCPConn":  (*net.TCPConn)(nil),
		"nil *tls.Conn":     (*tls.Conn)(nil),
		"pipe":              p1,
		"*tls.Conn of pipe": tls.Client(p1, &tls.Config{}),
		"*tls.Conn of nil":  tls.Client(nil, &tls.Config{}),
		"NetConn loop":      loopConn{},
		"zero *MPTCPConn":   &mptcp.MPTCPConn{},
	} {
		got, ok := mptcp.ConnOf(nc)
		if name == "zero *MPTCPConn" {
			// The caller's own value, whose methods say it holds no connection.
			if !ok || got != nc {
				t.Errorf("ConnOf(%s) = %v, %v; want it back", name, got, ok)
			}
			continue
		}
		if got != nil || ok {
			t.Errorf("ConnOf(%s) = %v, %v; want nil, false", name, got, ok)
		}
	}
}

// loopConn is a connection whose NetConn returns itself.
type loopConn struct{ net.Conn }

func (c loopConn) NetConn() net.Conn { return c }
