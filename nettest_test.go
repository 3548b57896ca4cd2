package mptcp

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"

	"golang.org/x/net/nettest"
)

// TestNetTestConn runs golang.org/x/net/nettest's net.Conn conformance
// suite on pairs of *MPTCPConn made by this package's Dialer and Listener
// over loopback: every method an *MPTCPConn promotes from *net.TCPConn, or
// overrides, must behave as a net.Conn (data, deadlines, Close waking
// blocked calls, concurrent use).
func TestNetTestConn(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			if network == "tcp6" && !hasIPv6Loopback() {
				// nettest.SupportsIPv6 is no help here: it looks for a
				// routed IPv6 address and ignores ::1 on purpose.
				testenv.SkipOrFail(t, "no IPv6 loopback: cannot listen on [::1]")
			}
			logPipeKind(t, network)
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				return makeMPTCPPipe(network)
			})
		})
	}
}

// logPipeKind makes one pipe and logs whether its ends use MPTCP, so the
// log tells whether the suite ran on MPTCP or on a fallback to TCP.
func logPipeKind(t *testing.T, network string) {
	t.Helper()
	c1, c2, stop, err := makeMPTCPPipe(network)
	if err != nil {
		t.Fatalf("makeMPTCPPipe(%q): %v", network, err)
	}
	defer stop()
	for _, c := range []net.Conn{c1, c2} {
		ok, err := c.(*MPTCPConn).MultipathTCP()
		t.Logf("%s %v -> %v: MultipathTCP() = %v, %v", network, c.LocalAddr(), c.RemoteAddr(), ok, err)
	}
}

// hasIPv6Loopback reports whether a TCP socket can listen on [::1].
func hasIPv6Loopback() bool {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// makeMPTCPPipe is a nettest.MakePipe: the dialed and the accepted
// *MPTCPConn of one loopback connection, and a stop func that closes
// both and the listener. It does not use the testing.TB helpers because
// nettest calls it once per subtest and owns the lifetime through stop.
func makeMPTCPPipe(network string) (c1, c2 net.Conn, stop func(), err error) {
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := Listen(network, addr)
	if err != nil {
		return nil, nil, nil, err
	}
	l := ln.(*Listener)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		c   *MPTCPConn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := l.AcceptMPTCP()
		accepted <- result{c, err}
	}()
	var d Dialer
	dc, err := d.DialContext(ctx, network, l.Addr().String())
	if err != nil {
		l.Close() // also ends the Accept above
		return nil, nil, nil, err
	}
	var ac *MPTCPConn
	select {
	case r := <-accepted:
		if r.err != nil {
			dc.Close()
			l.Close()
			return nil, nil, nil, r.err
		}
		ac = r.c
	case <-ctx.Done():
		dc.Close()
		l.Close()
		return nil, nil, nil, fmt.Errorf("accept on %v: %w", l.Addr(), ctx.Err())
	}
	mc, ok := dc.(*MPTCPConn)
	if !ok {
		dc.Close()
		ac.Close()
		l.Close()
		return nil, nil, nil, fmt.Errorf("Dialer.DialContext(%q) returned %T, want *MPTCPConn", network, dc)
	}
	stop = func() {
		mc.Close()
		ac.Close()
		l.Close()
	}
	return mc, ac, stop, nil
}
