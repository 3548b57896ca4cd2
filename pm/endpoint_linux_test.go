package pm_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
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
	var added []pm.Endpoint
	for _, e := range adds {
		got, err := c.AddEndpoint(e)
		if err != nil {
			t.Fatalf("AddEndpoint(%v): %v", e, err)
		}
		added = append(added, got)
		want := e
		want.Addr = want.Addr.Unmap()
		if e.Flags&pm.FlagLaminar != 0 && !testenv.KernelAtLeast(6, 18) {
			// Older kernels take the flag they do not know without an
			// error, and drop it (6.1) or keep the bit without effect
			// (5.10): AddEndpoint reports what the kernel kept, which
			// sameEndpoints compares with what ip shows.
			t.Logf("kernel %s predates the laminar flag (6.18): it keeps %v as %v", testenv.KernelRelease(), e, got)
			want.Flags = want.Flags&^pm.FlagLaminar | got.Flags&pm.FlagLaminar
		}
		if e.ID != 0 && !testenv.KernelAtLeast(5, 11) {
			// Before 5.11 the kernel chooses every id, as ip shows:
			// AddEndpoint reports the one it chose.
			t.Logf("kernel %s predates chosen endpoint ids (5.11): it gave %v id %d", testenv.KernelRelease(), e, got.ID)
			want.ID = 0
		}
		if e.Port != 0 && !testenv.KernelAtLeast(5, 12) {
			t.Logf("kernel %s predates endpoint ports (5.12): it keeps %v without its port", testenv.KernelRelease(), e)
			want.Port = 0
		}
		if want.ID == 0 {
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

	// ip adds one; pm sees it, with the id ip asked for where the kernel
	// keeps it (5.11).
	b.Client.IP("mptcp", "endpoint", "add", "10.0.2.99", "dev", l2.ClientDev, "id", "7", "subflow")
	eps = sameEndpoints(t, c, b.Client)
	ipAdded := pm.Endpoint{ID: 7, Addr: netip.MustParseAddr("10.0.2.99"), Flags: pm.FlagSubflow, Ifindex: idx[l2.ClientDev]}
	if !testenv.KernelAtLeast(5, 11) {
		for _, e := range eps {
			if e.Addr == ipAdded.Addr {
				ipAdded.ID = e.ID
			}
		}
	}
	if !hasEndpoint(eps, ipAdded) {
		t.Errorf("pm does not list the endpoint ip added, %v: %v", ipAdded, eps)
	}
	id := ipAdded.ID

	// Flags: set, checked by ip, cleared; or, on a kernel without
	// set-flags, the error that says so.
	err := c.SetEndpointFlags(id, pm.FlagBackup|pm.FlagFullmesh)
	if !testenv.KernelAtLeast(5, 12) {
		var oe *net.OpError
		if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &oe) || oe.Op != "set-flags" ||
			!strings.Contains(err.Error(), "no set-flags command (Linux 5.12 added it)") {
			t.Errorf("SetEndpointFlags on kernel %s: %v, want an error matching errors.ErrUnsupported that names set-flags", testenv.KernelRelease(), err)
		}
	} else {
		if err != nil {
			t.Fatalf("SetEndpointFlags: %v", err)
		}
		sameEndpoints(t, c, b.Client)
		if e, _ := c.Endpoint(id); e.Flags != pm.FlagSubflow|pm.FlagBackup|pm.FlagFullmesh {
			t.Errorf("after SetEndpointFlags(backup|fullmesh): %v", e)
		}
		if err := c.SetEndpointFlags(id, 0); err != nil {
			t.Fatalf("SetEndpointFlags(0): %v", err)
		}
		sameEndpoints(t, c, b.Client)
		if e, _ := c.Endpoint(id); e.Flags != pm.FlagSubflow {
			t.Errorf("after SetEndpointFlags(0): %v", e)
		}
		// ip changes one; pm sees it.
		b.Client.IP("mptcp", "endpoint", "change", "id", strconv.Itoa(int(id)), "backup")
		if e, _ := c.Endpoint(id); e.Flags != pm.FlagSubflow|pm.FlagBackup {
			t.Errorf("after ip endpoint change backup: %v", e)
		}
	}

	// Delete: by pm, then by ip.
	id42 := added[1].ID // 42 from 5.11 on
	if err := c.DeleteEndpoint(id42); err != nil {
		t.Fatalf("DeleteEndpoint(%d): %v", id42, err)
	}
	b.Client.IP("mptcp", "endpoint", "delete", "id", strconv.Itoa(int(id)))
	eps = sameEndpoints(t, c, b.Client)
	if hasID(eps, id42) || hasID(eps, id) {
		t.Errorf("deleted endpoints still listed: %v", eps)
	}

	// Kernel refusals keep their errno and the kernel's words.
	_, err = c.AddEndpoint(pm.Endpoint{Addr: l2.Client, Flags: pm.FlagSubflow})
	var ne *netlink.OpError
	if testenv.KernelAtLeast(6, 2) {
		if !errors.Is(err, syscall.EEXIST) || !errors.Is(err, os.ErrExist) {
			t.Errorf("adding a duplicate address: %v, want EEXIST, matching os.ErrExist", err)
		}
	} else if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &ne) || !strings.Contains(ne.Message, "duplicate") {
		// Before 6.2 the kernel answers EINVAL for every refusal of an
		// endpoint, and says why in its message.
		t.Errorf("adding a duplicate address on kernel %s: %v, want EINVAL with the kernel's message of a duplicate", testenv.KernelRelease(), err)
	}
	if eps := sameEndpoints(t, c, b.Client); len(eps) != len(adds)-1 {
		t.Errorf("after a refused duplicate: %v", eps)
	}
	_, err = c.Endpoint(200)
	var oe *net.OpError
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
