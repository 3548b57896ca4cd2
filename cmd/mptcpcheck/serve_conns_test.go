package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"testing"
)

// peerConn is a connection from remote that records its closing.
type peerConn struct {
	net.Conn // nil: only the methods below are called
	remote   net.Addr
	closed   bool
}

func (c *peerConn) RemoteAddr() net.Addr { return c.remote }
func (c *peerConn) Close() error         { c.closed = true; return nil }

func tcpAddr(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// TestConnTrackerShedsCheapestFirst fills a tracker, gives its
// connections each class, and checks the order in which newcomers shed
// them: idle, then unfinished requests, then the slowest download, the
// oldest first within a class; a busy connection never, the newcomer
// being refused instead.
func TestConnTrackerShedsCheapestFirst(t *testing.T) {
	tr := newConnTracker(6, 100)
	conns := map[string]*peerConn{}
	tracked := map[string]*servedConn{}
	admit := func(name string) *servedConn {
		t.Helper()
		c := &peerConn{remote: tcpAddr("192.0.2.1:1000")}
		conns[name] = c
		tc := tr.admit(c)
		tracked[name] = tc
		return tc
	}
	for _, name := range []string{"idleOld", "new", "idleNew", "slow", "fast", "busy"} {
		admit(name)
	}
	tr.connState(tracked["idleOld"], http.StateIdle)
	// Over TLS, the hook sees the *tls.Conn around the connection.
	tr.connState(tls.Server(tracked["idleNew"], nil), http.StateIdle)
	tr.connState(tracked["busy"], http.StateActive)
	for name, rate := range map[string]int64{"slow": 10, "fast": 1 << 20} {
		d := &inFlight{}
		d.recent.Store(rate)
		tr.startDownload(tracked[name], d)
	}
	var order []string
	for i := range 5 {
		tc := admit("newcomer" + string(rune('A'+i)))
		if tc == nil {
			t.Fatalf("newcomer %d refused", i)
		}
		tr.connState(tc, http.StateActive) // busy, so never shed
		for _, name := range []string{"idleOld", "new", "idleNew", "slow", "fast", "busy"} {
			if conns[name].closed && !slices.Contains(order, name) {
				order = append(order, name)
			}
		}
	}
	want := []string{"idleOld", "idleNew", "new", "slow", "fast"}
	if len(order) != len(want) {
		t.Fatalf("shed %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("shed %v, want %v", order, want)
		}
	}
	// Every connection is busy now: the next is refused, not served by
	// cutting a request short.
	if tc := admit("refused"); tc != nil || conns["busy"].closed || tr.refused.Load() != 1 {
		t.Errorf("with every connection busy: admitted %v, busy closed %v, refused %d", tc != nil, conns["busy"].closed, tr.refused.Load())
	}
	// A connection that closes frees its slot.
	tracked["busy"].Close()
	if admit("after") == nil {
		t.Error("refused after a connection closed")
	}
}

// TestConnTrackerBoundsAnAddress checks that an address at its bound
// sheds its own connections, not another address's older idle ones.
func TestConnTrackerBoundsAnAddress(t *testing.T) {
	tr := newConnTracker(100, 2)
	other := &peerConn{remote: tcpAddr("192.0.2.9:1")}
	tr.connState(tr.admit(other), http.StateIdle)
	var mine []*peerConn
	for i := range 4 {
		c := &peerConn{remote: tcpAddr("[::ffff:192.0.2.1]:" + string(rune('1'+i)))}
		mine = append(mine, c)
		tc := tr.admit(c)
		if tc == nil {
			t.Fatalf("connection %d refused", i)
		}
		tr.connState(tc, http.StateIdle)
	}
	if other.closed {
		t.Error("another address's idle connection was shed")
	}
	for i, c := range mine {
		if want := i < 2; c.closed != want {
			t.Errorf("connection %d of the address at its bound: closed %v, want %v", i, c.closed, want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1:80", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::"},
	} {
		if got := clientAddr(tcpAddr(tc.in)); got != netip.MustParseAddr(tc.want) {
			t.Errorf("clientAddr(%s) = %v, want %s", tc.in, got, tc.want)
		}
	}
}
