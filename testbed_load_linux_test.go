package mptcp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// Hostile use and load over the test bed.

// Scenario 7: every method on closed, fallen-back and accepted plain-TCP
// connections, also concurrently with Close: documented errors, no
// panic, no hang.
func TestTestbedHostileUse(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	ml := b.Server.Listen(mptcpListen)
	pl := b.Server.Listen(plainListen)

	type conns struct {
		name   string
		c      *mptcp.MPTCPConn
		isMPTC bool
	}
	var all []conns
	for range 3 {
		c, s := mptcptest.ConnectTo(t, b, &mptcp.Dialer{}, ml, b.Links[0].Server)
		all = append(all, conns{"mptcp client", c, true}, conns{"mptcp server", s, true})
		c, s = mptcptest.ConnectTo(t, b, &mptcp.Dialer{}, pl, b.Links[0].Server)
		all = append(all, conns{"fallen-back client", c, false}, conns{"plain server", s, false})
		var plain mptcp.Dialer
		plain.SetMultipathTCP(false)
		c, s = mptcptest.ConnectTo(t, b, &plain, ml, b.Links[0].Server)
		all = append(all, conns{"plain client", c, false}, conns{"accepted plain TCP", s, false})
	}
	var wg sync.WaitGroup
	for _, cc := range all {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dst := make([]mptcp.Subflow, 0, 4)
				for range 300 {
					ok, err := cc.c.MultipathTCP()
					closed := errors.Is(err, net.ErrClosed)
					if err != nil && !closed {
						t.Errorf("%s: MultipathTCP: %v", cc.name, err)
					}
					if err == nil && ok != cc.isMPTC {
						t.Errorf("%s: MultipathTCP = %v, want %v", cc.name, ok, cc.isMPTC)
					}
					for _, err := range []error{
						func() error { _, err := cc.c.MPTCPInfo(); return err }(),
						func() error { _, err := cc.c.AppendSubflows(dst[:0]); return err }(),
						func() error { _, _, err := cc.c.Snapshot(dst[:0]); return err }(),
					} {
						switch {
						case err == nil && !cc.isMPTC:
							t.Errorf("%s: nil error from an MPTCP call", cc.name)
						case err != nil && !errors.Is(err, net.ErrClosed) && !(errors.Is(err, mptcp.ErrNotMPTCP) && !cc.isMPTC):
							t.Errorf("%s: %v", cc.name, err)
						}
					}
					if closed {
						return
					}
				}
			}()
		}
	}
	time.Sleep(2 * time.Millisecond)
	for _, cc := range all {
		cc.c.Close()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("calls concurrent with Close did not return in 30s")
	}
	for _, cc := range all {
		if _, err := cc.c.MultipathTCP(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s: MultipathTCP after Close: %v, want net.ErrClosed", cc.name, err)
		}
		if _, err := cc.c.Subflows(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s: Subflows after Close: %v, want net.ErrClosed", cc.name, err)
		}
	}
}

// Scenario 6: 1,000 connections from an http.Client on the package's
// Dialer to an http.Server on its Listener, 16 at a time: every request
// succeeds over MPTCP, and nothing is left behind.
func TestTestbedHTTPLoad(t *testing.T) {
	b := testbed.New(t, 1)
	goroutines, fds := runtime.NumGoroutine(), testbed.OpenFDs(t)
	l := b.Server.Listen(mptcpListen)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       mptcp.ConnContext,
		Handler:           http.HandlerFunc(reportMPTCP),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	tr := &http.Transport{
		DialContext:       b.Client.Dialer((&mptcp.Dialer{Timeout: 10 * time.Second}).DialContext),
		DisableKeepAlives: true, // one connection per request
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := fmt.Sprintf("http://%v/", netip.AddrPortFrom(b.Links[0].Server, uint16(l.Addr().(*net.TCPAddr).Port)))

	const requests, workers = 1000, 16
	jobs := make(chan int, requests)
	for i := range requests {
		jobs <- i
	}
	close(jobs)
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := client.Get(url)
				if err != nil {
					if failed.Add(1) <= 5 {
						t.Errorf("request: %v", err)
					}
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || string(body) != "your connection uses MPTCP: true\n" {
					if failed.Add(1) <= 5 {
						t.Errorf("response %d %q, %v; want the handler to see MPTCP", resp.StatusCode, body, err)
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != requests {
		t.Errorf("%d of %d requests succeeded over MPTCP", ok.Load(), requests)
	}

	tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	testbed.WaitFDs(t, fds)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines left behind", n-goroutines)
	}
}
