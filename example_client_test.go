package mptcp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"

	"github.com/multipath-go/mptcp"
)

// An http.Client learns, for each request, whether its connection used
// MPTCP and over which subflows: ConnOf finds the connection that
// httptrace's GotConn hook names (also inside a *tls.Conn, and for
// HTTP/2), and the reading is taken at the first byte of the response,
// while the connection is certainly open. After the body, a server that
// closes the connection (HTTP/1.0) would have closed it.
func ExampleConnOf() {
	srv := startServer() // tells the client whether its connection uses MPTCP

	d := &mptcp.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}

	var conn *mptcp.MPTCPConn
	var uses bool
	var subflows []mptcp.Subflow
	var readErr error
	trace := &httptrace.ClientTrace{
		GotConn: func(ci httptrace.GotConnInfo) { conn, _ = mptcp.ConnOf(ci.Conn) },
		GotFirstResponseByte: func() {
			uses, readErr = conn.MultipathTCP()
			if uses && readErr == nil {
				subflows, readErr = conn.Subflows()
			}
		},
	}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+srv, nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if readErr != nil {
		log.Fatal(readErr)
	}
	// A program would log them: log.Printf("MPTCP %v, subflows:\n%v",
	// uses, mptcp.SubflowTable(subflows)). Here, what holds on every
	// host: the client sees what the server sees, and an MPTCP
	// connection has subflows.
	fmt.Println("client and server agree:", string(body) == fmt.Sprintf("your connection uses MPTCP: %v\n", uses))
	fmt.Println("subflows if MPTCP:", uses == (len(subflows) > 0))
	// Output:
	// client and server agree: true
	// subflows if MPTCP: true
}

// Whether a connection uses MPTCP: a server that speaks only TCP makes
// the Dialer's connection fall back to TCP, and the dial succeeds.
func ExampleMPTCPConn_MultipathTCP() {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // a server that speaks only TCP
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
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
	uses, err := c.(*mptcp.MPTCPConn).MultipathTCP()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("MPTCP:", uses)
	// Output: MPTCP: false
}

// A connection made elsewhere, here by net.Dialer, which asks for MPTCP
// only where told to, wrapped to read its MPTCP state.
func ExampleNewConn() {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serveDiscard(ln) // reads what the client sends until it closes

	var d net.Dialer
	d.SetMultipathTCP(false)
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	uses, err := mptcp.NewConn(c.(*net.TCPConn)).MultipathTCP()
	fmt.Println("MPTCP:", uses, err)
	// Output: MPTCP: false <nil>
}
