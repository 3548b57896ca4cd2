package diag_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

func dialNS(t *testing.T, ns *testbed.NS) *diag.Conn {
	t.Helper()
	c, err := diag.Dial(&diag.Config{NetNS: ns.Path()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The listing agrees with ss on the same sockets: connections and
// tokens with "ss -Mni", subflows, ids, tokens and counters with
// "ss -tni", on both ends of a connection with two subflows.
func TestConnectionsAgreeWithSS(t *testing.T) {
	b, client, server := mptcptest.TwoPaths(t)
	for _, end := range []struct {
		ns *testbed.NS
		c  *mptcp.MPTCPConn
	}{{b.Client, client}, {b.Server, server}} {
		dc := dialNS(t, end.ns)
		conns, err := dc.List(&diag.Filter{Subflows: true, States: []mptcp.TCPState{mptcp.StateEstablished}})
		if err != nil {
			t.Fatal(err)
		}
		ss := end.ns.SSMPTCP()
		if len(conns) != len(ss) || len(conns) != 1 {
			t.Fatalf("%s: %d connections listed, ss -M shows %d, want 1: %v / %v", end.ns.Name, len(conns), len(ss), conns, ss)
		}
		conn := conns[0]
		want, err := end.c.MPTCPInfo()
		if err != nil {
			t.Fatal(err)
		}
		s, ok := ss[conn.Local.String()+" "+conn.Remote.String()]
		switch {
		case !ok:
			t.Errorf("%s: %v -> %v not in ss -M: %v", end.ns.Name, conn.Local, conn.Remote, ss)
		case s.Token != fmt.Sprintf("%08x", conn.Token()) || conn.Token() != want.Token:
			t.Errorf("%s: token %08x, ss says %s, MPTCPInfo %08x", end.ns.Name, conn.Token(), s.Token, want.Token)
		case conn.FellBack() || s.Fallback:
			t.Errorf("%s: fallback: listed %v, ss %v", end.ns.Name, conn.FellBack(), s.Fallback)
		}
		if conn.Info.Fields() != want.Fields() || conn.Info.SubflowsMax != want.SubflowsMax {
			t.Errorf("%s: info fields %v subflows_max %d, MPTCPInfo %v %d", end.ns.Name, conn.Info.Fields(), conn.Info.SubflowsMax, want.Fields(), want.SubflowsMax)
		}
		sss := end.ns.SSSubflows()
		if len(conn.Subflows) != 2 || len(sss) != 2 {
			t.Fatalf("%s: %d subflows listed, ss -t shows %d; want 2: %+v / %+v", end.ns.Name, len(conn.Subflows), len(sss), conn.Subflows, sss)
		}
		for _, sf := range conn.Subflows {
			var match *testbed.SSSubflow
			for i := range sss {
				if sss[i].Local == sf.Local.String() && sss[i].Remote == sf.Remote.String() {
					match = &sss[i]
				}
			}
			switch {
			case match == nil:
				t.Errorf("%s: subflow %v -> %v not in ss -t", end.ns.Name, sf.Local, sf.Remote)
			case match.TokenLoc != fmt.Sprintf("%08x", sf.Token) || sf.Token != conn.Token():
				t.Errorf("%s: subflow token %08x, ss %s, connection %08x", end.ns.Name, sf.Token, match.TokenLoc, conn.Token())
			case match.TokenRem != fmt.Sprintf("%08x", sf.RemoteToken):
				t.Errorf("%s: subflow remote token %08x, ss %s", end.ns.Name, sf.RemoteToken, match.TokenRem)
			case match.IDLoc != strconv.Itoa(int(sf.LocalID)) || match.IDRem != strconv.Itoa(int(sf.RemoteID)):
				t.Errorf("%s: subflow ids %d/%d, ss %s/%s", end.ns.Name, sf.LocalID, sf.RemoteID, match.IDLoc, match.IDRem)
			case match.BytesAcked != strconv.FormatUint(sf.TCP.BytesAcked, 10):
				t.Errorf("%s: subflow bytes_acked %d, ss %s", end.ns.Name, sf.TCP.BytesAcked, match.BytesAcked)
			case sf.Flags&diag.SubflowFlagConnected == 0:
				t.Errorf("%s: subflow flags %v lack connected", end.ns.Name, sf.Flags)
			}
		}
		// The same connection by its token, without a dump.
		one, err := dc.Lookup(conn.Token(), &diag.Filter{Subflows: true})
		if err != nil {
			t.Fatal(err)
		}
		if one.Local != conn.Local || one.Remote != conn.Remote || len(one.Subflows) != 2 || one.Cookie != conn.Cookie {
			t.Errorf("%s: Lookup(%08x) = %v -> %v with %d subflows, cookie %x; listed %v -> %v, cookie %x",
				end.ns.Name, conn.Token(), one.Local, one.Remote, len(one.Subflows), one.Cookie, conn.Local, conn.Remote, conn.Cookie)
		}
		// The filter means what it means to a listing: a connection it
		// does not select is not found; without Subflows, none come.
		if bare, err := dc.Lookup(conn.Token(), nil); err != nil || bare.Subflows != nil {
			t.Errorf("%s: Lookup(%08x, nil) = %d subflows, %v; want the connection without subflows", end.ns.Name, conn.Token(), len(bare.Subflows), err)
		}
		otherNetwork := "tcp4"
		if conn.Local.Addr().Is4() {
			otherNetwork = "tcp6"
		}
		for _, f := range []*diag.Filter{
			{States: []mptcp.TCPState{mptcp.StateListen}},
			{RemotePort: conn.Remote.Port() + 1},
			{Network: otherNetwork},
		} {
			if _, err := dc.Lookup(conn.Token(), f); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: Lookup(%08x, %+v) of a connection the filter does not select: %v, want os.ErrNotExist", end.ns.Name, conn.Token(), *f, err)
			}
		}
		if _, err := dc.Lookup(conn.Token(), &diag.Filter{Network: "udp"}); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: Lookup with network udp: %v, want os.ErrInvalid", end.ns.Name, err)
		}
	}
}

// Filters select as ss's do, and a listing in one namespace shows none
// of another's connections.
func TestFiltersAndNamespaces(t *testing.T) {
	b, client, _ := mptcptest.TwoPaths(t)
	dc := dialNS(t, b.Client)
	local := client.LocalAddr().(*net.TCPAddr).AddrPort()
	remote := client.RemoteAddr().(*net.TCPAddr).AddrPort()
	count := func(f *diag.Filter) int {
		t.Helper()
		n := 0
		for _, err := range dc.Connections(f) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	for _, c := range []struct {
		name string
		f    diag.Filter
		want int
	}{
		{"all", diag.Filter{}, 1},
		{"tcp4", diag.Filter{Network: "tcp4"}, 1},
		{"tcp6", diag.Filter{Network: "tcp6"}, 0},
		{"established", diag.Filter{States: []mptcp.TCPState{mptcp.StateEstablished}}, 1},
		{"listening", diag.Filter{States: []mptcp.TCPState{mptcp.StateListen}}, 0},
		{"local port", diag.Filter{LocalPort: local.Port()}, 1},
		{"other local port", diag.Filter{LocalPort: local.Port() + 1}, 0},
		{"remote port", diag.Filter{RemotePort: remote.Port()}, 1},
		{"remote prefix", diag.Filter{Remote: netip.PrefixFrom(remote.Addr(), 24)}, 1},
		{"other remote prefix", diag.Filter{Remote: netip.MustParsePrefix("192.0.2.0/24")}, 0},
		{"local address", diag.Filter{Local: netip.PrefixFrom(local.Addr(), 32)}, 1},
	} {
		if got := count(&c.f); got != c.want {
			t.Errorf("%s: %d connections, want %d", c.name, got, c.want)
		}
	}
	if _, err := dc.List(&diag.Filter{Network: "udp"}); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("network udp: %v, want os.ErrInvalid", err)
	}
	// The server's namespace, by descriptor, has one connection and a
	// listener; this namespace has neither of them.
	f, err := os.Open(b.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := diag.Dial(&diag.Config{NetNSFD: int(f.Fd())})
	f.Close() // Dial keeps its own copy
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	all, err := sc.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	established := 0
	for _, c := range all {
		if c.State == mptcp.StateEstablished {
			established++
			if c.Remote != local {
				t.Errorf("server namespace lists %v -> %v, want the client %v", c.Local, c.Remote, local)
			}
		}
	}
	if established != 1 {
		t.Errorf("server namespace: %d established connections, want 1: %v", established, all)
	}
	here, err := diag.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	mine, err := here.List(&diag.Filter{RemotePort: remote.Port(), Remote: netip.PrefixFrom(remote.Addr(), 32)})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 0 {
		t.Errorf("the test's own namespace lists the test bed's connection: %v", mine)
	}
}

// A client whose server spoke only TCP is listed with the fallback flag;
// breaking out of the loop stops the dump and leaves the Conn usable.
func TestFallbackAndEarlyBreak(t *testing.T) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	var conns []net.Conn
	for range 3 {
		c, err := mptcp.DialTimeout("tcp4", l.Addr().String(), 5*time.Second)
		if err != nil {
			if errors.Is(err, errors.ErrUnsupported) {
				testenv.SkipOrFail(t, "no MPTCP: %v", err)
			}
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	dc, err := diag.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	port := l.Addr().(*net.TCPAddr).AddrPort().Port()
	all, err := dc.List(&diag.Filter{RemotePort: port})
	if errors.Is(err, errors.ErrUnsupported) {
		// A kernel without MPTCP dials plain TCP, without an error.
		testenv.SkipOrFail(t, "no MPTCP socket diagnostics: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(conns) {
		t.Fatalf("%d fallen-back clients listed, want %d", len(all), len(conns))
	}
	for _, c := range all {
		if !c.FellBack() || c.Token() == 0 {
			t.Errorf("%v: fallback %v token %08x; want the fallback flag and a token", c.Local, c.FellBack(), c.Token())
		}
	}
	n := 0
	for _, err := range dc.Connections(&diag.Filter{RemotePort: port}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if again, err := dc.List(&diag.Filter{RemotePort: port}); n != 1 || err != nil || len(again) != len(conns) {
		t.Errorf("after breaking out: %d, then %d connections, %v", n, len(again), err)
	}
}

// Errors are *net.OpError values naming the operation, through which
// errors.Is reaches the cause: an unknown token, a closed Conn, a nil
// Conn, a bad filter, and namespaces that are no namespace.
func TestErrors(t *testing.T) {
	dc, err := diag.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	type check struct {
		what   string
		err    error
		op     string
		target error
	}
	checks := []check{}
	add := func(what string, err error, op string, target error) {
		checks = append(checks, check{what, err, op, target})
	}
	_, err = dc.Lookup(0xfffffff1, nil)
	add("Lookup of an unknown token", err, "lookup", os.ErrNotExist)
	_, err = dc.List(&diag.Filter{Network: "udp"})
	add("List of network udp", err, "list", os.ErrInvalid)
	if err := dc.Close(); err != nil {
		t.Fatal(err)
	}
	add("second Close", dc.Close(), "close", net.ErrClosed)
	_, err = dc.List(nil)
	add("List after Close", err, "list", net.ErrClosed)
	_, err = dc.Lookup(1, nil)
	add("Lookup after Close", err, "lookup", net.ErrClosed)
	var nilConn *diag.Conn
	_, err = nilConn.List(nil)
	add("List on a nil Conn", err, "list", net.ErrClosed)
	_, err = nilConn.Lookup(1, nil)
	add("Lookup on a nil Conn", err, "lookup", net.ErrClosed)
	_, err = dc.Listeners()
	add("Listeners after Close", err, "list", net.ErrClosed)
	_, err = nilConn.Listeners()
	add("Listeners on a nil Conn", err, "list", net.ErrClosed)
	_, err = diag.Dial(&diag.Config{NetNSFD: -1})
	add("Dial with NetNSFD -1", err, "dial", os.ErrInvalid)
	_, err = diag.Dial(&diag.Config{NetNSFD: 1 << 20})
	add("Dial with a closed descriptor", err, "dial", syscall.EBADF)
	_, err = diag.Dial(&diag.Config{NetNS: "/nonexistent/netns"})
	add("Dial with a missing NetNS", err, "dial", os.ErrNotExist)
	_, err = diag.Dial(&diag.Config{NetNS: "/proc/self/status"})
	add("Dial with a file that is no namespace", err, "dial", syscall.EINVAL)
	for _, c := range checks {
		var oe *net.OpError
		switch {
		case !errors.As(c.err, &oe):
			t.Errorf("%s: %v (%T), want an *net.OpError", c.what, c.err, c.err)
		case oe.Op != c.op || oe.Net != "sock_diag" || !errors.Is(c.err, c.target):
			t.Errorf("%s: %v: op %q net %q, want %q sock_diag matching %v", c.what, c.err, oe.Op, oe.Net, c.op, c.target)
		}
	}
}

// Filter.Network selects by the addresses a Connection shows: a
// dual-stack listener's connection from an IPv4 client, an IPv6 socket
// with IPv4-mapped addresses, is shown as IPv4 and is "tcp4", with its
// subflow; the listener, on [::], is "tcp6". Kernels before 5.19 list
// no listener.
func TestNetworkAsShown(t *testing.T) {
	b := testbed.New(t, 1)
	l := mptcptest.Listen(t, b, "tcp", netip.IPv6Unspecified())
	server := netip.AddrPortFrom(b.Links[0].Server, uint16(l.Addr().(*net.TCPAddr).Port))
	mptcptest.ConnectTo(t, b, nil, l, server.Addr())
	dc := dialNS(t, b.Server)
	listener := []string{"LISTEN [::]:" + strconv.Itoa(int(server.Port()))}
	if conns, err := dc.List(&diag.Filter{States: []mptcp.TCPState{mptcp.StateListen}}); err != nil {
		t.Fatal(err)
	} else if len(conns) == 0 && testenv.KernelLacks(t, "MPTCP listeners in socket diagnostics", "5.19") {
		listener = nil
	}
	for _, tc := range []struct {
		network string
		want    []string // state and local address of each connection
	}{
		{"tcp", append([]string{"ESTABLISHED " + server.String()}, listener...)},
		{"tcp4", []string{"ESTABLISHED " + server.String()}},
		{"tcp6", listener},
	} {
		conns, err := dc.List(&diag.Filter{Network: tc.network, Subflows: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range conns {
			got = append(got, c.State.String()+" "+c.Local.String())
			if c.State == mptcp.StateEstablished && len(c.Subflows) != 1 {
				t.Errorf("%s: %s has %d subflows listed, want 1", tc.network, c.Local, len(c.Subflows))
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Network %q lists %q, want %q", tc.network, got, tc.want)
		}
	}
}

// Listeners counts the MPTCP listeners and not the TCP ones, on every
// kernel, as "ss -tl" shows them: TCP listeners whose upper-layer
// protocol is mptcp (the TCP dump shows them on every kernel; the MPTCP
// one, before 5.19, does not).
func TestListenersAgreeWithSS(t *testing.T) {
	b := testbed.New(t, 1)
	dc := dialNS(t, b.Server)
	count := func() int {
		t.Helper()
		n, err := dc.Listeners()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Errorf("a new namespace has %d MPTCP listeners", n)
	}
	b.Server.Listen(func() (net.Listener, error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		return lc.Listen(context.Background(), "tcp", ":0")
	})
	if n := count(); n != 0 {
		t.Errorf("a TCP listener counted as %d MPTCP listeners", n)
	}
	mptcptest.Listen(t, b, "tcp", netip.IPv6Unspecified())
	mptcptest.Listen(t, b, "tcp4", b.Links[0].Server)
	ss := strings.Count(b.Server.Run("ss", "-tlnHi"), "tcp-ulp-mptcp")
	if n := count(); n != 2 || ss != 2 {
		t.Errorf("Listeners counts %d MPTCP listeners, ss -tl shows %d; want 2", n, ss)
	}
}
