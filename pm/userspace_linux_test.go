package pm_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
	"github.com/multipath-go/mptcp/pm"
)

// The userspace path manager on the client: the test opens a connection
// with package mptcp, then drives its subflows and addresses with pm, and
// checks each step in the connection's Subflows on both ends, in the
// events of both namespaces, and in "ip mptcp monitor".
func TestUserspacePathManager(t *testing.T) {
	requireUserspacePM(t)
	b := testbed.New(t, 2)
	b.Client.Sysctl("net.mptcp.pm_type", "1")
	l1, l2 := b.Links[0], b.Links[1]
	cc, sc := dialPM(t, b.Client), dialPM(t, b.Server)
	crec, srec := record(t, cc), record(t, sc)
	cmon, smon := startMonitor(t, b.Client), startMonitor(t, b.Server)
	// The server's in-kernel path manager accepts joins but opens no
	// subflow to the addresses the client announces.
	if err := sc.SetLimits(pm.Limits{Subflows: 8}); err != nil {
		t.Fatal(err)
	}

	client, server := mptcptest.ConnectTo(t, b, nil, mptcptest.Listen(t, b, "tcp", netip.IPv6Unspecified()), l1.Server)
	ctok, stok := token(t, "client", client), token(t, "server", server)
	port := uint16(server.LocalAddr().(*net.TCPAddr).Port)
	crec.wait(t, 10*time.Second, is(pm.EventEstablished, ctok))
	// Nothing happens by itself under the userspace path manager.
	time.Sleep(100 * time.Millisecond)
	mptcptest.WaitSubflows(t, client, 1)

	// subflowEvent waits for an event of type typ on r for tok, from
	// local to remote (as seen from r's side).
	subflowEvent := func(r *recorder, tok uint32, typ pm.EventType, local, remote netip.Addr) pm.Event {
		t.Helper()
		return r.wait(t, 10*time.Second, func(e pm.Event) bool {
			return e.Token == tok && e.Type == typ && e.Local.Addr() == local && e.Remote.Addr() == remote
		})
	}
	// inSubflows fails t unless c has a subflow from local to remote.
	inSubflows := func(name string, c *mptcp.MPTCPConn, local, remote netip.AddrPort) {
		t.Helper()
		subs, err := c.Subflows()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if s.Local == local && s.Remote == remote {
				return
			}
		}
		t.Errorf("%s: no subflow %v -> %v in\n%v", name, local, remote, mptcp.SubflowTable(subs))
	}

	// A second subflow from the client's link-2 address, to each of the
	// server's addresses in turn.
	var sf pm.Event
	for i, remote := range []netip.Addr{l1.Server, l2.Server} {
		err := cc.CreateSubflow(ctok, netip.AddrPortFrom(l2.Client, 0), netip.AddrPortFrom(remote, port), &pm.SubflowOptions{LocalID: 2})
		if err != nil {
			t.Fatalf("CreateSubflow %v -> %v: %v", l2.Client, remote, err)
		}
		mptcptest.WaitSubflows(t, client, 2)
		mptcptest.WaitSubflows(t, server, 2)
		sf = subflowEvent(crec, ctok, pm.EventSubflowEstablished, l2.Client, remote)
		ssf := subflowEvent(srec, stok, pm.EventSubflowEstablished, remote, l2.Client)
		if sf.Remote.Port() != port || ssf.Local.Port() != port || ssf.Remote.Port() != sf.Local.Port() {
			t.Errorf("ports: client %v, server %v", sf, ssf)
		}
		if sf.LocalID != 2 || ssf.RemoteID != 2 || sf.RemoteID != ssf.LocalID {
			t.Errorf("address ids: client %v, server %v", sf, ssf)
		}
		inSubflows("client", client, sf.Local, sf.Remote)
		inSubflows("server", server, ssf.Local, ssf.Remote)
		if i == 1 {
			break // keep the last one
		}
		if err := cc.DestroySubflow(ctok, sf.Local, sf.Remote); err != nil {
			t.Fatalf("DestroySubflow(%v, %v): %v", sf.Local, sf.Remote, err)
		}
		subflowEvent(crec, ctok, pm.EventSubflowClosed, sf.Local.Addr(), sf.Remote.Addr())
		mptcptest.WaitSubflows(t, client, 1)
		mptcptest.WaitSubflows(t, server, 1)
	}

	// Backup priority: the server learns it by MP_PRIO.
	if err := cc.SetSubflowBackup(ctok, sf.Local, sf.Remote, true); err != nil {
		t.Fatalf("SetSubflowBackup: %v", err)
	}
	prio := subflowEvent(srec, stok, pm.EventSubflowPriority, l2.Server, l2.Client)
	if !prio.Backup {
		t.Errorf("server: %v, want backup", prio)
	}

	// Announce and remove an address: the server hears both.
	if err := cc.Announce(ctok, 5, netip.AddrPortFrom(l2.Client6, 0)); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	a := srec.wait(t, 10*time.Second, is(pm.EventAnnounced, stok))
	if a.RemoteID != 5 || a.Remote.Addr() != l2.Client6 {
		t.Errorf("server: %v, want announced id 5 %v", a, l2.Client6)
	}
	if err := cc.Remove(ctok, 5); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if r := srec.wait(t, 10*time.Second, is(pm.EventRemoved, stok)); r.RemoteID != 5 {
		t.Errorf("server: %v, want removed id 5", r)
	}

	// The subflow goes; the first one stays.
	if err := cc.DestroySubflow(ctok, sf.Local, sf.Remote); err != nil {
		t.Fatalf("DestroySubflow: %v", err)
	}
	mptcptest.WaitSubflows(t, client, 1)
	mptcptest.WaitSubflows(t, server, 1)
	if err := cc.DestroySubflow(ctok, sf.Local, sf.Remote); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("destroying it again: %v, want ESRCH", err)
	}

	// Kernel refusals keep their errno and words.
	var oe *netlink.OpError
	err := cc.CreateSubflow(ctok^0xffffffff, netip.AddrPortFrom(l2.Client, 0), netip.AddrPortFrom(l1.Server, port), nil)
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &oe) || oe.Message != "invalid token" {
		t.Errorf("CreateSubflow with an unknown token: %v", err)
	}
	// 6.18 says "userspace PM not selected"; 6.12 puts "invalid request; " before it.
	err = sc.CreateSubflow(stok, netip.AddrPortFrom(l1.Server, 0), netip.AddrPortFrom(l2.Client, 1), nil)
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &oe) || !strings.HasSuffix(oe.Message, "userspace PM not selected") {
		t.Errorf("CreateSubflow on an in-kernel PM connection: %v", err)
	}

	// Every event of the connection on each side, against ip mptcp
	// monitor: on the client, the subflows pm made and closed; on the
	// server, also the priority, the announced and the removed address.
	client.Close()
	server.Close()
	for _, s := range []struct {
		name string
		rec  *recorder
		mon  *monitor
		tok  uint32
	}{{"client", crec, cmon, ctok}, {"server", srec, smon, stok}} {
		s.rec.wait(t, 10*time.Second, is(pm.EventClosed, s.tok))
		if _, ok := s.mon.wait(5*time.Second, func(l ipEvent) bool { return l.name == "CLOSED" && l.fields["token"] == hex8(s.tok) }); !ok {
			t.Fatalf("%s: ip saw no CLOSED", s.name)
		}
		agree(t, s.name, s.rec.of(s.tok), s.mon.all(func(l ipEvent) bool { return l.fields["token"] == hex8(s.tok) }))
	}
}

// requireUserspacePM skips t on a kernel without the userspace path
// manager, whose sysctl net.mptcp.pm_type selects it.
func requireUserspacePM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/sys/net/mptcp/pm_type"); errors.Is(err, os.ErrNotExist) {
		testenv.SkipKernelLacks(t, "the userspace path manager (sysctl net.mptcp.pm_type)", "5.19")
	}
}

// What CreateSubflow sends besides what TestUserspacePathManager checks
// (IPv4 addresses, the remote port, a local id): IPv6 addresses, the
// backup bit and the interface. iproute2 reads them back from the
// kernel's events on both ends: the client's subflow is bound to the
// interface (the event has no ifindex for an unbound one), and its
// MP_JOIN carried the backup bit and the local id to the server (whose
// event says backup=0 without Backup). Package mptcp reads the addresses
// back from the subflows.
func TestCreateSubflowOptions(t *testing.T) {
	requireUserspacePM(t)
	b := testbed.New(t, 2)
	b.Client.Sysctl("net.mptcp.pm_type", "1")
	l1, l2 := b.Links[0], b.Links[1]
	cc := dialPM(t, b.Client)
	crec := record(t, cc)
	cmon, smon := startMonitor(t, b.Client), startMonitor(t, b.Server)

	client, server := mptcptest.ConnectTo(t, b, nil, mptcptest.Listen(t, b, "tcp", netip.IPv6Unspecified()), l1.Server6)
	ctok, stok := token(t, "client", client), token(t, "server", server)
	port := uint16(server.LocalAddr().(*net.TCPAddr).Port)
	crec.wait(t, 10*time.Second, is(pm.EventEstablished, ctok))
	ifindex := ifindexes(t, b.Client)[l2.ClientDev]

	local, remote := netip.AddrPortFrom(l2.Client6, 0), netip.AddrPortFrom(l1.Server6, port)
	if err := cc.CreateSubflow(ctok, local, remote, &pm.SubflowOptions{LocalID: 3, Backup: true, Ifindex: ifindex}); err != nil {
		t.Fatalf("CreateSubflow: %v", err)
	}
	subs := mptcptest.WaitSubflows(t, client, 2)
	mptcptest.WaitSubflows(t, server, 2)
	var sf mptcp.Subflow
	for _, s := range subs {
		if s.Local.Addr() == l2.Client6 {
			sf = s
		}
	}
	if sf.Remote != remote || sf.Local.Port() == 0 {
		t.Fatalf("client: no subflow from %v to %v in\n%v", l2.Client6, remote, mptcp.SubflowTable(subs))
	}

	for _, s := range []struct {
		name string
		mon  *monitor
		tok  uint32
		want map[string]string
	}{
		{"client", cmon, ctok, map[string]string{
			"saddr6": l2.Client6.String(), "daddr6": l1.Server6.String(),
			"sport": strconv.Itoa(int(sf.Local.Port())), "dport": strconv.Itoa(int(port)),
			"locid": "3", "ifindex": strconv.Itoa(ifindex),
		}},
		{"server", smon, stok, map[string]string{
			"saddr6": l1.Server6.String(), "daddr6": l2.Client6.String(),
			"sport": strconv.Itoa(int(port)), "dport": strconv.Itoa(int(sf.Local.Port())),
			"remid": "3", "backup": "1",
		}},
	} {
		if !testenv.KernelAtLeast(6, 9) {
			// Before 6.9 the kernel reads only the local address and id
			// of a subflow-create request: the subflow is not bound to
			// the interface, and joins as a regular subflow.
			if s.name == "client" {
				s.want["ifindex"] = ""
			} else {
				s.want["backup"] = "0"
			}
			t.Logf("kernel %s ignores the interface and backup bit of subflow-create (6.9 reads them): want %v", testenv.KernelRelease(), s.want)
		}
		l, ok := s.mon.wait(10*time.Second, func(l ipEvent) bool { return l.name == "SF_ESTABLISHED" && l.fields["token"] == hex8(s.tok) })
		if !ok {
			t.Fatalf("%s: ip mptcp monitor saw no SF_ESTABLISHED", s.name)
		}
		for k, v := range s.want {
			if l.fields[k] != v {
				t.Errorf("%s: ip mptcp monitor: %s=%q, want %q: %v", s.name, k, l.fields[k], v, l)
			}
		}
	}
}
