package mptcp_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
