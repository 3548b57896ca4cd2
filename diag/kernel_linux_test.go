package diag_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// Package diag sees this process's own connections as the connections
// themselves describe them: the same tokens, subflows and fallbacks. It
// runs on every kernel of the kernel matrix, where ss is not at hand
// (diag_linux_test.go compares diag with ss on the host).
func TestDiagAgreesWithConnections(t *testing.T) {
	l, err := mptcp.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ok, _ := l.(*mptcp.Listener).MultipathTCP(); !ok {
		// A kernel without MPTCP has no MPTCP socket diagnostics either.
		dc, err := diag.Dial(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dc.Close()
		if _, err := dc.List(nil); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("listing on a kernel without MPTCP: %v, want errors.ErrUnsupported", err)
		}
		testenv.SkipOrFail(t, "this kernel makes no MPTCP listening sockets")
	}
	var plain net.ListenConfig
	plain.SetMultipathTCP(false)
	pl, err := plain.Listen(t.Context(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	accepted := make(chan net.Conn, 2)
	for _, ln := range []net.Listener{l, pl} {
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
		}()
	}
	d := mptcp.Dialer{Timeout: 5 * time.Second}
	c, err := d.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fb, err := d.Dial("tcp4", pl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	for range 2 {
		s := <-accepted
		defer s.Close()
		if s.LocalAddr().String() == l.Addr().String() {
			testbed.PingPong(t, c, s)
		}
	}
	client := c.(*mptcp.MPTCPConn)
	want, err := client.MPTCPInfo()
	if err != nil {
		t.Fatal(err)
	}
	wantSubs, err := client.Subflows()
	if err != nil {
		t.Fatal(err)
	}

	dc, err := diag.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if _, err := dc.List(&diag.Filter{Network: "tcp4", States: []mptcp.TCPState{mptcp.StateClose}}); errors.Is(err, errors.ErrUnsupported) {
		// mptcp_diag is a module Debian's 6.1 and 6.12 build, which the
		// kernel matrix does not load.
		testenv.SkipOrFail(t, "this kernel has no MPTCP socket diagnostics (a module not loaded?): %v", err)
	}
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	found, foundFallback := false, false
	for conn, err := range dc.Connections(&diag.Filter{Network: "tcp4", Subflows: true}) {
		if err != nil {
			t.Fatal(err)
		}
		switch conn.Local {
		case local:
			found = true
			if conn.Token() != want.Token || conn.FellBack() || conn.Info.Fields() != want.Fields() {
				t.Errorf("listed token %08x fallback %v fields %v; MPTCPInfo %08x, fields %v",
					conn.Token(), conn.FellBack(), conn.Info.Fields(), want.Token, want.Fields())
			}
			if len(conn.Subflows) != len(wantSubs) || conn.Subflows[0].Local != wantSubs[0].Local || conn.Subflows[0].Remote != wantSubs[0].Remote {
				t.Errorf("listed subflows %+v; Subflows %v", conn.Subflows, wantSubs)
			}
		case fb.LocalAddr().(*net.TCPAddr).AddrPort():
			foundFallback = true
			if !conn.FellBack() {
				t.Errorf("the client of a TCP-only server is listed without the fallback flag: %+v", conn.Info)
			}
		}
	}
	if !found || !foundFallback {
		t.Errorf("listing: MPTCP client found %v, fallen-back client found %v", found, foundFallback)
	}
	if ok, err := fb.(*mptcp.MPTCPConn).MultipathTCP(); ok || err != nil {
		t.Errorf("fallen-back client: MultipathTCP = %v, %v", ok, err)
	}
}
