package mptcp_test

//lint:file-ignore SA1019 golang.org/x/net/http2.Transport, deprecated, is one of the transports tested

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// What an http.Client learns about its request's connection through
// ConnOf in the hooks ConnOf's documentation names, for every protocol
// net/http speaks, across a two-link test bed whose client opens a second
// subflow: MPTCP, and the subflows at that moment. A server that closes
// the connection after the body (HTTP/1.0) shows why the answer must be
// read in the hooks: afterwards the connection is closed.
func TestConnOfHTTPClient(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	mptcpDial := b.Client.Dialer((&mptcp.Dialer{Timeout: 10 * time.Second}).DialContext)
	addr := netip.AddrPortFrom(b.Links[0].Server, 0).String()
	mptcpListen := func() (net.Listener, error) { return mptcp.Listen("tcp4", addr) }
	plainListen := func() (net.Listener, error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		return lc.Listen(t.Context(), "tcp4", addr)
	}

	for _, tc := range []struct {
		name  string
		start func(*httptest.Server) // starts the server, which set proto
		proto func(*http.Protocols, bool)
		major int
		tls   bool
		http0 bool // a raw HTTP/1.0 server instead of srv, closing after the body
		xnet  bool // golang.org/x/net/http2's Transport, which dials TLS itself
	}{
		{name: "HTTP/1.1", start: (*httptest.Server).Start, proto: (*http.Protocols).SetHTTP1, major: 1},
		{name: "HTTP/1.0 closing after the body", http0: true, major: 1},
		{name: "TLS 1.3 HTTP/1.1", start: (*httptest.Server).StartTLS, proto: (*http.Protocols).SetHTTP1, major: 1, tls: true},
		{name: "HTTP/2 over TLS", start: (*httptest.Server).StartTLS, proto: (*http.Protocols).SetHTTP2, major: 2, tls: true},
		{name: "HTTP/2 without TLS", start: (*httptest.Server).Start, proto: (*http.Protocols).SetUnencryptedHTTP2, major: 2},
		{name: "x/net/http2 Transport", start: (*httptest.Server).StartTLS, proto: (*http.Protocols).SetHTTP2, major: 2, tls: true, xnet: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := b.Server.Listen(mptcpListen)
			tr := &http.Transport{DialContext: mptcpDial}
			url := "http://" + l.Addr().String()
			if tc.http0 {
				go serveHTTP10(l)
			} else {
				srv := httptest.NewUnstartedServer(http.HandlerFunc(reportMPTCP))
				srv.Listener.Close()
				srv.Listener = l
				srv.Config.Protocols = new(http.Protocols)
				tc.proto(srv.Config.Protocols, true)
				srv.EnableHTTP2 = tc.major == 2
				srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
				tc.start(srv)
				defer srv.Close()
				url = srv.URL
				if tc.tls {
					tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
					tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
				}
				tr.Protocols = new(http.Protocols)
				tc.proto(tr.Protocols, true)
			}
			var rt interface {
				http.RoundTripper
				CloseIdleConnections()
			} = tr
			if tc.xnet {
				// Deprecated for net/http's own, which from Go 1.27 it wraps,
				// but still in programs that ConnOf must serve.
				rt = &http2.Transport{
					TLSClientConfig: tr.TLSClientConfig,
					DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
						c, err := mptcpDial(ctx, network, addr)
						if err != nil {
							return nil, err
						}
						tc := tls.Client(c, cfg)
						if err := tc.HandshakeContext(ctx); err != nil {
							c.Close()
							return nil, err
						}
						return tc, nil
					},
				}
			}
			defer rt.CloseIdleConnections()
			client := &http.Client{Transport: rt, Timeout: 10 * time.Second}

			first := tracedGet(t, client, url, tc.major, tc.tls)
			if first.reused || !first.uses || first.err != nil {
				t.Fatalf("first request: reused %v, MultipathTCP %v, %v; want a new connection using MPTCP", first.reused, first.uses, first.err)
			}
			// The second subflow joins once the handshake is complete: it may
			// or may not be there yet.
			if n := len(first.subflows); n < 1 || n > 2 {
				t.Errorf("first request: %d subflows, want 1 or 2", n)
			}
			t.Logf("first request: %d subflows at GotConn, %d at its first response byte", first.atGotConn, len(first.subflows))
			// As ConnOf's documentation says: before the first data, no
			// subflow has joined.
			if first.atGotConnErr != nil || (tc.major == 1 && !tc.tls && first.atGotConn != 1) {
				t.Errorf("first request: %d subflows at GotConn, %v; want 1 on a new connection that carried no data", first.atGotConn, first.atGotConnErr)
			}
			if tc.http0 {
				// The Transport closes its end once the body is read: too
				// late to ask then.
				waitClosed(t, first.conn)
				return
			}

			// The same connection, once its second subflow is up, for a
			// second request: the reading is that of the request's moment.
			mptcptest.WaitSubflows(t, first.conn, 2)
			second := tracedGet(t, client, url, tc.major, tc.tls)
			if !second.reused || second.conn != first.conn {
				t.Fatalf("second request: reused %v, same connection %v; want the first one's", second.reused, second.conn == first.conn)
			}
			if !second.uses || second.err != nil {
				t.Fatalf("second request: MultipathTCP %v, %v", second.uses, second.err)
			}
			var locals []string
			for _, sf := range second.subflows {
				locals = append(locals, sf.Local.Addr().String())
			}
			slices.Sort(locals)
			if want := []string{b.Links[0].Client.String(), b.Links[1].Client.String()}; !slices.Equal(locals, want) {
				t.Errorf("second request: subflows from %v, want %v", locals, want)
			}
		})
	}

	// Fallback: a server that speaks only TCP, and a client whose dialer
	// does not ask for MPTCP (net.Dialer: a *net.TCPConn, which ConnOf
	// wraps). Both report false and no error.
	for _, tc := range []struct {
		name   string
		listen func() (net.Listener, error)
		dial   testbed.DialFunc
	}{
		{"plain TCP server", plainListen, mptcpDial},
		{"net.Dialer client", mptcpListen, b.Client.Dialer((&net.Dialer{Timeout: 10 * time.Second}).DialContext)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := b.Server.Listen(tc.listen)
			srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(reportMPTCP), ConnContext: mptcp.ConnContext}
			go srv.Serve(l)
			defer srv.Close()
			tr := &http.Transport{DialContext: tc.dial}
			defer tr.CloseIdleConnections()
			r := tracedGet(t, &http.Client{Transport: tr, Timeout: 10 * time.Second}, "http://"+l.Addr().String(), 1, false)
			if r.uses || r.err != nil {
				t.Errorf("MultipathTCP = %v, %v; want false and no error", r.uses, r.err)
			}
			if r.body != "your connection uses MPTCP: false\n" {
				t.Errorf("the server saw %q", r.body)
			}
		})
	}
}

// traced is what one request's hooks read.
type traced struct {
	conn   *mptcp.MPTCPConn
	reused bool
	uses   bool
	// atGotConn is the number of subflows in GotConn.
	atGotConn    int
	atGotConnErr error
	subflows     []mptcp.Subflow
	err          error
	body         string
}

// tracedGet makes a GET request that reads its connection's state at the
// first response byte, as ConnOf's documentation shows, and checks the
// protocol and TLS version the request used.
func tracedGet(t *testing.T, client *http.Client, url string, major int, useTLS bool) traced {
	t.Helper()
	var r traced
	var found bool
	trace := &httptrace.ClientTrace{
		GotConn: func(ci httptrace.GotConnInfo) {
			r.conn, found = mptcp.ConnOf(ci.Conn)
			r.reused = ci.Reused
			if found {
				subs, err := r.conn.Subflows()
				r.atGotConn, r.atGotConnErr = len(subs), err
			}
		},
		GotFirstResponseByte: func() {
			if r.uses, r.err = r.conn.MultipathTCP(); r.uses && r.err == nil {
				var info mptcp.Info
				info, r.subflows, r.err = r.conn.Snapshot(nil)
				// The path manager's count and the list agree but for a
				// subflow joining or closing at that instant (Snapshot's
				// documentation).
				if d := int(info.TotalSubflows()) - len(r.subflows); r.err == nil && (d < -1 || d > 1) {
					r.err = fmt.Errorf("Info counts %d subflows, Snapshot gave %d", info.TotalSubflows(), len(r.subflows))
				}
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	r.body = string(body)
	if !found {
		t.Fatal("ConnOf found no connection in GotConn")
	}
	if resp.ProtoMajor != major || (resp.TLS != nil) != useTLS || (useTLS && resp.TLS.Version != tls.VersionTLS13) {
		t.Fatalf("the request used %s, TLS %v; want HTTP/%d, TLS 1.3 %v", resp.Proto, resp.TLS != nil, major, useTLS)
	}
	return r
}

// serveHTTP10 answers each request on l as an HTTP/1.0 server does: no
// length, the body ended by closing the connection.
func serveHTTP10(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if strings.TrimSpace(line) == "" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello\n")
		}()
	}
}

// waitClosed waits up to 10 s for c's methods to fail with net.ErrClosed.
func waitClosed(t *testing.T, c *mptcp.MPTCPConn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.MultipathTCP()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("MultipathTCP after the body of an HTTP/1.0 response: %v, want net.ErrClosed", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
