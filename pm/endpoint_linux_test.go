package pm_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/pm"
)

// sameEndpoints fails t unless pm and ip list the same endpoints.
func sameEndpoints(t *testing.T, c *pm.Conn, ns *testbed.NS) []pm.Endpoint {
	t.Helper()
	got, err := c.Endpoints()
	if err != nil {
		t.Fatalf("Endpoints: %v", err)
	}
	want := ipEndpoints(t, ns)
	if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
		t.Fatalf("pm lists endpoints\n\t%v\nip lists\n\t%v", got, want)
	}
	for _, e := range got {
		one, err := c.Endpoint(e.ID)
		if err != nil || one != e {
			t.Errorf("Endpoint(%d) = %v, %v; want %v", e.ID, one, err, e)
		}
	}
	return got
}

// Every endpoint command, checked against "ip mptcp endpoint show", in
// both directions: what pm adds, ip sees, and what ip adds, pm sees.
func TestEndpointsAgreeWithIP(t *testing.T) {
	b := testbed.New(t, 2)
	c := dialPM(t, b.Client)
	l1, l2 := b.Links[0], b.Links[1]
	idx := ifindexes(t, b.Client)

	if eps := sameEndpoints(t, c, b.Client); len(eps) != 0 {
		t.Fatalf("a new namespace has endpoints %v", eps)
	}

	adds := []pm.Endpoint{
		{Addr: l2.Client, Flags: pm.FlagSubflow, Ifindex: idx[l2.ClientDev]},
		{Addr: l2.Client6, Flags: pm.FlagSignal, Port: 8443, ID: 42},
		{Addr: l1.Client6, Flags: pm.FlagSubflow | pm.FlagBackup | pm.FlagFullmesh},
		// IPv4-mapped goes out as IPv4.
		{Addr: netip.AddrFrom16(l1.Client.As16()), Flags: pm.FlagSignal | pm.FlagBackup},
		// A flag iproute2 6.1 does not know: it shows it as rawflags.
		{Addr: netip.MustParseAddr("10.0.9.9"), Flags: pm.FlagSubflow | pm.FlagLaminar},
	}
	for _, e := range adds {
		got, err := c.AddEndpoint(e)
		if err != nil {
			t.Fatalf("AddEndpoint(%v): %v", e, err)
		}
		want := e
		want.Addr = want.Addr.Unmap()
		if e.ID == 0 {
			if got.ID == 0 {
				t.Errorf("AddEndpoint(%v) returned id 0", e)
			}
			want.ID = got.ID
		}
		if got != want {
			t.Errorf("AddEndpoint(%v) = %v, want %v", e, got, want)
		}
	}
	eps := sameEndpoints(t, c, b.Client)
	if len(eps) != len(adds) {
		t.Fatalf("%d endpoints after %d adds: %v", len(eps), len(adds), eps)
	}

	// ip adds one; pm sees it.
	b.Client.IP("mptcp", "endpoint", "add", "10.0.2.99", "dev", l2.ClientDev, "id", "7", "subflow")
	eps = sameEndpoints(t, c, b.Client)
	if !hasEndpoint(eps, pm.Endpoint{ID: 7, Addr: netip.MustParseAddr("10.0.2.99"), Flags: pm.FlagSubflow, Ifindex: idx[l2.ClientDev]}) {
		t.Errorf("pm does not list the endpoint ip added: %v", eps)
	}

	// Flags: set, checked by ip, cleared.
	if err := c.SetEndpointFlags(7, pm.FlagBackup|pm.FlagFullmesh); err != nil {
		t.Fatalf("SetEndpointFlags: %v", err)
	}
	sameEndpoints(t, c, b.Client)
	if e, _ := c.Endpoint(7); e.Flags != pm.FlagSubflow|pm.FlagBackup|pm.FlagFullmesh {
		t.Errorf("after SetEndpointFlags(backup|fullmesh): %v", e)
	}
	if err := c.SetEndpointFlags(7, 0); err != nil {
		t.Fatalf("SetEndpointFlags(0): %v", err)
	}
	sameEndpoints(t, c, b.Client)
	if e, _ := c.Endpoint(7); e.Flags != pm.FlagSubflow {
		t.Errorf("after SetEndpointFlags(0): %v", e)
	}
	// ip changes one; pm sees it.
	b.Client.IP("mptcp", "endpoint", "change", "id", "7", "backup")
	if e, _ := c.Endpoint(7); e.Flags != pm.FlagSubflow|pm.FlagBackup {
		t.Errorf("after ip endpoint change backup: %v", e)
	}

	// Delete: by pm, then by ip.
	if err := c.DeleteEndpoint(42); err != nil {
		t.Fatalf("DeleteEndpoint(42): %v", err)
	}
	b.Client.IP("mptcp", "endpoint", "delete", "id", "7")
	eps = sameEndpoints(t, c, b.Client)
	if hasID(eps, 42) || hasID(eps, 7) {
		t.Errorf("deleted endpoints still listed: %v", eps)
	}

	// Kernel refusals keep their errno and the kernel's words.
	_, err := c.AddEndpoint(pm.Endpoint{Addr: l2.Client, Flags: pm.FlagSubflow})
	if !errors.Is(err, syscall.EEXIST) || !errors.Is(err, os.ErrExist) {
		t.Errorf("adding a duplicate address: %v, want EEXIST, matching os.ErrExist", err)
	}
	_, err = c.Endpoint(200)
	var oe *net.OpError
	var ne *netlink.OpError
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &oe) || oe.Op != "get-addr" || oe.Net != "mptcp_pm" || !errors.As(err, &ne) || ne.Message == "" {
		t.Errorf("Endpoint(200) of none: %v (%#v), want EINVAL with the kernel's message", err, err)
	}
	if errors.Is(err, os.ErrInvalid) {
		t.Errorf("a kernel refusal matches os.ErrInvalid, kept for refusals before sending: %v", err)
	}
	if err := c.DeleteEndpoint(200); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("DeleteEndpoint(200) of none: %v, want EINVAL", err)
	}

	if err := c.FlushEndpoints(); err != nil {
		t.Fatalf("FlushEndpoints: %v", err)
	}
	if eps := sameEndpoints(t, c, b.Client); len(eps) != 0 {
		t.Errorf("endpoints after flush: %v", eps)
	}
	if out := strings.TrimSpace(b.Client.IP("mptcp", "endpoint", "show")); out != "" {
		t.Errorf("ip shows endpoints after flush: %q", out)
	}
	// The server's namespace was never touched.
	if eps := ipEndpoints(t, b.Server); len(eps) != 0 {
		t.Errorf("server namespace has endpoints %v", eps)
	}
}

func hasID(eps []pm.Endpoint, id uint8) bool {
	for _, e := range eps {
		if e.ID == id {
			return true
		}
	}
	return false
}

func hasEndpoint(eps []pm.Endpoint, want pm.Endpoint) bool {
	for _, e := range eps {
		if e == want {
			return true
		}
	}
	return false
}

// Limits, set by pm and read by ip, set by ip and read by pm.
func TestLimitsAgreeWithIP(t *testing.T) {
	b := testbed.New(t, 1)
	c := dialPM(t, b.Client)
	for _, l := range []pm.Limits{{Subflows: 3, AddAddrAccepted: 5}, {}, {Subflows: pm.MaxLimit, AddAddrAccepted: pm.MaxLimit}} {
		if err := c.SetLimits(l); err != nil {
			t.Fatalf("SetLimits(%v): %v", l, err)
		}
		if got := ipLimits(t, b.Client); got != l {
			t.Errorf("after SetLimits(%v), ip shows %v", l, got)
		}
		if got, err := c.Limits(); err != nil || got != l {
			t.Errorf("after SetLimits(%v), Limits = %v, %v", l, got, err)
		}
	}
	b.Client.IP("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "6")
	if got, err := c.Limits(); err != nil || got != (pm.Limits{Subflows: 2, AddAddrAccepted: 6}) {
		t.Errorf("after ip limits set subflows 2 add_addr_accepted 6, Limits = %v, %v", got, err)
	}
	// Over the maximum: refused before sending, nothing changed.
	err := c.SetLimits(pm.Limits{Subflows: 9})
	if !errors.Is(err, os.ErrInvalid) {
		t.Errorf("SetLimits(9): %v, want os.ErrInvalid", err)
	}
	if got := ipLimits(t, b.Client); got != (pm.Limits{Subflows: 2, AddAddrAccepted: 6}) {
		t.Errorf("after a refused SetLimits, ip shows %v", got)
	}
	if got := ipLimits(t, b.Server); got != (pm.Limits{Subflows: 8, AddAddrAccepted: 8}) {
		t.Errorf("the server namespace's limits changed: %v", got)
	}
}
