package mptcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// Every dial path returns a nil net.Conn on error, as net.Dialer does:
// `if c != nil { c.Close() }` must not panic. Without MPTCP in the kernel
// the strict dial fails before connecting; with it, after the handshake.
func TestDialErrorsReturnNilConn(t *testing.T) {
	addr := plainServer(t)
	d := &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}
	for name, dial := range map[string]func() (net.Conn, error){
		"Dial":        func() (net.Conn, error) { return d.Dial("tcp4", addr) },
		"DialContext": func() (net.Conn, error) { return d.DialContext(context.Background(), "tcp4", addr) },
	} {
		c, err := dial()
		if !errors.Is(err, ErrNotMPTCP) {
			t.Errorf("%s to a TCP-only server: %v, want ErrNotMPTCP", name, err)
		}
		if c != nil {
			t.Errorf("%s: error with a non-nil net.Conn (%T)", name, c)
		}
	}
	tc, err := d.DialTCP(context.Background(), "tcp4", netip.AddrPort{}, netip.MustParseAddrPort(addr))
	if !errors.Is(err, ErrNotMPTCP) || tc != nil {
		t.Errorf("DialTCP: %v, %v; want nil and ErrNotMPTCP", tc, err)
	}
}

// attachFilter is a Control hook that attaches an accept-all socket
// filter: plain TCP sockets take it, MPTCP sockets refuse it
// (EOPNOTSUPP on every kernel recorded in testdata/kernels).
func attachFilter(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		v, keep := acceptAllFilter()
		_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)), 0)
		if errno != 0 {
			serr = errno
		}
		runtime.KeepAlive(keep)
	}); err != nil {
		return err
	}
	return serr
}

// A Control hook that fails on the MPTCP socket: with RequireMPTCP the
// dial fails before connecting, with the hook's error; without it the
// dial is retried over TCP, as net.Dialer does.
func TestStrictDialControlHookFails(t *testing.T) {
	requireMPTCP(t)
	l := listenLoopback(t, "tcp4")
	accepted := acceptAll(l)

	strict := &Dialer{RequireMPTCP: true, Control: attachFilter, Timeout: 5 * time.Second}
	c, err := strict.Dial("tcp4", l.Addr().String())
	var errno syscall.Errno
	if c != nil || !errors.Is(err, unix.EOPNOTSUPP) || !errors.As(err, &errno) {
		t.Fatalf("strict dial with a hook MPTCP refuses: %v, %v; want nil and the hook's EOPNOTSUPP", c, err)
	}
	if errors.Is(err, ErrNotMPTCP) {
		t.Errorf("strict dial reports %v: the hook's failure, not the connection, is the cause", err)
	}
	select {
	case c := <-accepted:
		c.Close()
		t.Fatalf("the strict dial connected to the server before failing")
	case <-time.After(200 * time.Millisecond):
	}

	// ControlContext too.
	strict = &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second,
		ControlContext: func(_ context.Context, network, address string, c syscall.RawConn) error {
			return attachFilter(network, address, c)
		}}
	if c, err := strict.Dial("tcp4", l.Addr().String()); c != nil || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("strict dial, ControlContext: %v, %v", c, err)
	}

	loose := &Dialer{Control: attachFilter, Timeout: 5 * time.Second}
	c, err = loose.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatalf("dial with a hook MPTCP refuses, without RequireMPTCP: %v (net.Dialer retries over TCP)", err)
	}
	defer c.Close()
	mustMultipath(t, "retried over TCP", c.(*MPTCPConn), false)
	select {
	case s := <-accepted:
		s.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the retried dial never reached the server")
	}
}

// A dial to a refused port fails at once with ECONNREFUSED, after
// net.Dialer's retry over TCP. 5.10 with MPTCP never completes a
// non-blocking MPTCP connect to a refused port: the subflow's reset does
// not reach the MPTCP socket, which reports neither an error nor a
// connection, so package net cannot see it; the dial waits out its
// Timeout, as the Dialer's doc says (a strict dial asks the subflow
// itself: TestConnectWatch). The test pins both behaviours: the matrix
// names the 5.10 kernel.
func TestDialRefusedPort(t *testing.T) {
	requireMPTCP(t)
	name, _, _ := kernelExpectation(t)
	l := listenPlainTCP(t, "tcp4")
	addr := l.Addr().String()
	l.Close()
	const timeout = 2 * time.Second
	d := &Dialer{Timeout: timeout}
	start := time.Now()
	c, err := d.Dial("tcp4", addr)
	took := time.Since(start)
	if c != nil {
		c.Close()
		t.Fatalf("dial to a closed port connected")
	}
	if name == "5.10-mptcp" {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || took < timeout {
			t.Errorf("5.10: dial to a refused port: %v after %v, want a timeout after %v", err, took, timeout)
		}
		return
	}
	if !errors.Is(err, syscall.ECONNREFUSED) || took >= timeout/2 {
		t.Errorf("dial to a refused port: %v after %v, want ECONNREFUSED at once", err, took)
	}
}

// Hostile and odd inputs to a strict dial: a nil context, a zero Dialer,
// a deadline already passed, a hook that fails. Clear errors, nothing
// connects where it must not, never a panic.
func TestStrictDialHostileInputs(t *testing.T) {
	requireMPTCP(t)
	l := listenLoopback(t, "tcp4")
	accepted := acceptAll(l)
	addr := l.Addr().String()
	noneAccepted := func(what string) {
		t.Helper()
		select {
		case c := <-accepted:
			c.Close()
			t.Errorf("%s: the server accepted a connection", what)
		case <-time.After(100 * time.Millisecond):
		}
	}

	for name, d := range map[string]*Dialer{"zero Dialer": {}, "strict Dialer": {RequireMPTCP: true}} {
		//lint:ignore SA1012 a nil context is the hostile input under test
		c, err := d.DialContext(nil, "tcp", addr)
		if c != nil || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: DialContext(nil context) = %v, %v; want nil and an error matching os.ErrInvalid", name, c, err)
		}
		//lint:ignore SA1012 a nil context is the hostile input under test
		tc, err := d.DialTCP(nil, "tcp", netip.AddrPort{}, netip.MustParseAddrPort(addr))
		if tc != nil || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: DialTCP(nil context) = %v, %v; want nil and an error matching os.ErrInvalid", name, tc, err)
		}
		//lint:ignore SA1012 a nil context is the hostile input under test
		if _, err := d.DialUDP(nil, "udp", netip.AddrPort{}, netip.MustParseAddrPort(addr)); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: DialUDP(nil context): %v; want an error matching os.ErrInvalid", name, err)
		}
		//lint:ignore SA1012 a nil context is the hostile input under test
		if _, err := d.DialIP(nil, "ip4:tcp", netip.Addr{}, netip.MustParseAddr("127.0.0.1")); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: DialIP(nil context): %v; want an error matching os.ErrInvalid", name, err)
		}
		//lint:ignore SA1012 a nil context is the hostile input under test
		if _, err := d.DialUnix(nil, "unix", nil, &net.UnixAddr{Name: "/nonexistent", Net: "unix"}); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: DialUnix(nil context): %v; want an error matching os.ErrInvalid", name, err)
		}
	}
	noneAccepted("nil context")

	// RequireMPTCP alone, every other field zero.
	c, err := (&Dialer{RequireMPTCP: true}).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("strict zero Dialer: %v", err)
	}
	mustMultipath(t, "strict zero Dialer", c.(*MPTCPConn), true)
	c.Close()
	(<-accepted).Close()

	for name, d := range map[string]*Dialer{
		"Deadline passed":  {RequireMPTCP: true, Deadline: time.Now().Add(-time.Hour)},
		"negative Timeout": {RequireMPTCP: true, Timeout: -time.Second},
	} {
		c, err := d.Dial("tcp", addr)
		var ne net.Error
		if c != nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%s: %v, %v; want nil and a timeout", name, c, err)
		}
		noneAccepted(name)
	}

	boom := errors.New("boom")
	d := &Dialer{RequireMPTCP: true, ControlContext: func(context.Context, string, string, syscall.RawConn) error { return boom }}
	if c, err := d.Dial("tcp", addr); c != nil || !errors.Is(err, boom) {
		t.Errorf("hook that fails: %v, %v; want nil and the hook's error", c, err)
	}
	noneAccepted("hook that fails")

	// Contradictory settings: MPTCP turned off, and required.
	d = &Dialer{RequireMPTCP: true}
	d.SetMultipathTCP(false)
	if c, err := d.Dial("tcp", addr); c != nil || !errors.Is(err, ErrNotMPTCP) {
		t.Errorf("SetMultipathTCP(false) with RequireMPTCP: %v, %v; want nil and ErrNotMPTCP", c, err)
	}
	noneAccepted("SetMultipathTCP(false) with RequireMPTCP")
}

// A strict dial to a name tries its next address when one is not MPTCP,
// whatever Fast Fallback's settings, and names every address in its
// error when none gives MPTCP. On loopback, under a name of the test's
// own resolver: a TCP-only server on ::1, which the resolver puts first,
// and an MPTCP one, or another TCP-only one, on 127.0.0.1, on the same
// port. (No refused address: 5.10 never completes a non-blocking MPTCP
// connect to one.)
func TestStrictDialName(t *testing.T) {
	requireMPTCP(t)
	if len(networks(t)) < 2 {
		testenv.SkipOrFail(t, "the test needs an IPv6 loopback address")
	}
	r := fakeResolver(map[string][]netip.Addr{
		"two.mptcp.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	l, port := listenBoth(t, true)
	accepted := acceptAll(l)
	for name, d := range map[string]*Dialer{
		"default":             {},
		"no Fast Fallback":    {FallbackDelay: -1},
		"Fast Fallback in 1h": {FallbackDelay: time.Hour},
		"DualStack":           {DualStack: true},
		"Timeout":             {Timeout: 5 * time.Second},
	} {
		d.RequireMPTCP, d.Resolver = true, r
		c, err := d.Dial("tcp", net.JoinHostPort("two.mptcp.test", port))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		mustMultipath(t, name, c.(*MPTCPConn), true)
		if ra := addrPort(t, c.RemoteAddr()); !ra.Addr().Is4() {
			t.Errorf("%s: connected to %v, want 127.0.0.1", name, ra)
		}
		c.Close()
		(<-accepted).Close()
	}

	_, port = listenBoth(t, false)
	d := &Dialer{RequireMPTCP: true, Resolver: r}
	_, err := d.Dial("tcp", net.JoinHostPort("two.mptcp.test", port))
	var oe *net.OpError
	switch {
	case !errors.As(err, &oe) || !errors.Is(err, ErrNotMPTCP):
		t.Fatalf("no address gives MPTCP: %v, want a *net.OpError matching ErrNotMPTCP", err)
	case !strings.Contains(err.Error(), "[::1]:"+port) || !strings.Contains(err.Error(), "127.0.0.1:"+port):
		t.Errorf("no address gives MPTCP: %q does not name both addresses", err)
	}
	if ne, ok := err.(net.Error); !ok || ne.Timeout() {
		t.Errorf("no address gives MPTCP: %v: Timeout() true, and no deadline passed", err)
	}

	// A name the resolver does not know: the resolver's error, as net.Dialer's.
	_, err = d.Dial("tcp", "nowhere.mptcp.test:80")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("unknown name: %v; want a *net.DNSError, not found", err)
	}
}

// listenBoth listens on 127.0.0.1, with MPTCP or not, and on the same
// port of ::1 with plain TCP; it returns the 127.0.0.1 listener and the
// port. Everything ::1 accepts is closed.
func listenBoth(t *testing.T, mptcp bool) (net.Listener, string) {
	t.Helper()
	for range 20 { // the port may be taken on ::1
		l := listenStd(t, "tcp4", mptcp)
		_, port, _ := net.SplitHostPort(l.Addr().String())
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		l6, err := lc.Listen(context.Background(), "tcp6", net.JoinHostPort("::1", port))
		if err != nil {
			l.Close()
			continue
		}
		t.Cleanup(func() { l6.Close() })
		go func() {
			for {
				c, err := l6.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return l, port
	}
	t.Fatal("no port free on both 127.0.0.1 and ::1 in 20 tries")
	return nil, ""
}

// When the kernel would send an unanswered connection's SYN without
// MPTCP: the SYN timeouts of the kernel's documentation of
// tcp_syn_linear_timeouts ("1, 1, 1, 1, 1, 2, 4, ..." for 4), and what
// 6.18 was measured to do with the defaults (the plain SYN at 3 s).
func TestSYNFallbackAfter(t *testing.T) {
	for _, c := range []struct {
		n, linear int
		want      time.Duration
	}{
		{2, 4, 3 * time.Second}, // the defaults since 6.5
		{2, 0, 7 * time.Second}, // 1 + 2 + 4: no linear timeouts
		{0, 4, time.Second},
		{6, 4, 11 * time.Second}, // 1+1+1+1+1+2+4
		{127, 4, 5*time.Second + (2+4+8+16+32+64)*time.Second + 117*120*time.Second}, // capped at TCP_RTO_MAX
	} {
		if got := synFallbackAfter(c.n, c.linear); got != c.want {
			t.Errorf("synFallbackAfter(%d, %d) = %v, want %v", c.n, c.linear, got, c.want)
		}
	}
}

// A strict dial with one descriptor left: package net's socket takes it,
// and the MPTCP socket that replaces it fails with EMFILE, which is
// reported as such, not as a host without MPTCP.
func TestStrictDialOutOfDescriptors(t *testing.T) {
	if !inChild(t, "strict-emfile") {
		return
	}
	addr := plainServer(t)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// A descriptor numbered at or above the soft limit cannot be made:
	// with the limit just above the lowest free number, one can.
	free, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(free)
	low := lim
	low.Cur = uint64(free) + 1
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	c, err := (&Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}).Dial("tcp4", addr)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if c != nil {
		c.Close()
	}
	if !errors.Is(err, unix.EMFILE) || errors.Is(err, ErrNotMPTCP) {
		t.Errorf("strict dial with one descriptor left: %v, %v; want EMFILE, not ErrNotMPTCP", c, err)
	}
}
