package mptcp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testbed"

	"golang.org/x/sys/unix"
)

// requireMPTCP skips, or fails under requireEnvVar, when the host cannot
// create MPTCP sockets: every test in this file is about the real kernel.
func requireMPTCP(t testing.TB) {
	t.Helper()
	testbed.RequireMPTCP(t)
}

// networks returns the loopback networks this host has.
func networks(t testing.TB) []string {
	nets := []string{"tcp4"}
	if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		l.Close()
		nets = append(nets, "tcp6")
	}
	return nets
}

func addrPort(t testing.TB, a net.Addr) netip.AddrPort {
	t.Helper()
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		t.Fatalf("address %v is %T, not *net.TCPAddr", a, a)
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func mustMultipath(t testing.TB, name string, c *MPTCPConn, want bool) {
	t.Helper()
	got, err := c.MultipathTCP()
	if err != nil {
		t.Fatalf("%s: MultipathTCP: %v", name, err)
	}
	if got != want {
		t.Fatalf("%s: MultipathTCP = %v, want %v", name, got, want)
	}
}

// exchange writes n bytes from a to b and reads them fully on b.
func exchange(t testing.TB, a, b net.Conn, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Write(make([]byte, n))
		errc <- err
	}()
	if _, err := io.ReadFull(b, make([]byte, n)); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write %d bytes: %v", n, err)
	}
	a.SetDeadline(time.Time{})
	b.SetDeadline(time.Time{})
}

// pollSubflow re-reads the first subflow until cond holds or 5 s pass:
// acknowledgements arrive after the data.
func pollSubflow(t *testing.T, c *MPTCPConn, cond func(Info, Subflow) bool) (Info, Subflow) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		in, subs, err := c.Snapshot(nil)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if len(subs) != 1 {
			t.Fatalf("%d subflows, want 1", len(subs))
		}
		if cond(in, subs[0]) || time.Now().After(deadline) {
			return in, subs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubflowCountersMoveByWhatWasSent(t *testing.T) {
	requireMPTCP(t)
	client, server := mptcpPair(t, "tcp4")
	cin0, csf0 := pollSubflow(t, client, func(Info, Subflow) bool { return true })
	sin0, ssf0 := pollSubflow(t, server, func(Info, Subflow) bool { return true })

	const n = 1 << 20
	exchange(t, client, server, n)

	cin, csf := pollSubflow(t, client, func(_ Info, s Subflow) bool { return s.TCP.BytesAcked-csf0.TCP.BytesAcked >= n })
	sin, ssf := pollSubflow(t, server, func(Info, Subflow) bool { return true })

	if d := csf.TCP.BytesSent - csf0.TCP.BytesSent; d < n {
		t.Errorf("client subflow BytesSent grew by %d, want >= %d", d, n)
	}
	if d := csf.TCP.BytesAcked - csf0.TCP.BytesAcked; d < n {
		t.Errorf("client subflow BytesAcked grew by %d, want >= %d", d, n)
	}
	if d := ssf.TCP.BytesReceived - ssf0.TCP.BytesReceived; d < n {
		t.Errorf("server subflow BytesReceived grew by %d, want >= %d", d, n)
	}
	// The subflows carry MPTCP options and retransmissions on top of the
	// data: allow a little more, not a lot more.
	if d := ssf.TCP.BytesReceived - ssf0.TCP.BytesReceived; d > n+n/10 {
		t.Errorf("server subflow BytesReceived grew by %d for %d bytes sent", d, n)
	}
	if cin.Has(InfoCounters) {
		if d := cin.BytesSent - cin0.BytesSent; d < n {
			t.Errorf("client Info.BytesSent grew by %d, want >= %d", d, n)
		}
		if d := sin.BytesReceived - sin0.BytesReceived; d != n {
			t.Errorf("server Info.BytesReceived grew by %d, want %d", d, n)
		}
	}
	if cin.Token == sin.Token {
		t.Errorf("client and server report the same token %08x; each side has its own", cin.Token)
	}
}

// checkNotMPTCP asserts that the MPTCP-only calls fail with ErrNotMPTCP,
// twice: the second time answers from the cached "no".
func checkNotMPTCP(t *testing.T, name string, c *MPTCPConn) {
	t.Helper()
	for range 2 {
		_, err := c.MPTCPInfo()
		checkOpError(t, name+": MPTCPInfo", err, ErrNotMPTCP)
		subs, err := c.AppendSubflows(make([]Subflow, 0, 4))
		checkOpError(t, name+": AppendSubflows", err, ErrNotMPTCP)
		if len(subs) != 0 {
			t.Errorf("%s: AppendSubflows returned %d subflows with an error", name, len(subs))
		}
		_, _, err = c.Snapshot(nil)
		checkOpError(t, name+": Snapshot", err, ErrNotMPTCP)
	}
}

// checkOpError asserts err is a *net.OpError matching target.
func checkOpError(t *testing.T, what string, err, target error) {
	t.Helper()
	var oe *net.OpError
	switch {
	case err == nil:
		t.Errorf("%s: nil error, want %v", what, target)
	case !errors.As(err, &oe):
		t.Errorf("%s: error %v is %T, want *net.OpError", what, err, err)
	case !errors.Is(err, target):
		t.Errorf("%s: error %q does not match %q", what, err, target)
	}
}

func TestDialerAsksForMPTCPWhateverGODEBUG(t *testing.T) {
	requireMPTCP(t)
	t.Setenv("GODEBUG", "multipathtcp=0")
	l := listenLoopback(t, "tcp4")
	// The standard library's default follows GODEBUG: plain TCP.
	var nd net.Dialer
	plain, err := nd.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if ok, _ := plain.(*net.TCPConn).MultipathTCP(); ok {
		t.Fatal("net.Dialer used MPTCP under GODEBUG=multipathtcp=0: the setting did not take effect, the test proves nothing")
	}
	c, _ := dialAccept(t, &Dialer{}, "tcp4", l)
	mustMultipath(t, "Dialer under GODEBUG=multipathtcp=0", c.(*MPTCPConn), true)
}

func TestDialerPassesNetDialerFields(t *testing.T) {
	requireMPTCP(t)
	l := listenLoopback(t, "tcp4")
	var sawProto []int
	var mu sync.Mutex
	d := &Dialer{
		Timeout:   5 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)},
		KeepAlive: -1,
		ControlContext: func(ctx context.Context, network, address string, c syscall.RawConn) error {
			c.Control(func(fd uintptr) {
				p, _ := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
				mu.Lock()
				sawProto = append(sawProto, p)
				mu.Unlock()
			})
			return nil
		},
	}
	c, _ := dialAccept(t, d, "tcp4", l)
	if len(sawProto) != 1 || sawProto[0] != unix.IPPROTO_MPTCP {
		t.Errorf("ControlContext saw socket protocols %v, want one MPTCP socket (262)", sawProto)
	}
	if got := addrPort(t, c.LocalAddr()).Addr(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("LocalAddr ignored: dialed from %v", got)
	}

	// A Control error stops the dial, as with net.Dialer.
	errControl := errors.New("refused by Control")
	d = &Dialer{Control: func(string, string, syscall.RawConn) error { return errControl }}
	if _, err := d.Dial("tcp4", l.Addr().String()); !errors.Is(err, errControl) {
		t.Errorf("Dial with a failing Control: %v, want %v", err, errControl)
	}
}

func TestDialerPassesOtherNetworksThrough(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.UDPConn); !ok {
		t.Errorf("Dial(udp4) returned %T, want *net.UDPConn", c)
	}
	if _, err := DialTCP("udp", nil, &net.TCPAddr{}); err == nil {
		t.Error("DialTCP(udp): nil error")
	}
}

func TestRequireMPTCP(t *testing.T) {
	requireMPTCP(t)
	t.Run("MPTCP peer", func(t *testing.T) {
		l := listenLoopback(t, "tcp4")
		c, _ := dialAccept(t, &Dialer{RequireMPTCP: true}, "tcp4", l)
		mustMultipath(t, "strict client", c.(*MPTCPConn), true)
	})
	t.Run("TCP peer", func(t *testing.T) {
		l := listenPlainTCP(t, "tcp4")
		go func() { // accept and close whatever arrives until the listener closes
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		before := testbed.OpenFDs(t)
		d := &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp4", l.Addr().String())
		if err == nil {
			c.Close()
			t.Fatal("strict dial to a TCP-only server succeeded")
		}
		checkOpError(t, "strict dial to a TCP-only server", err, ErrNotMPTCP)
		// The server's accepted socket lives in this process too, until
		// the accept loop closes it.
		testbed.WaitFDs(t, before)
	})
	t.Run("refused port keeps its errno", func(t *testing.T) {
		l := listenPlainTCP(t, "tcp4")
		addr := l.Addr().String()
		l.Close()
		d := &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}
		_, err := d.Dial("tcp4", addr)
		if !errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, ErrNotMPTCP) {
			t.Errorf("strict dial to a closed port: %v, want ECONNREFUSED", err)
		}
	})
}
