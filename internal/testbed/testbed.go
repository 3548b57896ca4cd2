//go:build linux

// Package testbed builds real multi-path networks for tests: a client and
// a server network namespace joined by several veth links, with MPTCP
// endpoints and limits, per-link shaping, link failure and a middlebox
// that strips the MPTCP option. Everything it creates lives inside the
// two namespaces, which are deleted when the test ends, even after a
// failure; names carry the process id and a counter so that parallel
// runs never collide. [Connect] makes a connection across it, with the
// MPTCP handshake completed ([PingPong]). Beside the bed, the package
// holds the other helpers the tests share: [OpenFDs] and [WaitFDs] for
// descriptor leaks, [SelfSignedCert] for TLS servers.
//
// Everything is set up with iproute2 and iptables, the MPTCP endpoints
// and limits too ("ip mptcp"), never through package pm: pm's tests then
// check pm against state that pm did not make. It needs root, iproute2
// (ip, tc) and, for the middlebox, iptables.
// Without them a test skips with the reason, or fails when the
// environment variable [testenv.RequireEnv] is set, as .ci/run does.
package testbed

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// Require skips or fails t unless it runs as root with the named tools.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "the test bed needs root to create network namespaces")
	}
	for _, tool := range append([]string{"ip", "tc"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.SkipOrFail(t, "the test bed needs %s (Debian packages iproute2, iptables, nftables): %v", tool, err)
		}
	}
}

var counter atomic.Int64

// cmdTimeout bounds every command the test bed runs.
const cmdTimeout = 20 * time.Second

// NS is a network namespace made by the test bed.
type NS struct {
	Name string
	t    testing.TB
}

// Path is the namespace's file, for APIs that take one (pm.Config.NetNS).
func (n *NS) Path() string { return "/run/netns/" + n.Name }

// Do runs f on an OS thread inside the namespace: sockets f creates
// (listeners, dialed connections) belong to it, and stay there when used
// from other goroutines. Goroutines that f starts run outside it. The
// thread never returns to the scheduler's pool: it ends with f.
func (n *NS) Do(f func() error) error {
	ns, err := unix.Open(n.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("testbed: open namespace %s: %w", n.Name, err)
	}
	defer unix.Close(ns)
	errc := make(chan error, 1)
	go func() {
		// Locked and never unlocked: the runtime ends the thread when this
		// goroutine returns, so no other goroutine ever runs in n.
		runtime.LockOSThread()
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("testbed: enter namespace %s: %w", n.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// DialFunc is the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer returns a DialFunc that calls dial inside the namespace, for an
// http.Transport or any code that dials from its own goroutines.
func (n *NS) Dialer(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, address string) (c net.Conn, err error) {
		if nsErr := n.Do(func() error {
			c, err = dial(ctx, network, address)
			return nil
		}); nsErr != nil {
			return nil, nsErr
		}
		return c, err
	}
}

// Sysctl sets a sysctl of the namespace, as in
// Sysctl("net.mptcp.enabled", "0").
func (n *NS) Sysctl(name, value string) {
	n.t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	if err := n.Do(func() error { return os.WriteFile(path, []byte(value), 0o644) }); err != nil {
		n.t.Fatalf("testbed: sysctl %s=%s in %s: %v", name, value, n.Name, err)
	}
}

// Run runs a command inside the namespace and returns its output; a
// failure fails the test.
func (n *NS) Run(name string, args ...string) string {
	n.t.Helper()
	out, err := run(append([]string{"ip", "netns", "exec", n.Name, name}, args...)...)
	if err != nil {
		n.t.Fatalf("testbed: %v", err)
	}
	return out
}

// IP runs "ip -n NS args...".
func (n *NS) IP(args ...string) string {
	n.t.Helper()
	out, err := run(append([]string{"ip", "-n", n.Name}, args...)...)
	if err != nil {
		n.t.Fatalf("testbed: %v", err)
	}
	return out
}

func run(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Link is one veth pair between the client and the server.
type Link struct {
	ClientDev, ServerDev string     // interface names, inside their namespaces
	Client, Server       netip.Addr // IPv4 addresses, 10.0.N.2 and 10.0.N.1
	Client6, Server6     netip.Addr // IPv6 addresses, fd00:0:0:N::2 and ::1
}

// Bed is a client and a server namespace joined by Links.
type Bed struct {
	Client, Server *NS
	Links          []Link
	t              testing.TB
}

// New builds a test bed with n links (1 to 8) and removes it when the
// test ends. MPTCP is on in both namespaces, with limits of 8 subflows and
// 8 accepted addresses and no endpoints. Link i joins the client's
// 10.0.i.2 and fd00:0:0:i::2 to the server's 10.0.i.1 and fd00:0:0:i::1;
// the client routes by source address, so each client address reaches
// every server address over its own link.
func New(t testing.TB, n int) *Bed {
	t.Helper()
	Require(t)
	if n < 1 || n > 8 {
		t.Fatalf("testbed: %d links; want 1 to 8", n)
	}
	id := fmt.Sprintf("mptcptb-%d-%d", os.Getpid(), counter.Add(1))
	b := &Bed{
		Client: &NS{Name: id + "-cli", t: t},
		Server: &NS{Name: id + "-srv", t: t},
		t:      t,
	}
	for _, ns := range []*NS{b.Client, b.Server} {
		if _, err := run("ip", "netns", "add", ns.Name); err != nil {
			testenv.SkipOrFail(t, "cannot create a network namespace: %v", err)
		}
		t.Cleanup(func() {
			if _, err := run("ip", "netns", "delete", ns.Name); err != nil {
				t.Errorf("testbed cleanup: %v", err)
			}
		})
		ns.IP("link", "set", "lo", "up")
		// Before the sysctls: where the kernel has no MPTCP (and so no
		// net.mptcp sysctls) or iproute2 no "ip mptcp", this is what
		// fails, and the test skips with the reason.
		if _, err := run("ip", "-n", ns.Name, "mptcp", "limits", "set",
			"subflows", maxLimit, "add_addr_accepted", maxLimit); err != nil {
			testenv.SkipOrFail(t, "cannot set the MPTCP limits of a new namespace (the test bed needs a kernel with MPTCP and iproute2 with ip mptcp): %v", err)
		}
		ns.Sysctl("net.mptcp.enabled", "1")
		ns.Sysctl("net.ipv4.conf.all.rp_filter", "0")
		ns.Sysctl("net.ipv4.conf.default.rp_filter", "0")
		// No duplicate address detection on the links' IPv6 link-local
		// addresses either (the global ones are added with nodad): it
		// would finish a second or two after the links come up, an
		// address change that programs watching the network react to
		// (Chromium aborts its requests with ERR_NETWORK_CHANGED).
		ns.Sysctl("net.ipv6.conf.all.accept_dad", "0")
		ns.Sysctl("net.ipv6.conf.default.accept_dad", "0")
	}
	for i := 1; i <= n; i++ {
		l := Link{
			ClientDev: fmt.Sprintf("c%d", i),
			ServerDev: fmt.Sprintf("s%d", i),
			Client:    netip.AddrFrom4([4]byte{10, 0, byte(i), 2}),
			Server:    netip.AddrFrom4([4]byte{10, 0, byte(i), 1}),
			Client6:   netip.MustParseAddr(fmt.Sprintf("fd00:0:0:%d::2", i)),
			Server6:   netip.MustParseAddr(fmt.Sprintf("fd00:0:0:%d::1", i)),
		}
		if _, err := run("ip", "link", "add", l.ServerDev, "netns", b.Server.Name, "type", "veth",
			"peer", "name", l.ClientDev, "netns", b.Client.Name); err != nil {
			t.Fatalf("testbed: %v", err)
		}
		for _, side := range []struct {
			ns       *NS
			dev      string
			ip4, ip6 netip.Addr
		}{{b.Server, l.ServerDev, l.Server, l.Server6}, {b.Client, l.ClientDev, l.Client, l.Client6}} {
			side.ns.IP("addr", "add", side.ip4.String()+"/24", "dev", side.dev)
			side.ns.IP("addr", "add", side.ip6.String()+"/64", "dev", side.dev, "nodad")
			side.ns.IP("link", "set", side.dev, "up")
		}
		b.Links = append(b.Links, l)
	}
	// Source routing, as on a multihomed client: traffic from link i's
	// address leaves through link i and can reach every server address
	// there (the server's weak host model delivers it), so a subflow from
	// a second address can join the address the connection started with.
	// Traffic never moves to another link when its own goes down.
	for i, l := range b.Links {
		table := fmt.Sprint(100 + i)
		for _, fam := range []struct {
			flag    string
			src, gw netip.Addr
		}{{"-4", l.Client, l.Server}, {"-6", l.Client6, l.Server6}} {
			b.Client.IP(fam.flag, "rule", "add", "from", fam.src.String(), "table", table)
			b.Client.IP(fam.flag, "route", "add", "default", "via", fam.gw.String(), "dev", l.ClientDev, "table", table)
		}
	}
	return b
}

// maxLimit is the kernel's maximum for both limits of the path manager
// (MPTCP_PM_ADDR_MAX), which New sets.
const maxLimit = "8"

// Endpoint adds an MPTCP endpoint for addr, bound to the link's device
// in ns, with flags such as "subflow", "signal", "backup", "fullmesh":
// "ip -n NS mptcp endpoint add ADDR dev DEV FLAGS...", with the id the
// kernel chooses.
func (b *Bed) Endpoint(ns *NS, addr netip.Addr, flags ...string) {
	b.t.Helper()
	for _, name := range flags {
		if !endpointFlags[name] {
			b.t.Fatalf("testbed: unknown endpoint flag %q (known: signal, subflow, backup, fullmesh)", name)
		}
	}
	argv := append([]string{"ip", "-n", ns.Name, "mptcp", "endpoint", "add", addr.String(), "dev", b.devOf(ns, addr)}, flags...)
	if _, err := run(argv...); err != nil {
		b.t.Fatalf("testbed: endpoint %v in %s: %v", addr, ns.Name, err)
	}
}

// endpointFlags are the flags Endpoint passes to ip.
var endpointFlags = map[string]bool{"signal": true, "subflow": true, "backup": true, "fullmesh": true}

// devOf finds the device that holds addr in ns.
func (b *Bed) devOf(ns *NS, addr netip.Addr) string {
	b.t.Helper()
	for _, l := range b.Links {
		switch {
		case ns == b.Client && (addr == l.Client || addr == l.Client6):
			return l.ClientDev
		case ns == b.Server && (addr == l.Server || addr == l.Server6):
			return l.ServerDev
		}
	}
	b.t.Fatalf("testbed: %v is not an address of %s", addr, ns.Name)
	return ""
}

// SetLink takes link i (0-based) down or brings it back up, on both ends.
func (b *Bed) SetLink(i int, up bool) {
	b.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	b.Client.IP("link", "set", b.Links[i].ClientDev, state)
	b.Server.IP("link", "set", b.Links[i].ServerDev, state)
}

// Shape sets the root qdisc of link i, in both directions, to a tc
// specification such as "tbf rate 20mbit burst 32kbit latency 50ms" or
// "netem delay 20ms loss 1%".
func (b *Bed) Shape(i int, qdisc string) {
	b.t.Helper()
	spec := strings.Fields(qdisc)
	b.Client.Run("tc", append([]string{"qdisc", "replace", "dev", b.Links[i].ClientDev, "root"}, spec...)...)
	b.Server.Run("tc", append([]string{"qdisc", "replace", "dev", b.Links[i].ServerDev, "root"}, spec...)...)
}

// StripMPTCPOption makes ns a middlebox for its own traffic: every TCP
// segment it sends loses option 30 (MPTCP), so its peers see plain TCP.
func (b *Bed) StripMPTCPOption(ns *NS) {
	b.t.Helper()
	Require(b.t, "iptables")
	for _, cmd := range []string{"iptables", "ip6tables"} {
		ns.Run(cmd, "-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "-j", "TCPOPTSTRIP", "--strip-options", "30")
	}
}

// Listen runs listen inside ns and returns its listener, closed when the
// test ends.
func (n *NS) Listen(listen func() (net.Listener, error)) net.Listener {
	n.t.Helper()
	var l net.Listener
	if err := n.Do(func() (err error) {
		l, err = listen()
		return err
	}); err != nil {
		n.t.Fatalf("testbed: listen in %s: %v", n.Name, err)
	}
	n.t.Cleanup(func() { l.Close() })
	return l
}

// RequireMPTCP skips or fails t unless the kernel creates MPTCP sockets:
// for tests whose every check needs MPTCP (Debian 11's own kernel has
// none).
func RequireMPTCP(t testing.TB) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if err != nil {
		testenv.SkipOrFail(t, "this kernel cannot create MPTCP sockets (%v): it needs CONFIG_MPTCP and net.mptcp.enabled=1", err)
	}
	unix.Close(fd)
}
