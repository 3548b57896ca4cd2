package mptcp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/multipath-go/mptcp"
)

// An http.Client whose connections use MPTCP where the server and the
// path allow it, and fall back to TCP elsewhere. The server tells the
// client which it was; [ConnOf] shows how the client learns it itself.
func ExampleDialer_httpClient() {
	srv := startServer() // an HTTP server on loopback, see the next example

	d := &mptcp.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}

	resp, err := client.Get("http://" + srv)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	// The body says "your connection uses MPTCP: true" where the host and
	// the path allow MPTCP, and "false" elsewhere, so it is not printed
	// here; ConnOf's example shows the client's own view.
	io.Copy(io.Discard, resp.Body)
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// An http.Server on an MPTCP listener that tells each client whether its
// connection uses MPTCP. mptcp.ConnContext stores the connection in the
// request's context, where mptcp.ConnFromContext finds it, also when the
// server serves TLS.
func ExampleListen_httpServer() {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       mptcp.ConnContext,
		Handler:           http.HandlerFunc(reportMPTCP),
	}
	go srv.Serve(ln)
	defer srv.Close()

	resp, err := http.Get("http://" + ln.Addr().String()) // net/http's default dialer: plain TCP
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output: your connection uses MPTCP: false
}

// Printing the paths of a connection: its subflows where it uses MPTCP,
// else its one TCP path.
func ExampleMPTCPConn_Subflows() {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serveDiscard(ln) // reads what the client sends until it closes

	c, err := mptcp.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	conn := c.(*mptcp.MPTCPConn)

	subflows, err := conn.Subflows()
	switch {
	case err == nil:
		for _, sf := range subflows { // sf.TCP: its tcp_info (state, RTT, ...)
			fmt.Println(sf.Local.Addr(), "->", sf.Remote.Addr())
		}
		// For logs: fmt.Print(mptcp.SubflowTable(subflows)) prints an
		// aligned table, and slog.Any("subflows", mptcp.SubflowTable(subflows))
		// a group.
	case errors.Is(err, mptcp.ErrNotMPTCP), errors.Is(err, errors.ErrUnsupported):
		// Plain TCP: MPTCP is off on this host (net.mptcp.enabled=0),
		// the peer or a middlebox refused it, or the kernel has none.
		local, remote := conn.LocalAddr().(*net.TCPAddr), conn.RemoteAddr().(*net.TCPAddr)
		fmt.Println(local.IP, "->", remote.IP)
	default:
		log.Fatal(err)
	}
	// Output:
	// 127.0.0.1 -> 127.0.0.1
}

// Strict mode: a dial fails with ErrNotMPTCP instead of falling back.
func ExampleDialer_requireMPTCP() {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // a server that speaks only TCP
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	d := &mptcp.Dialer{RequireMPTCP: true}
	_, err = d.Dial("tcp", ln.Addr().String())
	fmt.Println(errors.Is(err, mptcp.ErrNotMPTCP))
	// Output: true
}

// reportMPTCP tells the client whether its connection uses MPTCP.
func reportMPTCP(w http.ResponseWriter, r *http.Request) {
	c, ok := mptcp.ConnFromContext(r.Context())
	if !ok {
		http.Error(w, "not a connection of package mptcp", http.StatusInternalServerError)
		return
	}
	uses, err := c.MultipathTCP()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "your connection uses MPTCP: %v\n", uses)
}

// startServer serves reportMPTCP on an MPTCP listener on loopback and
// returns its address.
func startServer() string {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ConnContext: mptcp.ConnContext, Handler: http.HandlerFunc(reportMPTCP)}
	go srv.Serve(ln)
	return ln.Addr().String()
}

// serveDiscard accepts one connection on ln and reads it until the client
// closes it.
func serveDiscard(ln net.Listener) {
	c, err := ln.Accept()
	if err == nil {
		io.Copy(io.Discard, c)
		c.Close()
	}
}
