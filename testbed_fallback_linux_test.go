package mptcp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// Backup paths and fallbacks over the test bed.

// Scenario 4: a backup subflow carries no data while the primary works,
// and the transfer after the primary dies.
func TestTestbedBackupPath(t *testing.T) {
	b := testbed.New(t, 2)
	// Before 5.15 the packet scheduler sends on backup subflows while the
	// primary works, and never moves what the dead primary held to the
	// backup (measured on 5.10: the transfer stalls). 5.15 brought the
	// active-backup switch-over with stale subflows, and its sysctl.
	if _, err := os.Stat("/proc/sys/net/mptcp/stale_loss_cnt"); err != nil {
		testenv.SkipKernelLacks(t, "active-backup switch-over (net.mptcp.stale_loss_cnt)", "5.15")
	}
	primary, backup := b.Links[0], b.Links[1]
	b.Endpoint(b.Client, backup.Client, "subflow", "backup")
	client, server := mptcptest.ConnectTo(t, b, nil, b.Server.Listen(mptcpListen), primary.Server)
	mptcptest.WaitSubflows(t, client, 2)

	// What each link carried is read on the receiving side: its counters
	// include every byte the server has read, acknowledged or not.
	carried := func() (primaryBytes, backupBytes uint64) {
		t.Helper()
		subs, err := server.Subflows()
		if err != nil {
			t.Fatal(err)
		}
		pr, okp := subflowFrom(subs, primary.Client)
		bk, okb := subflowFrom(subs, backup.Client)
		if !okp || !okb {
			t.Fatalf("server does not see a subflow from each client link:\n%v", mptcp.SubflowTable(subs))
		}
		return pr.TCP.BytesReceived, bk.TCP.BytesReceived
	}

	const size = 4 << 20
	sendVerified(t, client, server, size, 30*time.Second, nil)
	pr, bk := carried()
	t.Logf("primary up: primary carried %d bytes, backup %d", pr, bk)
	if bk > size/100 {
		t.Errorf("backup subflow carried %d of %d bytes while the primary worked", bk, size)
	}

	// Counted again once the link is down: segments the primary had in
	// flight when the first transfer ended (copies of data that a loaded
	// machine reinjected on the backup) may still arrive until then.
	b.SetLink(0, false)
	pr, bk = carried()
	sendVerified(t, client, server, size, 60*time.Second, nil)
	pr2, bk2 := carried()
	t.Logf("primary down: primary carried %d more bytes, backup %d more", pr2-pr, bk2-bk)
	if pr2 != pr {
		t.Errorf("the dead primary carried %d bytes", pr2-pr)
	}
	if bk2-bk < size {
		t.Errorf("backup subflow carried %d bytes after the primary died, want >= %d", bk2-bk, size)
	}
}

// subflowFrom returns the subflow whose remote address is addr.
func subflowFrom(subs []mptcp.Subflow, addr netip.Addr) (mptcp.Subflow, bool) {
	for _, sf := range subs {
		if sf.Remote.Addr() == addr {
			return sf, true
		}
	}
	return mptcp.Subflow{}, false
}

// fallbackCase sets up one way of losing MPTCP; dial is the Dialer the
// client uses (strict mode is added to it).
type fallbackCase struct {
	name   string
	setup  func(b *testbed.Bed)
	listen func() (net.Listener, error)
	dialer func() *mptcp.Dialer
	// listenerMPTCP is what Listener.MultipathTCP must say, when the
	// server uses the package's listener.
	listenerMPTCP bool
	// strictConnects tells whether a strict dial reaches the server
	// before it is refused: not when no MPTCP socket can be made.
	strictConnects bool
}

func fallbackCases() []fallbackCase {
	mptcpDialer := func() *mptcp.Dialer { return &mptcp.Dialer{} }
	return []fallbackCase{
		{"MPTCP client, TCP-only server", nil, plainListen, mptcpDialer, false, true},
		{"TCP client, MPTCP listener", nil, mptcpListen, func() *mptcp.Dialer {
			var d mptcp.Dialer
			d.SetMultipathTCP(false)
			return &d
		}, true, false},
		{"MPTCP disabled on the client", func(b *testbed.Bed) { b.Client.Sysctl("net.mptcp.enabled", "0") }, mptcpListen, mptcpDialer, true, false},
		{"MPTCP disabled on the server", func(b *testbed.Bed) { b.Server.Sysctl("net.mptcp.enabled", "0") }, mptcpListen, mptcpDialer, false, true},
		{"middlebox strips the MPTCP option", func(b *testbed.Bed) { b.StripMPTCPOption(b.Client) }, mptcpListen, mptcpDialer, true, true},
	}
}

// Scenario 5: every way of falling back keeps the data intact, both ends
// report TCP, and strict mode refuses the connection and leaks nothing.
func TestTestbedFallbackMatrix(t *testing.T) {
	for _, fc := range fallbackCases() {
		t.Run(fc.name, func(t *testing.T) {
			b := testbed.New(t, 1)
			if fc.setup != nil {
				fc.setup(b)
			}
			l := b.Server.Listen(fc.listen)
			if ml, ok := l.(*mptcp.Listener); ok {
				if got, err := ml.MultipathTCP(); err != nil || got != fc.listenerMPTCP {
					t.Errorf("Listener.MultipathTCP = %v, %v; want %v", got, err, fc.listenerMPTCP)
				}
			}
			client, server := mptcptest.ConnectTo(t, b, fc.dialer(), l, b.Links[0].Server)
			sendVerified(t, client, server, 1<<20, 20*time.Second, nil)
			sendVerified(t, server, client, 1<<20, 20*time.Second, nil)
			for name, c := range map[string]*mptcp.MPTCPConn{"client": client, "server": server} {
				isMPTCP(t, name, c, false)
				if _, err := c.MPTCPInfo(); !errors.Is(err, mptcp.ErrNotMPTCP) {
					t.Errorf("%s: MPTCPInfo: %v, want ErrNotMPTCP", name, err)
				}
				if _, err := c.Subflows(); !errors.Is(err, mptcp.ErrNotMPTCP) {
					t.Errorf("%s: Subflows: %v, want ErrNotMPTCP", name, err)
				}
			}
			client.Close()
			server.Close()

			// Strict mode: the same dial fails, and leaves nothing open.
			var accepted atomic.Int64
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					accepted.Add(1)
					c.Close()
				}
			}()
			before := testbed.OpenFDs(t)
			d := fc.dialer()
			d.RequireMPTCP = true
			port := l.Addr().(*net.TCPAddr).Port
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := b.Client.Dialer(d.DialContext)(ctx, "tcp", netip.AddrPortFrom(b.Links[0].Server, uint16(port)).String())
			if err == nil {
				c.Close()
				t.Fatal("strict dial succeeded")
			}
			if !errors.Is(err, mptcp.ErrNotMPTCP) {
				t.Errorf("strict dial: %v, want ErrNotMPTCP", err)
			}
			// The server accepts, if it does, after the client gave up:
			// wait for that before counting descriptors.
			wait := 200 * time.Millisecond
			if fc.strictConnects {
				wait = 5 * time.Second
			}
			for deadline := time.Now().Add(wait); accepted.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			if got := accepted.Load() > 0; got != fc.strictConnects {
				t.Errorf("strict dial reached the server: %v, want %v", got, fc.strictConnects)
			}
			testbed.WaitFDs(t, before)
		})
	}
}
