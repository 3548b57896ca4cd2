package pm_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
	"github.com/multipath-go/mptcp/pm"
)

// The events of one connection with a second subflow from a client
// "subflow" endpoint, seen by pm and by "ip mptcp monitor" in each
// namespace: the same events in the same order with the same fields, and
// the token of each side's events is the token MPTCPInfo reports there.
func TestEventsAgreeWithIPMonitor(t *testing.T) {
	b := testbed.New(t, 2)
	l1, l2 := b.Links[0], b.Links[1]
	b.Endpoint(b.Client, l2.Client, "subflow")

	type side struct {
		name string
		ns   *testbed.NS
		rec  *recorder
		mon  *monitor
	}
	sides := []*side{{name: "client", ns: b.Client}, {name: "server", ns: b.Server}}
	for _, s := range sides {
		s.mon = startMonitor(t, s.ns)
		s.rec = record(t, dialPM(t, s.ns))
	}

	client, server := mptcptest.ConnectTo(t, b, nil, mptcptest.Listen(t, b, "tcp", netip.IPv6Unspecified()), l1.Server)
	mptcptest.WaitSubflows(t, client, 2)
	mptcptest.WaitSubflows(t, server, 2)
	tokens := map[string]uint32{"client": token(t, "client", client), "server": token(t, "server", server)}
	conns := map[string]*mptcp.MPTCPConn{"client": client, "server": server}
	port := uint16(server.LocalAddr().(*net.TCPAddr).Port)

	for _, s := range sides {
		tok := tokens[s.name]
		s.rec.wait(t, 10*time.Second, is(pm.EventSubflowEstablished, tok))
		mine := s.rec.of(tok)
		if len(mine) != 3 || mine[0].Type != pm.EventCreated || mine[1].Type != pm.EventEstablished || mine[2].Type != pm.EventSubflowEstablished {
			t.Fatalf("%s: events of token %08x: %v; want created, established, sub_established\nall: %v", s.name, tok, mine, s.rec.seen)
		}
		for _, e := range s.rec.seen {
			if e.Token != tok && e.Type != pm.EventListenerCreated && e.Type != pm.EventListenerClosed {
				t.Errorf("%s: an event of another connection: %v", s.name, e)
			}
		}

		// Fields, against the connection itself.
		c := conns[s.name]
		first := netipAddrPort(t, c.LocalAddr())
		peer := netipAddrPort(t, c.RemoteAddr())
		for _, e := range mine[:2] {
			if e.Local != first || e.Remote != peer {
				t.Errorf("%s: %v: %v -> %v, want the connection's %v -> %v", s.name, e.Type, e.Local, e.Remote, first, peer)
			}
			if e.ServerSide != (s.name == "server") {
				t.Errorf("%s: %v: ServerSide %v", s.name, e.Type, e.ServerSide)
			}
		}
		sf := mine[2]
		wantLocal, wantRemote := l2.Client, l1.Server
		if s.name == "server" {
			wantLocal, wantRemote = l1.Server, l2.Client
		}
		if sf.Local.Addr() != wantLocal || sf.Remote.Addr() != wantRemote || sf.Backup || sf.Error != 0 {
			t.Errorf("%s: %v, want %v -> %v", s.name, sf, wantLocal, wantRemote)
		}
		if (s.name == "client" && sf.Remote.Port() != port) || (s.name == "server" && sf.Local.Port() != port) {
			t.Errorf("%s: %v does not use the server's port %d", s.name, sf, port)
		}
		if s.name == "client" && (sf.LocalID == 0 || sf.RemoteID != 0) {
			t.Errorf("client: %v: want a new local id and remote id 0", sf)
		}
		// The subflow of the event is one Subflows reports, by addresses.
		subs, err := c.Subflows()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range subs {
			found = found || (x.Local == sf.Local && x.Remote == sf.Remote)
		}
		if !found {
			t.Errorf("%s: the subflow of %v is not in Subflows:\n%v", s.name, sf, mptcp.SubflowTable(subs))
		}
	}

	// The server's listener of pair, against ip. iproute2 6.1 shows
	// listener events without their fields: then only the type is
	// compared. Kernels before 6.2 send no listener events: neither pm
	// nor ip may see one there.
	srv := sides[1]
	var lc pm.Event
	for _, e := range srv.rec.seen {
		if e.Type == pm.EventListenerCreated && e.Local.Port() == port {
			lc = e
		}
	}
	isListener := func(l ipEvent) bool {
		return l.typ() == pm.EventListenerCreated && (l.fields["sport"] == strconv.Itoa(int(port)) || len(l.fields) == 0)
	}
	if !testenv.KernelAtLeast(6, 2) {
		anyListener := func(l ipEvent) bool {
			return l.typ() == pm.EventListenerCreated || l.typ() == pm.EventListenerClosed
		}
		if lc.Type != 0 || len(srv.mon.all(anyListener)) != 0 {
			t.Errorf("server: kernel %s, which sends no listener events (6.2 and later do): pm saw %v, ip %v",
				testenv.KernelRelease(), lc, srv.mon.all(anyListener))
		}
	} else {
		// ip prints from a process of its own, which may not have caught
		// up with the event yet: wait for its line before taking them all.
		srv.mon.wait(5*time.Second, isListener)
		ls := srv.mon.all(isListener)
		switch {
		case lc.Type == 0 || len(ls) == 0:
			t.Errorf("server: listener_created for port %d: pm %v, ip %v", port, lc, ls)
		case sameEvent(lc, ls[len(ls)-1]) != "":
			t.Errorf("server: %s", sameEvent(lc, ls[len(ls)-1]))
		}
	}

	// Closing: then every event of each side's connection, against ip
	// mptcp monitor, in order.
	client.Close()
	server.Close()
	for _, s := range sides {
		tok := tokens[s.name]
		s.rec.wait(t, 10*time.Second, is(pm.EventClosed, tok))
		if _, ok := s.mon.wait(5*time.Second, func(l ipEvent) bool { return l.name == "CLOSED" && l.fields["token"] == hex8(tok) }); !ok {
			t.Fatalf("%s: ip saw no CLOSED for %08x", s.name, tok)
		}
		agree(t, s.name, s.rec.of(tok), s.mon.all(func(l ipEvent) bool { return l.fields["token"] == hex8(tok) }))
	}
}

// Next returns at once when its context ends, with the context's error,
// and leaves no goroutine behind; Close interrupts a waiting Next.
func TestNextCancelLeavesNoGoroutine(t *testing.T) {
	b := testbed.New(t, 1)
	c := dialPM(t, b.Client)
	before := runtime.NumGoroutine()

	for i := 0; i < 20; i++ {
		s, err := c.Subscribe()
		if noEventsGroup(t, err) {
			testenv.SkipKernelLacks(t, "the path manager's events (the mptcp_pm_events group)", "5.12")
		}
		if err != nil {
			t.Fatal(err)
		}
		// Cancelled while waiting.
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := s.Next(ctx)
			errc <- err
		}()
		time.Sleep(time.Millisecond)
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Next after cancel: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Next still waiting 5s after cancel")
		}
		// A deadline.
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
		start := time.Now()
		_, err = s.Next(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("Next with a 5ms deadline: %v after %v", err, time.Since(start))
		}
		// Already done.
		<-ctx.Done()
		if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next with a done context: %v", err)
		}
		cancel()
		// Close from another goroutine.
		go func() {
			_, err := s.Next(context.Background())
			errc <- err
		}()
		time.Sleep(time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Next interrupted by Close: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Next still waiting 5s after Close")
		}
		if _, err := s.Next(context.Background()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
		if err := s.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
	}

	// Goroutines end asynchronously: poll, bounded.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hex8 formats a token as the module and "ip mptcp monitor" print it.
func hex8(v uint32) string { return fmt.Sprintf("%08x", v) }

// netipAddrPort converts a *net.TCPAddr, unmapping IPv4-mapped addresses
// as package mptcp and pm do.
func netipAddrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
