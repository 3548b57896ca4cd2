package pm_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/pm"
)

// invalidCall is a call with arguments that pm refuses before sending,
// and the kernel command its error must name.
type invalidCall struct {
	name, op string
	call     func() error
}

// noSuchIfindex is an interface index that no interface of the test
// bed's namespaces has.
const noSuchIfindex = 1 << 30

// invalidCalls are calls on c with arguments the kernel would refuse,
// which pm must refuse before sending any request.
func invalidCalls(c *pm.Conn) []invalidCall {
	v4 := netip.MustParseAddr("10.0.0.1")
	v6 := netip.MustParseAddr("fd00::1")
	ap := netip.MustParseAddrPort
	add := func(e pm.Endpoint) func() error {
		return func() error { _, err := c.AddEndpoint(e); return err }
	}
	return []invalidCall{
		{"no address", "add-addr", add(pm.Endpoint{Flags: pm.FlagSubflow})},
		{"unspecified address", "add-addr", add(pm.Endpoint{Addr: netip.IPv4Unspecified(), Flags: pm.FlagSubflow})},
		{"unspecified IPv6 address", "add-addr", add(pm.Endpoint{Addr: netip.IPv6Unspecified(), Flags: pm.FlagSubflow})},
		{"multicast address", "add-addr", add(pm.Endpoint{Addr: netip.MustParseAddr("ff02::1"), Flags: pm.FlagSignal})},
		{"zoned address", "add-addr", add(pm.Endpoint{Addr: netip.MustParseAddr("fe80::1%eth0"), Flags: pm.FlagSignal})},
		{"port without signal", "add-addr", add(pm.Endpoint{Addr: v4, Port: 80, Flags: pm.FlagSubflow})},
		{"port with signal and subflow", "add-addr", add(pm.Endpoint{Addr: v4, Port: 80, Flags: pm.FlagSignal | pm.FlagSubflow})},
		{"signal and fullmesh", "add-addr", add(pm.Endpoint{Addr: v4, Flags: pm.FlagSignal | pm.FlagFullmesh})},
		{"implicit", "add-addr", add(pm.Endpoint{Addr: v4, Flags: pm.FlagImplicit})},
		{"negative ifindex", "add-addr", add(pm.Endpoint{Addr: v4, Ifindex: -1})},
		{"IPv4 multicast address", "add-addr", add(pm.Endpoint{Addr: netip.MustParseAddr("224.0.0.1"), Flags: pm.FlagSubflow})},
		{"broadcast address", "add-addr", add(pm.Endpoint{Addr: netip.MustParseAddr("255.255.255.255"), Flags: pm.FlagSubflow})},
		{"IPv4-mapped broadcast address", "add-addr", add(pm.Endpoint{Addr: netip.MustParseAddr("::ffff:255.255.255.255"), Flags: pm.FlagSignal})},
		{"loopback address", "add-addr", add(pm.Endpoint{Addr: netip.MustParseAddr("127.0.0.1"), Flags: pm.FlagSubflow})},
		{"loopback 127.1.2.3", "add-addr", add(pm.Endpoint{Addr: netip.MustParseAddr("127.1.2.3"), Flags: pm.FlagSignal})},
		{"loopback ::1", "add-addr", add(pm.Endpoint{Addr: netip.IPv6Loopback(), Flags: pm.FlagSubflow})},
		{"nonexistent ifindex", "add-addr", add(pm.Endpoint{Addr: v4, Flags: pm.FlagSubflow, Ifindex: noSuchIfindex})},
		{"get id 0", "get-addr", func() error { _, err := c.Endpoint(0); return err }},
		{"delete id 0", "del-addr", func() error { return c.DeleteEndpoint(0) }},
		{"set flags id 0", "set-flags", func() error { return c.SetEndpointFlags(0, pm.FlagBackup) }},
		{"set signal", "set-flags", func() error { return c.SetEndpointFlags(1, pm.FlagSignal) }},
		{"set laminar", "set-flags", func() error { return c.SetEndpointFlags(1, pm.FlagBackup|pm.FlagLaminar) }},
		{"subflows 9", "set-limits", func() error { return c.SetLimits(pm.Limits{Subflows: pm.MaxLimit + 1}) }},
		{"add_addr_accepted 1<<31", "set-limits", func() error { return c.SetLimits(pm.Limits{AddAddrAccepted: 1 << 31}) }},
		{"announce id 0", "announce", func() error { return c.Announce(1, 0, ap("10.0.0.1:0")) }},
		{"announce no address", "announce", func() error { return c.Announce(1, 1, netip.AddrPort{}) }},
		{"announce multicast", "announce", func() error { return c.Announce(1, 1, ap("224.0.0.1:0")) }},
		{"announce broadcast", "announce", func() error { return c.Announce(1, 1, ap("255.255.255.255:0")) }},
		{"announce loopback", "announce", func() error { return c.Announce(1, 1, ap("127.0.0.1:80")) }},
		{"announce ::1", "announce", func() error { return c.Announce(1, 1, ap("[::1]:0")) }},
		{"announce unspecified", "announce", func() error { return c.Announce(1, 1, ap("0.0.0.0:0")) }},
		{"create no local", "subflow-create", func() error { return c.CreateSubflow(1, netip.AddrPort{}, ap("10.0.0.2:80"), nil) }},
		{"create remote port 0", "subflow-create", func() error { return c.CreateSubflow(1, ap("10.0.0.1:0"), ap("10.0.0.2:0"), nil) }},
		{"create families", "subflow-create", func() error {
			return c.CreateSubflow(1, netip.AddrPortFrom(v6, 0), ap("10.0.0.2:80"), nil)
		}},
		{"create to broadcast", "subflow-create", func() error { return c.CreateSubflow(1, ap("10.0.0.1:0"), ap("255.255.255.255:80"), nil) }},
		{"create nonexistent ifindex", "subflow-create", func() error {
			return c.CreateSubflow(1, ap("10.0.0.1:0"), ap("10.0.0.2:80"), &pm.SubflowOptions{LocalID: 2, Ifindex: noSuchIfindex})
		}},
		{"create negative ifindex", "subflow-create", func() error {
			return c.CreateSubflow(1, ap("10.0.0.1:0"), ap("10.0.0.2:80"), &pm.SubflowOptions{Ifindex: -2})
		}},
		{"destroy local port 0", "subflow-destroy", func() error { return c.DestroySubflow(1, ap("10.0.0.1:0"), ap("10.0.0.2:80")) }},
		{"destroy remote port 0", "subflow-destroy", func() error { return c.DestroySubflow(1, ap("10.0.0.1:5"), ap("10.0.0.2:0")) }},
		{"destroy families", "subflow-destroy", func() error {
			return c.DestroySubflow(1, ap("10.0.0.1:5"), netip.AddrPortFrom(v6, 80))
		}},
		{"backup families", "set-flags", func() error {
			return c.SetSubflowBackup(1, ap("10.0.0.1:0"), netip.AddrPortFrom(v6, 80), true)
		}},
		{"backup unspecified remote", "set-flags", func() error {
			return c.SetSubflowBackup(1, ap("10.0.0.1:0"), ap("0.0.0.0:80"), true)
		}},
	}
}

// refusedBeforeSending reports what is wrong with err, the error of an
// invalidCall for op, or "" when it is an *net.OpError for op that matches
// os.ErrInvalid and carries no errno and no message from the kernel.
func refusedBeforeSending(err error, op string) string {
	var oe *net.OpError
	var ne *netlink.OpError
	var errno syscall.Errno
	switch {
	case err == nil:
		return "no error"
	case !errors.Is(err, os.ErrInvalid):
		return "does not match os.ErrInvalid"
	case errors.As(err, &errno):
		return "carries errno " + errno.Error() + ", which only the kernel's refusals carry"
	case !errors.As(err, &oe) || oe.Op != op || oe.Net != "mptcp_pm":
		return "is not an *net.OpError for " + op
	case errors.As(err, &ne):
		return "carries a message from the kernel"
	}
	return ""
}

// Arguments the kernel would refuse are refused before any request is
// sent, with an error that matches os.ErrInvalid and carries no errno.
//
// The proof that nothing was sent is the kernel's: every invalid call
// runs in a child process of user nobody (runUnprivileged), on a Conn in
// the test bed's client namespace. The kernel checks CAP_NET_ADMIN for
// every command that changes something before it reads the request's
// attributes, so that such a request, whatever its arguments, is answered
// EPERM (TestUnprivileged shows it for every command; the child checks it
// again on requests with arguments the kernel would refuse). An error
// with no errno at all therefore proves that the request never reached
// the kernel. Reading an endpoint needs no privilege: for Endpoint(0) the
// proof is that the kernel answers a GET_ADDR for id 0, which no
// endpoint can hold, with EINVAL and "address not found" (iproute2 sends
// it here, and the child sees pm pass on that errno and message for an
// id that no endpoint holds), where pm's error has neither.
//
// Then, as root, the same calls on a privileged Conn leave the endpoints
// and limits that iproute2 shows as they were.
func TestInvalidArgumentsSendNothing(t *testing.T) {
	if isChild(t) {
		invalidArgumentsChild(t)
		return
	}
	b := testbed.New(t, 1)
	l := b.Links[0]
	c := dialPM(t, b.Client)
	// An endpoint with id 1, which "set signal" and "set laminar" name,
	// and limits other than the test bed's: a change would show.
	if _, err := c.AddEndpoint(pm.Endpoint{ID: 1, Addr: l.Client, Flags: pm.FlagSubflow}); err != nil {
		t.Fatal(err)
	}
	b.Endpoint(b.Client, l.Client6, "signal")
	b.Client.IP("mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "4")
	endpoints, limits := ipEndpoints(t, b.Client), ipLimits(t, b.Client)
	unchanged := func(who string) {
		t.Helper()
		if after := ipEndpoints(t, b.Client); !reflect.DeepEqual(after, endpoints) {
			t.Errorf("after the invalid calls %s, ip shows endpoints %v, were %v", who, after, endpoints)
		}
		if after := ipLimits(t, b.Client); after != limits {
			t.Errorf("after the invalid calls %s, ip shows limits %v, were %v", who, after, limits)
		}
	}

	// What the kernel answers to a GET_ADDR for id 0, had pm sent one.
	out, err := exec.Command("ip", "-n", b.Client.Name, "mptcp", "endpoint", "show", "id", "0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address not found") {
		t.Fatalf("ip mptcp endpoint show id 0: %v: %s; want the kernel's refusal, \"address not found\"", err, out)
	}

	runUnprivileged(t, b.Client)
	unchanged("of user nobody")

	for _, tc := range invalidCalls(c) {
		if d := refusedBeforeSending(tc.call(), tc.op); d != "" {
			t.Errorf("as root, %s: the error %s", tc.name, d)
		}
	}
	unchanged("as root")
}

// invalidArgumentsChild runs as user nobody, without CAP_NET_ADMIN,
// inside the test bed's client namespace.
func invalidArgumentsChild(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("the unprivileged child runs as root")
	}
	c, err := pm.Dial(nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()

	// The premise: requests of this process that change something reach
	// the kernel and come back EPERM, even with arguments the kernel
	// itself would refuse (as root: EINVAL, no endpoint 200; EINVAL,
	// "invalid token").
	controls := map[string]error{
		"DeleteEndpoint(200)":          c.DeleteEndpoint(200),
		"SetLimits of the same limits": c.SetLimits(pm.Limits{Subflows: 3, AddAddrAccepted: 4}),
	}
	if kernelAtLeast("5.19") {
		// Older kernels have no subflow-create, which pm then refuses
		// before sending (TestUnprivileged).
		controls["CreateSubflow of no token"] = c.CreateSubflow(0, netip.MustParseAddrPort("10.0.1.2:0"), netip.MustParseAddrPort("10.0.1.1:1"), nil)
	}
	for name, err := range controls {
		if !errors.Is(err, syscall.EPERM) {
			t.Fatalf("control: %s as user nobody: %v, want EPERM", name, err)
		}
	}
	// And a GET_ADDR that reaches the kernel for an id no endpoint holds
	// comes back with the kernel's errno and message.
	var ne *netlink.OpError
	if _, err := c.Endpoint(200); !errors.Is(err, syscall.EINVAL) || !errors.As(err, &ne) || ne.Message == "" {
		t.Fatalf("control: Endpoint(200) as user nobody: %v, want EINVAL with the kernel's message", err)
	}

	for _, tc := range invalidCalls(c) {
		err := tc.call()
		if d := refusedBeforeSending(err, tc.op); d != "" {
			t.Errorf("%s: %v: the error %s", tc.name, err, d)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}

	// Dial refuses a negative descriptor before using it: fcntl would
	// have answered EBADF (TestDialNamespaces).
	if _, err := pm.Dial(&pm.Config{NetNSFD: -1}); refusedBeforeSending(err, "dial") != "" {
		t.Errorf("Dial with NetNSFD -1: %v: the error %s", err, refusedBeforeSending(err, "dial"))
	}
}

// A closed Conn, and a nil one, answer every call with an error matching
// net.ErrClosed, and change nothing: the calls that would change
// something leave the endpoints and limits that iproute2 shows as they
// were. (TestDialNamespaces closes a Conn twice and subscribes after
// Close.)
func TestClosedConn(t *testing.T) {
	b := testbed.New(t, 1)
	l := b.Links[0]
	c, err := pm.Dial(&pm.Config{NetNS: nsPath(b.Client)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddEndpoint(pm.Endpoint{ID: 1, Addr: l.Client, Flags: pm.FlagSubflow}); err != nil {
		t.Fatal(err)
	}
	endpoints, limits := ipEndpoints(t, b.Client), ipLimits(t, b.Client)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	local, remote := netip.AddrPortFrom(l.Client, 1), netip.AddrPortFrom(l.Server, 80)
	var nilConn *pm.Conn
	for _, conn := range []struct {
		name string
		c    *pm.Conn
	}{{"closed", c}, {"nil", nilConn}} {
		c := conn.c
		for _, tc := range []invalidCall{
			{"Endpoints", "get-addr", func() error { _, err := c.Endpoints(); return err }},
			{"Endpoint", "get-addr", func() error { _, err := c.Endpoint(1); return err }},
			{"AddEndpoint", "add-addr", func() error {
				_, err := c.AddEndpoint(pm.Endpoint{Addr: l.Client6, Flags: pm.FlagSignal})
				return err
			}},
			{"DeleteEndpoint", "del-addr", func() error { return c.DeleteEndpoint(1) }},
			{"FlushEndpoints", "flush-addrs", func() error { return c.FlushEndpoints() }},
			{"SetEndpointFlags", "set-flags", func() error { return c.SetEndpointFlags(1, pm.FlagBackup) }},
			{"Limits", "get-limits", func() error { _, err := c.Limits(); return err }},
			{"SetLimits", "set-limits", func() error { return c.SetLimits(pm.Limits{Subflows: 1, AddAddrAccepted: 1}) }},
			{"Announce", "announce", func() error { return c.Announce(1, 1, local) }},
			{"Remove", "remove", func() error { return c.Remove(1, 1) }},
			{"CreateSubflow", "subflow-create", func() error { return c.CreateSubflow(1, local, remote, nil) }},
			{"DestroySubflow", "subflow-destroy", func() error { return c.DestroySubflow(1, local, remote) }},
			{"SetSubflowBackup", "set-flags", func() error { return c.SetSubflowBackup(1, local, remote, true) }},
			{"Subscribe", "subscribe", func() error { _, err := c.Subscribe(); return err }},
			{"Close", "close", func() error { return c.Close() }},
		} {
			err := tc.call()
			var oe *net.OpError
			if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) || oe.Op != tc.op {
				t.Errorf("%s on a %s Conn: %v, want a %s error matching net.ErrClosed", tc.name, conn.name, err, tc.op)
			}
		}
	}
	if after := ipEndpoints(t, b.Client); !reflect.DeepEqual(after, endpoints) {
		t.Errorf("after calls on a closed Conn, ip shows endpoints %v, were %v", after, endpoints)
	}
	if after := ipLimits(t, b.Client); after != limits {
		t.Errorf("after calls on a closed Conn, ip shows limits %v, were %v", after, limits)
	}
}
