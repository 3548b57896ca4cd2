package mptcp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// A strict dial sends no plain TCP SYN, whatever becomes of its MPTCP
// attempt: timed out, cancelled, refused, stripped of MPTCP, or given a
// deadline already passed. Package net, asked for MPTCP, retries an
// address over plain TCP after the MPTCP attempt failed; the SYNs are
// counted on the client's way out.
func TestTestbedStrictDialSendsNoPlainSYN(t *testing.T) {
	b := testbed.New(t, 1)
	syns := b.Client.CountSYNs()
	server := b.Links[0].Server
	l := b.Server.Listen(mptcpListen)
	closeAccepted(l)
	port := l.Addr().(*net.TCPAddr).Port
	// Ports of their own: one where the server drops SYNs, one closed,
	// one whose path strips the MPTCP option from the SYN on its way in.
	dropped, closed := port+1, port+2
	b.Server.Run("iptables", "-A", "INPUT", "-p", "tcp", "--dport", strconv.Itoa(dropped), "-j", "DROP")
	stripped := b.Server.Listen(mptcpListen)
	closeAccepted(stripped)
	b.Server.Run("iptables", "-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "--dport",
		strconv.Itoa(stripped.Addr().(*net.TCPAddr).Port), "-j", "TCPOPTSTRIP", "--strip-options", "30")

	addr := func(port int) string { return netip.AddrPortFrom(server, uint16(port)).String() }
	for _, tc := range []struct {
		name      string
		d         *mptcp.Dialer
		dialTCP   bool // with DialTCP, the netip form, rather than DialContext
		ctx       func() (context.Context, context.CancelFunc)
		address   string
		want      func(error) bool
		wantMPTCP int    // MPTCP SYNs: at least 1, or exactly 0
		sysctl    string // a net.mptcp sysctl the case sets to 128
	}{
		{"timeout", &mptcp.Dialer{RequireMPTCP: true, Timeout: 300 * time.Millisecond}, false, nil, addr(dropped),
			isTimeout, 1, ""},
		{"cancel", &mptcp.Dialer{RequireMPTCP: true}, false, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}, addr(dropped), func(err error) bool { return errors.Is(err, context.Canceled) }, 1, ""},
		{"cancel by the Cancel channel", &mptcp.Dialer{RequireMPTCP: true, Cancel: make(chan struct{})}, false, nil, addr(dropped),
			func(err error) bool { return errors.Is(err, context.Canceled) }, 1, ""},
		{"refused", &mptcp.Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}, false, nil, addr(closed),
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, 1, ""},
		{"refused, DialTCP", &mptcp.Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}, true, nil, addr(closed),
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, 1, ""},
		{"option stripped", &mptcp.Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}, false, nil, addr(stripped.Addr().(*net.TCPAddr).Port),
			func(err error) bool { return errors.Is(err, mptcp.ErrNotMPTCP) }, 1, ""},
		{"deadline passed", &mptcp.Dialer{RequireMPTCP: true, Deadline: time.Now().Add(-time.Second)}, false, nil, addr(port),
			isTimeout, 0, ""},
		// From 6.12 the kernel itself retransmits an unanswered MPTCP SYN
		// without the option after syn_retrans_before_tcp_fallback
		// retransmissions (2: after 3 s here). The strict dial gives up
		// on the address before, with an error that says why.
		{"timeout past the kernel's fallback", &mptcp.Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}, false, nil, addr(dropped),
			func(err error) bool {
				return errors.Is(err, mptcp.ErrNotMPTCP) && isTimeout(err) && strings.Contains(err.Error(), "syn_retrans_before_tcp_fallback")
			}, 1, ""},
		// At 128 or more the kernel never falls back: the dial waits out
		// its Timeout. This case is last: the sysctl stays set.
		{"timeout, the kernel's fallback off", &mptcp.Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}, false, nil, addr(dropped),
			func(err error) bool { return isTimeout(err) && !errors.Is(err, mptcp.ErrNotMPTCP) }, 1, "syn_retrans_before_tcp_fallback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sysctl != "" {
				if _, err := os.Stat("/proc/sys/net/mptcp/" + tc.sysctl); err != nil {
					testenv.SkipKernelLacks(t, "net.mptcp."+tc.sysctl, "6.15")
				}
				b.Client.Sysctl("net.mptcp."+tc.sysctl, "128")
			}
			before := syns()
			// The clocks of the cancelling cases start after the count,
			// which runs iptables: slow on a loaded or emulated machine.
			if tc.d.Cancel != nil {
				tc.d.Cancel = closedAfter(300 * time.Millisecond)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			dial := tc.d.DialContext
			if tc.dialTCP {
				dial = func(ctx context.Context, network, address string) (net.Conn, error) {
					c, err := tc.d.DialTCP(ctx, network, netip.AddrPort{}, netip.MustParseAddrPort(address))
					if err != nil {
						return nil, err
					}
					return c, nil
				}
			}
			c, err := b.Client.Dialer(dial)(ctx, "tcp", tc.address)
			if err == nil {
				c.Close()
				t.Fatal("strict dial succeeded")
			}
			want := tc.want
			if _, serr := os.Stat("/proc/sys/net/mptcp/blackhole_timeout"); serr != nil && tc.name == "timeout past the kernel's fallback" {
				// Before 6.12 the kernel never retransmits the SYN without
				// the option (blackhole_timeout came with that): the dial
				// waits out its Timeout, and must not blame a fallback.
				t.Logf("kernel %s has no SYN fallback of its own (6.12 and later)", testenv.KernelRelease())
				want = func(err error) bool { return isTimeout(err) && !errors.Is(err, mptcp.ErrNotMPTCP) }
			}
			if !want(err) {
				t.Errorf("strict dial: %v: not the expected cause", err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) {
				t.Errorf("strict dial: %v is not a *net.OpError", err)
			}
			// A retry would follow the failure at once; give it time to
			// reach the counters.
			time.Sleep(100 * time.Millisecond)
			got := syns()
			got.MPTCP -= before.MPTCP
			got.Plain -= before.Plain
			t.Logf("%v; SYNs sent: %d MPTCP, %d plain", err, got.MPTCP, got.Plain)
			if got.Plain != 0 || (tc.wantMPTCP == 0) != (got.MPTCP == 0) {
				t.Errorf("strict dial (%v) sent %d MPTCP and %d plain SYNs; want %s MPTCP and 0 plain",
					err, got.MPTCP, got.Plain, map[bool]string{true: "none", false: "some"}[tc.wantMPTCP == 0])
			}
		})
	}
}

// closeAccepted closes every connection l accepts, until l is closed.
func closeAccepted(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedAfter returns a channel closed after d.
func closedAfter(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// A strict "tcp" dial to a name with an IPv4 and an IPv6 address, where
// the IPv4 path strips MPTCP and the IPv6 one does not, gets MPTCP over
// IPv6, with Fast Fallback or without; when no address gives MPTCP, the
// error names each with its own cause. The name comes from a resolver of
// the test's own. The dials run in a child process inside the client
// namespace: Fast Fallback dials from two goroutines, and a goroutine
// started on a thread that entered a namespace runs outside it.
func TestTestbedStrictDialTriesEveryAddress(t *testing.T) {
	if phase := os.Getenv(strictPhaseEnv); phase != "" {
		strictDialPhase(t, phase)
		return
	}
	b := testbed.New(t, 1)
	syns := b.Client.CountSYNs()
	listen := func(network string) int {
		l := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen(network, ":0") })
		closeAccepted(l)
		return l.Addr().(*net.TCPAddr).Port
	}
	dual := listen("tcp")
	strip := func(iptables string) {
		b.Server.Run(iptables, "-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-j", "TCPOPTSTRIP", "--strip-options", "30")
	}
	link := b.Links[0]
	inClient := func(phase string, port int) {
		t.Helper()
		before := syns()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", b.Client.Name,
			os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %v %v", strictPhaseEnv, phase, port, link.Server, link.Server6))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
			t.Errorf("%s: %v\n%s", phase, err, out)
		} else {
			t.Logf("%s:\n%s", phase, out)
		}
		if got := syns(); got.Plain != before.Plain || got.MPTCP == before.MPTCP {
			t.Errorf("%s: %d MPTCP and %d plain SYNs sent; want some MPTCP and no plain one",
				phase, got.MPTCP-before.MPTCP, got.Plain-before.Plain)
		}
	}
	strip("iptables")
	inClient("ipv4-stripped", dual)
	drop := []string{"INPUT", "-p", "tcp", "--syn", "-j", "DROP"}
	b.Server.Run("iptables", append([]string{"-A"}, drop...)...)
	inClient("ipv4-dropped", dual)
	b.Server.Run("iptables", append([]string{"-D"}, drop...)...)
	strip("ip6tables")
	inClient("both-stripped", dual)
	inClient("ipv4-stripped-ipv6-refused", listen("tcp4"))
}

// strictPhaseEnv holds "PHASE PORT IPV4 IPV6" in the child process of
// TestTestbedStrictDialTriesEveryAddress.
const strictPhaseEnv = "MPTCP_TEST_STRICT_DIAL_PHASE"

// strictDialPhase is the child's part: the dials of one phase, and what
// they must give.
func strictDialPhase(t *testing.T, spec string) {
	var phase, a4, a6 string
	var port uint16
	if _, err := fmt.Sscanf(spec, "%s %d %s %s", &phase, &port, &a4, &a6); err != nil {
		t.Fatalf("%s=%q: %v", strictPhaseEnv, spec, err)
	}
	v4, v6 := netip.MustParseAddr(a4), netip.MustParseAddr(a6)
	const name = "dual.mptcp.test"
	r := mptcp.FakeResolver(map[string][]netip.Addr{name: {v4, v6}})
	address := net.JoinHostPort(name, strconv.Itoa(int(port)))
	dial := func(d *mptcp.Dialer, network string) (net.Conn, error) {
		d.RequireMPTCP, d.Resolver = true, r
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return d.DialContext(ctx, network, address)
	}
	variants := []struct {
		name string
		d    *mptcp.Dialer
	}{
		{"default", &mptcp.Dialer{}},
		{"Fast Fallback after 5s", &mptcp.Dialer{FallbackDelay: 5 * time.Second}},
		{"no Fast Fallback", &mptcp.Dialer{FallbackDelay: -1}},
		{"DualStack", &mptcp.Dialer{DualStack: true}},
		{"Timeout", &mptcp.Dialer{Timeout: 10 * time.Second}},
	}
	switch phase {
	case "ipv4-stripped":
		// The resolver orders the addresses by RFC 6724, which puts IPv4
		// before a unique local IPv6 address: the stripped path first.
		if ips, err := r.LookupNetIP(context.Background(), "ip", name); err != nil || len(ips) != 2 || ips[0].Unmap() != v4 {
			t.Fatalf("the resolver gives %v, %v: the test needs %v first", ips, err, v4)
		}
		for _, v := range variants {
			start := time.Now()
			c, err := dial(v.d, "tcp")
			if err != nil {
				t.Errorf("%s: strict dial to %s, IPv4 stripped: %v", v.name, address, err)
				continue
			}
			took := time.Since(start)
			isMPTCP(t, v.name, c.(*mptcp.MPTCPConn), true)
			if ra := c.RemoteAddr().(*net.TCPAddr).AddrPort(); ra.Addr() != v6 {
				t.Errorf("%s: connected to %v, want %v", v.name, ra, v6)
			}
			c.Close()
			// The IPv4 attempt fails as its handshake ends, and the IPv6
			// address is tried at once, not after FallbackDelay.
			if took > 3*time.Second {
				t.Errorf("%s: the dial took %v", v.name, took)
			}
		}
		// One address, stripped: its own error, as without a name.
		c, err := dial(&mptcp.Dialer{}, "tcp4")
		if err == nil {
			c.Close()
			t.Fatal("strict tcp4 dial over a stripping path succeeded")
		}
		if !errors.Is(err, mptcp.ErrNotMPTCP) || !strings.Contains(err.Error(), v4.String()) {
			t.Errorf("strict tcp4 dial: %v; want ErrNotMPTCP naming %v", err, v4)
		}
		c, err = dial(&mptcp.Dialer{}, "tcp6")
		if err != nil {
			t.Fatalf("strict tcp6 dial: %v", err)
		}
		c.Close()
	case "ipv4-dropped":
		// IPv4 SYNs go unanswered. Serially, the first address has its
		// share of the Timeout (half, but at least 2 s, as net.Dialer
		// gives); with Fast Fallback, IPv6 starts after FallbackDelay.
		for _, v := range []struct {
			name     string
			d        *mptcp.Dialer
			min, max time.Duration
		}{
			// Under 3 s for IPv4: past it the kernel would retransmit
			// the SYN without MPTCP (see the test above).
			{"no Fast Fallback", &mptcp.Dialer{FallbackDelay: -1, Timeout: 5 * time.Second}, 2400 * time.Millisecond, 4 * time.Second},
			{"no Fast Fallback, short Timeout", &mptcp.Dialer{FallbackDelay: -1, Timeout: 3 * time.Second}, 1900 * time.Millisecond, 2900 * time.Millisecond},
			{"Fast Fallback", &mptcp.Dialer{FallbackDelay: 200 * time.Millisecond, Timeout: 6 * time.Second}, 150 * time.Millisecond, 1500 * time.Millisecond},
		} {
			start := time.Now()
			c, err := dial(v.d, "tcp")
			took := time.Since(start)
			if err != nil {
				t.Errorf("%s: %v", v.name, err)
				continue
			}
			c.Close()
			if took < v.min || took > v.max {
				t.Errorf("%s: connected over IPv6 after %v, want %v to %v", v.name, took, v.min, v.max)
			}
		}
	case "both-stripped":
		for _, v := range variants {
			c, err := dial(v.d, "tcp")
			if err == nil {
				c.Close()
				t.Errorf("%s: strict dial succeeded with both paths stripped", v.name)
				continue
			}
			t.Logf("%s: %v", v.name, err)
			var oe *net.OpError
			if !errors.As(err, &oe) || !errors.Is(err, mptcp.ErrNotMPTCP) {
				t.Errorf("%s: %v; want a *net.OpError matching ErrNotMPTCP", v.name, err)
			}
			for _, a := range []netip.Addr{v4, v6} {
				if !strings.Contains(err.Error(), a.String()) {
					t.Errorf("%s: %q does not name %v", v.name, err, a)
				}
			}
		}
	case "ipv4-stripped-ipv6-refused":
		c, err := dial(&mptcp.Dialer{}, "tcp")
		if err == nil {
			c.Close()
			t.Fatal("strict dial succeeded")
		}
		t.Log(err)
		if !errors.Is(err, mptcp.ErrNotMPTCP) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%v; want ErrNotMPTCP and ECONNREFUSED both", err)
		}
	default:
		t.Fatalf("unknown phase %q", phase)
	}
}
