package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/explain"
)

// hostReport is what checkHost finds.
type hostReport struct {
	OS          string   `json:"os"`
	Kernel      string   `json:"kernel"`
	PathManager string   `json:"path_manager,omitempty"` // "in-kernel" or "userspace"
	Problems    []string `json:"problems"`               // each one stops MPTCP from working
	Notes       []string `json:"notes"`                  // worth knowing, not fatal
	// blackhole is the state of the kernel's blackhole detection, or nil.
	blackhole *explain.Blackhole
}

func (h hostReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "host: %s %s", h.OS, h.Kernel)
	if h.PathManager != "" {
		fmt.Fprintf(w, ", path manager %s", h.PathManager)
	}
	fmt.Fprintln(w)
	for _, p := range h.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	for _, n := range h.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// demo checks the host, then serves and fetches over MPTCP on loopback
// and prints what each end sees.
func demo(ctx context.Context, stdout, stderr io.Writer) int {
	host := checkHost()
	host.writeText(stdout)
	readPathManager().writeText(stdout)

	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck: %v\n", err)
		return exitFail
	}
	srv := newServer(serveOptions{})
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	defer func() { srv.Close(); <-done }()
	lnMPTCP, _ := ln.(*mptcp.Listener).MultipathTCP()
	fmt.Fprintf(stdout, "server: listening on %s, MPTCP listener: %s\n", ln.Addr(), yesNo(lnMPTCP))

	var view struct {
		Server connReport `json:"connection"`
	}
	url := "http://" + ln.Addr().String() + "/?format=json"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var dialed capturedConn
	client := &http.Client{Transport: &http.Transport{DialContext: dialed.dial(&mptcp.Dialer{})}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck: fetching %s: %v\n", url, err)
		return exitFail
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&view)
	resp.Body.Close()
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck: reading the server's answer: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "client: GET %s: %s\n\n", url, resp.Status)
	cv := describe(dialed.get())
	fmt.Fprintln(stdout, "the client sees:")
	cv.writeText(stdout)
	fmt.Fprintln(stdout, "\nthe server sees:")
	sv := view.Server
	sv.writeText(stdout)
	fmt.Fprintln(stdout)
	if cv.MPTCP && sv.MPTCP {
		fmt.Fprintln(stdout, "result: MPTCP works end to end")
		return exitOK
	}
	reason := "the connection fell back to TCP"
	if len(host.Problems) > 0 {
		reason = strings.Join(host.Problems, "; ")
	}
	fmt.Fprintf(stdout, "result: MPTCP does not work here: %s\n", reason)
	return exitFail
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// capturedConn remembers the last connection a DialContext made, for a
// report after the request.
type capturedConn struct {
	mu sync.Mutex
	c  *mptcp.MPTCPConn
}

func (cc *capturedConn) dial(d *mptcp.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return cc.wrap(d.DialContext)
}

func (cc *capturedConn) wrap(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		mc, ok := c.(*mptcp.MPTCPConn)
		if !ok {
			c.Close()
			return nil, errors.New("mptcpcheck: dialer returned a connection that is not an *mptcp.MPTCPConn")
		}
		cc.mu.Lock()
		cc.c = mc
		cc.mu.Unlock()
		return mc, nil
	}
}

func (cc *capturedConn) get() *mptcp.MPTCPConn {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.c
}
