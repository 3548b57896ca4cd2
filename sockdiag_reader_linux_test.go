package mptcp

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/sockdiag"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// The 5.9 - 5.15 path reads MPTCP state from socket diagnostics. It runs
// only where SOL_MPTCP is missing (the kernel matrix's 5.10 with MPTCP),
// but socket diagnostics answer on every kernel since 5.9: here it is
// driven directly on the running kernel, and must agree with the socket
// options.

// liveRequest runs f on a request for c's socket on the running kernel.
func liveRequest(t *testing.T, c *MPTCPConn, f func(r *request)) {
	t.Helper()
	onFD(t, c, func(fd uintptr) {
		r := &request{k: liveKernel{}, fd: fd, token: &c.token}
		f(r)
	})
}

func TestDiagPathAgreesWithSocketOptions(t *testing.T) {
	requireDiag(t)
	for _, network := range networks(t) {
		t.Run(network, func(t *testing.T) {
			client, server := mptcpPair(t, network)
			exchange(t, client, server, 1000)
			for _, end := range []struct {
				name string
				c    *MPTCPConn
			}{{"client", client}, {"server", server}} {
				want, err := end.c.MPTCPInfo()
				if err != nil {
					t.Fatal(err)
				}
				wantSubs, err := end.c.Subflows()
				if err != nil {
					t.Fatal(err)
				}
				end.c.token.Store(0)
				liveRequest(t, end.c, func(r *request) {
					var in Info
					if err := diagInfo(r, &in); err != nil {
						t.Fatalf("%s: diagInfo: %v", end.name, err)
					}
					if in.Token != want.Token || in.Fields() != want.Fields() || in.Flags != want.Flags {
						t.Errorf("%s: diag token %08x fields %v flags %v; socket option %08x %v %v",
							end.name, in.Token, in.Fields(), in.Flags, want.Token, want.Fields(), want.Flags)
					}
					if got := end.c.token.Load(); got != want.Token {
						t.Errorf("%s: cached token %08x, want %08x", end.name, got, want.Token)
					}
					// Found again by its token.
					if err := diagInfo(r, &in); err != nil || in.Token != want.Token {
						t.Errorf("%s: diagInfo by token: %08x, %v", end.name, in.Token, err)
					}
					if fell, err := diagFellBack(r); fell || err != nil {
						t.Errorf("%s: diagFellBack = %v, %v", end.name, fell, err)
					}
					subs, err := sockDiagSubflows(r, nil, nil)
					if err != nil {
						t.Fatalf("%s: diagSubflows: %v", end.name, err)
					}
					if len(subs) != len(wantSubs) {
						t.Fatalf("%s: %d subflows from diag, %d from the socket option", end.name, len(subs), len(wantSubs))
					}
					for i, sf := range subs {
						w := wantSubs[i]
						if sf.ID != 0 || sf.Local != w.Local || sf.Remote != w.Remote || sf.TCP.State != w.TCP.State || sf.TCP.Fields() != w.TCP.Fields() {
							t.Errorf("%s: diag subflow %d %v->%v %v, socket option %v->%v %v", end.name, sf.ID, sf.Local, sf.Remote, sf.TCP.State, w.Local, w.Remote, w.TCP.State)
						}
					}
				})
			}
		})
	}
}

// A client whose server spoke only TCP is listed with the fallback flag.
func TestDiagPathSeesFallback(t *testing.T) {
	requireDiag(t)
	c, err := (&Dialer{Timeout: 5 * time.Second}).Dial("tcp4", plainServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mc := c.(*MPTCPConn)
	liveRequest(t, mc, func(r *request) {
		fell, err := diagFellBack(r)
		if err != nil || !fell {
			t.Errorf("diagFellBack = %v, %v; want true", fell, err)
		}
		if _, err := sockDiagSubflows(r, nil, nil); err != ErrNotMPTCP {
			t.Errorf("diagSubflows: %v, want ErrNotMPTCP", err)
		}
	})
}

// Before 6.x the kernel gives the ULP information that names subflows
// only to CAP_NET_ADMIN (newer ones show it to every caller): where it
// is withheld, the error says so, matched by os.ErrPermission; where it
// is not, the subflows are those a privileged caller sees. The test runs
// itself again as nobody, and asks the kernel directly which case holds.
func TestDiagSubflowsUnprivileged(t *testing.T) {
	requireDiag(t)
	if !runChild(t, "unprivileged", true) {
		return
	}
	client, _ := mptcpPair(t, "tcp4")
	local := addrPort(t, client.LocalAddr())
	withheld := ulpWithheld(t, client)
	liveRequest(t, client, func(r *request) {
		var in Info
		if err := diagInfo(r, &in); err != nil {
			t.Fatalf("diagInfo unprivileged: %v", err)
		}
		subs, err := sockDiagSubflows(r, nil, nil)
		t.Logf("ULP information withheld: %v; diagSubflows: %v, %v", withheld, subs, err)
		switch {
		case withheld && (!errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "CAP_NET_ADMIN")):
			t.Fatalf("diagSubflows unprivileged: %v, want os.ErrPermission naming CAP_NET_ADMIN", err)
		case !withheld && (err != nil || len(subs) != 1 || subs[0].Local != local):
			t.Fatalf("diagSubflows unprivileged: %v, %v; want the one subflow from %v", subs, err, local)
		}
	})
}

// ulpWithheld reports whether the kernel withholds from this process the
// ULP information of c's first subflow, a TCP socket with c's addresses.
func ulpWithheld(t *testing.T, c *MPTCPConn) bool {
	t.Helper()
	local, remote := addrPort(t, c.LocalAddr()), addrPort(t, c.RemoteAddr())
	dc, err := sockdiag.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	seen, withheld := false, false
	req := sockdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Ext: sockdiag.ExtInfo, States: sockdiag.AllStates, Dump: true}
	if err := dc.Query(&req, func(m *sockdiag.Msg) error {
		if l, r := m.AddrPorts(); l == local && r == remote {
			seen, withheld = true, !m.HasULP()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Fatalf("the first subflow %v -> %v is not in the TCP dump", local, remote)
	}
	return withheld
}

// requireDiag skips t on a kernel without MPTCP socket diagnostics: one
// before 5.9, or one whose mptcp_diag is a module not loaded (Debian's
// 6.1 and 6.12 in the kernel matrix, which loads no modules).
func requireDiag(t *testing.T) {
	t.Helper()
	requireMPTCP(t)
	dc, err := sockdiag.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	req := sockdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_MPTCP, Ext: sockdiag.ExtInfo, States: sockdiag.AllStates, Dump: true}
	req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
	if err := dc.Query(&req, func(*sockdiag.Msg) error { return nil }); err != nil {
		testenv.SkipOrFail(t, "this kernel has no MPTCP socket diagnostics (mptcp_diag, 5.9+; a module not loaded?): %v", err)
	}
}

// The TCP dump lists subflows in its hash table's order, which on 5.10
// put a server's joined subflow before its first: the first, the one
// with the connection's addresses, goes to the front, the others keep
// their order, and a list without it is left as it is.
func TestFirstSubflowFirst(t *testing.T) {
	ap := netip.MustParseAddrPort
	local, remote := ap("10.0.1.1:80"), ap("10.0.1.2:4000")
	first := Subflow{Local: local, Remote: remote}
	join1 := Subflow{Local: ap("10.0.2.1:80"), Remote: ap("10.0.2.2:4001")}
	join2 := Subflow{Local: ap("10.0.1.1:80"), Remote: ap("10.0.2.2:4002")}
	for _, tc := range []struct{ in, want []Subflow }{
		{[]Subflow{join1, first}, []Subflow{first, join1}},
		{[]Subflow{join1, join2, first}, []Subflow{first, join1, join2}},
		{[]Subflow{first, join2, join1}, []Subflow{first, join2, join1}},
		{[]Subflow{join2, join1}, []Subflow{join2, join1}},
		{nil, nil},
	} {
		got := slices.Clone(tc.in)
		firstSubflowFirst(got, local, remote)
		if !slices.Equal(got, tc.want) {
			t.Errorf("firstSubflowFirst(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
