package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
	"github.com/multipath-go/mptcp/pm"
	"golang.org/x/sys/unix"
)

// The causes of a connection that is MPTCP but has fewer subflows than it
// could, built in the test bed, each checked from the client with why and,
// where the cause shows there, on the server. mptcpcheck has no command
// for the accepting side, so the server is checked with what an operator
// runs there: doctor, the namespace's counters, and why's own evidence
// and rules run in the server namespace around the accepted connection
// (serverWhy).

// whyWithoutNetAdmin runs why -json as whyIn does, on a thread of ns
// that dropped CAP_NET_ADMIN from its effective capabilities, as an
// operator who is not root runs it: the path manager's endpoints and
// limits are still read, its events are not (Linux 6.7 and later need
// the capability to subscribe). Capabilities are a thread's own, and the
// thread ends with the call.
func whyWithoutNetAdmin(t *testing.T, ns *testbed.NS, args ...string) whyReport {
	t.Helper()
	var code int
	var out, errs bytes.Buffer
	if err := ns.Do(func() error {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var caps [2]unix.CapUserData
		if err := unix.Capget(&hdr, &caps[0]); err != nil {
			return err
		}
		caps[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&hdr, &caps[0]); err != nil {
			return err
		}
		code = run(context.Background(), append([]string{"why", "-json"}, args...), &out, &errs)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return decodeWhy(t, code, out.String(), errs.String())
}

// eventsMissing reports whether ns's kernel has no path manager events
// to subscribe to (before 5.12), the evidence most join-side causes rest
// on: why must then name them as missing.
func eventsMissing(t *testing.T, ns *testbed.NS) bool {
	t.Helper()
	var err error
	ns.Do(func() error {
		c, derr := pm.Dial(nil)
		if err = derr; err != nil {
			return nil
		}
		defer c.Close()
		sub, serr := c.Subscribe()
		if err = serr; err == nil {
			sub.Close()
		}
		return nil
	})
	if err != nil {
		t.Logf("no path manager events in %s: %v", ns.Name, err)
	}
	return err != nil
}

// wantMissingEvents checks why's verdict without path manager events:
// code, as an inference that names the events missing and, but for a
// backup path, which causes they would have shown.
func wantMissingEvents(t *testing.T, rep whyReport, code string) {
	t.Helper()
	wantCodes(t, rep, code)
	e := rep.Explanations[0]
	ev := strings.Join(e.Evidence, "\n")
	if !e.Inference || !strings.Contains(ev, "path manager events unavailable") ||
		(code != explain.BackupPath && !strings.Contains(ev, "missing evidence")) {
		t.Errorf("without events, want an inference that names them and what they would show: %+v", e)
	}
}

// doctorCodes runs doctor -json in ns and returns its codes.
func doctorCodes(t *testing.T, ns *testbed.NS) []string {
	t.Helper()
	_, out := doctorIn(t, ns, "-json")
	var doc doctorReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor -json: %v\n%s", err, out)
	}
	var codes []string
	for _, e := range doc.Explanations {
		codes = append(codes, e.Code)
	}
	return codes
}

// serverWhy listens with MPTCP in the bed's server namespace, greets the
// first connection it accepts with banner, and returns its address and a
// function that explains that connection as why explains one from the
// client: the counters, path manager events and host evidence of the
// server namespace, gathered from before the accept. The function polls
// (at most for within) until the explanation has want's codes, as events
// reach the server a moment after the client saw the cause.
func serverWhy(t *testing.T, b *testbed.Bed, banner string) (string, func(within time.Duration, want ...string) []explain.Explanation) {
	t.Helper()
	var g *gatherer
	b.Server.Do(func() error { g = startGather(); return nil })
	t.Cleanup(g.close)
	ln := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", ":0") })
	accepted := make(chan *mptcp.MPTCPConn, 1)
	go func() {
		c, err := ln.(*mptcp.Listener).AcceptMPTCP()
		if err != nil {
			close(accepted)
			return
		}
		t.Cleanup(func() { c.Close() })
		accepted <- c
		io.WriteString(c, banner)
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		io.Copy(io.Discard, c)
	}()
	addr := netip.AddrPortFrom(b.Links[0].Server, uint16(ln.Addr().(*net.TCPAddr).Port)).String()
	var c *mptcp.MPTCPConn // the accepted connection, once received
	return addr, func(within time.Duration, want ...string) []explain.Explanation {
		t.Helper()
		if c == nil {
			select {
			case c = <-accepted:
			case <-time.After(10 * time.Second):
			}
		}
		if c == nil {
			t.Fatal("the server accepted no connection")
		}
		var exps []explain.Explanation
		for deadline := time.Now().Add(within); ; {
			b.Server.Do(func() error {
				exps = g.explainState(c.LocalAddr(), c.RemoteAddr(), sampleState(c))
				return nil
			})
			if slices.Equal(codesOf(exps), want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, e := range exps {
			t.Logf("server: %s (inference %v): %s\n  %s", e.Code, e.Inference, e.Message, strings.Join(e.Evidence, "\n  "))
		}
		return exps
	}
}

func codesOf(exps []explain.Explanation) []string {
	var codes []string
	for _, e := range exps {
		codes = append(codes, e.Code)
	}
	return codes
}

// (a) The server refuses joins to its first address and announces none:
// the client's endpoint has nothing to join. The established event tells
// the client (its deny_join_id0 flag), so why says so at once rather
// than wait for a join that will not come; doctor on the server says the
// same of the host. Over IPv6 too, and with a second server address
// announced to a client whose limit of accepted addresses is 0: recent
// kernels (6.18 here) join such an address from the subflow endpoints
// anyway, since the first address is refused; older ones drop it, and
// why gives both causes. Either way why must match the connection.
func TestWhyJoinInitialDenied(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ipv6, announce bool
		want           []string
	}{
		{"ipv4", false, false, []string{explain.JoinInitialDenied}},
		{"ipv6", true, false, []string{explain.JoinInitialDenied}},
		{"announced address dropped", false, true, []string{explain.SubflowLimit, explain.JoinInitialDenied}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testbed.New(t, 3)
			if slices.Contains(missingIn(t, b.Server), "net.mptcp.allow_join_initial_addr_port") {
				testenv.SkipKernelLacks(t, "net.mptcp.allow_join_initial_addr_port (servers always accept joins to their first address)", "5.14")
			}
			b.Client.IP("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
			ep, server := b.Links[1].Client, b.Links[0].Server
			if tc.ipv6 {
				ep, server = b.Links[1].Client6, b.Links[0].Server6
			}
			b.Endpoint(b.Client, ep, "subflow")
			if tc.announce {
				b.Endpoint(b.Server, b.Links[2].Server, "signal")
			}
			b.Server.Sysctl("net.mptcp.allow_join_initial_addr_port", "0")
			before := countersOf(t, b.Server)
			ap := netip.MustParseAddrPort(bannerServer(t, b, true, "hello\n"))
			start := time.Now()
			rep := whyIn(t, b.Client, "-wait", "10s", netip.AddrPortFrom(server, ap.Port()).String())
			took := time.Since(start)
			if tc.announce && len(rep.Connection.Subflows) == 2 {
				t.Logf("this kernel joins the announced address despite add_addr_accepted 0, the first being refused")
				wantCodes(t, rep)
				return
			}
			wantCodes(t, rep, tc.want...)
			e := rep.Explanations[len(tc.want)-1]
			if e.Inference || !strings.Contains(e.Message, "net.mptcp.allow_join_initial_addr_port=1") ||
				!strings.Contains(strings.Join(e.Evidence, "\n"), "deny_join_id0") {
				t.Errorf("want a direct observation with the flag and the sysctl to change: %+v", e)
			}
			if took > 5*time.Second {
				t.Errorf("why took %v with -wait 10s: it waited for a join the server refuses", took)
			}
			// The server never sees a join: no counter moves there, and
			// its own setting is what tells the cause, as doctor does
			// (unless it announces another address).
			if n, _ := countersOf(t, b.Server).Sub(before).Get("MPJoinSynRx"); n != 0 {
				t.Errorf("server: MPJoinSynRx +%d; the client sent a join the server had refused in advance", n)
			}
			if codes := doctorCodes(t, b.Server); slices.Contains(codes, explain.JoinInitialDenied) == tc.announce {
				t.Errorf("doctor on the server: %v; want %s among them unless the server announces an address", codes, explain.JoinInitialDenied)
			}
			if codes := doctorCodes(t, b.Client); slices.Contains(codes, explain.JoinInitialDenied) {
				t.Errorf("doctor on the client: %v; the client's host refuses no join", codes)
			}
			if tc.name == "ipv4" {
				// Without the events the flag cannot be seen, and why
				// says so.
				wantMissingEvents(t, whyWithoutNetAdmin(t, b.Client, "-wait", "2s", netip.AddrPortFrom(server, ap.Port()).String()), explain.Unknown)
			}
		})
	}
}

// (b) The server announces its second address; the client, whose limit
// of accepted addresses is 0 (the kernel's default), drops it. The
// kernel only echoes such an announcement (EchoAddTx): AddAddrDrop counts
// only one that came while the path manager was busy. why used to stop
// waiting before the announcement came and said none was made.
func TestWhyAnnouncedAddressDropped(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Server, b.Links[1].Server, "signal")
	b.Client.IP("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
	before := countersOf(t, b.Server)
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, "-wait", "10s", addr)
	if eventsMissing(t, b.Client) {
		wantMissingEvents(t, rep, explain.NoEndpoint)
		return
	}
	wantCodes(t, rep, explain.SubflowLimit)
	e := rep.Explanations[0]
	if !strings.Contains(e.Message, "ip mptcp limits set add_addr_accepted") ||
		!strings.Contains(strings.Join(e.Evidence, "\n"), "announced for this connection's token: "+b.Links[1].Server.String()) {
		t.Errorf("want the announced address and the limit to raise: %+v", e)
	}
	// The server sees its announcement echoed, and no join: nothing there
	// tells a dropped announcement from a client with one address.
	// Without the events, the dropped announcement leaves no trace.
	wantMissingEvents(t, whyWithoutNetAdmin(t, b.Client, "-wait", "10s", addr), explain.NoEndpoint)
	wantMoved(t, b.Server, before, "AddAddrTx", "EchoAdd")
	if n, _ := countersOf(t, b.Server).Sub(before).Get("MPJoinSynRx"); n != 0 {
		t.Errorf("server: MPJoinSynRx +%d, want no join", n)
	}
}

// (c) The server's subflow limit is 0: it answers the client's join and
// refuses it at the join's third ACK with a reset ("administratively
// prohibited", counted in its MPJoinRejected). The client kernel resets
// the not yet fully established join itself before it reads that
// reason, so the client sees a join that came up and closed, and why
// infers the refusal. On the server, the counter and doctor say it.
func TestWhyServerSubflowLimit(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "ipv4", true: "ipv6"}[ipv6], func(t *testing.T) {
			b := testbed.New(t, 2)
			ep, server := b.Links[1].Client, b.Links[0].Server
			if ipv6 {
				ep, server = b.Links[1].Client6, b.Links[0].Server6
			}
			b.Endpoint(b.Client, ep, "subflow")
			b.Server.IP("mptcp", "limits", "set", "subflows", "0", "add_addr_accepted", "0")
			before := countersOf(t, b.Server)
			ap := netip.MustParseAddrPort(bannerServer(t, b, true, "hello\n"))
			rep := whyIn(t, b.Client, "-wait", "10s", netip.AddrPortFrom(server, ap.Port()).String())
			if eventsMissing(t, b.Client) {
				wantMissingEvents(t, rep, explain.Unknown)
				return
			}
			wantCodes(t, rep, explain.JoinRejected)
			e := rep.Explanations[0]
			if !e.Inference || !strings.Contains(e.Message, ep.String()) || !strings.Contains(e.Message, "ip mptcp limits set subflows") {
				t.Errorf("want an inference naming the join from %v and the server's limit: %+v", ep, e)
			}
			// Linux 6.16 and later; before, the server's limit alone tells
			// the cause there.
			wantMoved(t, b.Server, before, "MPJoinRejected")
			if codes := doctorCodes(t, b.Server); !slices.Contains(codes, explain.SubflowLimit) {
				t.Errorf("doctor on the server: %v, want %s among them", codes, explain.SubflowLimit)
			}
			// Without the events (no CAP_NET_ADMIN here; no events before
			// 5.12) the refusal cannot be seen, and why says so.
			wantMissingEvents(t, whyWithoutNetAdmin(t, b.Client, "-wait", "2s", netip.AddrPortFrom(server, ap.Port()).String()), explain.Unknown)
		})
	}
}

// (d) A device on the second path rewrites a payload byte of what the
// server sends, with the data checksum on: the client's kernel sees the
// checksum fail on the join and resets it with the reason "middlebox
// interference". The client's why names the checksum failure from its
// counters and the closed subflow; the server sees the join reset by the
// peer with that reason in its sub_closed event. The first path is
// slowed so that the server's data takes the second as soon as it is up.
func TestWhyJoinResetByPeer(t *testing.T) {
	testbed.Require(t, "nft")
	b := testbed.New(t, 2)
	if slices.Contains(missingIn(t, b.Client), "net.mptcp.checksum_enabled") {
		testenv.SkipKernelLacks(t, "the MPTCP data checksum (net.mptcp.checksum_enabled)", "5.14")
	}
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	for _, ns := range []*testbed.NS{b.Client, b.Server} {
		ns.Sysctl("net.mptcp.checksum_enabled", "1")
	}
	b.Shape(0, "tbf rate 20mbit burst 32kbit latency 50ms")
	// The first payload byte of each data segment leaving on the second
	// link becomes 'X'; nft fixes the TCP checksum, not MPTCP's.
	b.Server.Run("nft", "add table inet mangle")
	b.Server.Run("nft", "add chain inet mangle out { type filter hook output priority 0 ; }")
	b.Server.Run("nft", "add rule inet mangle out oifname "+b.Links[1].ServerDev+" meta l4proto tcp tcp flags & (syn|rst|fin) == 0 @ih,0,8 set 0x58")
	addr, explainServer := serverWhy(t, b, strings.Repeat("hello\n", 1<<20))
	rep := whyIn(t, b.Client, "-wait", "10s", addr)
	wantCodes(t, rep, explain.JoinFailed)
	e := rep.Explanations[0]
	if !strings.Contains(e.Message, "data checksum failure") || !strings.Contains(e.Message, b.Links[1].Client.String()) ||
		!strings.Contains(strings.Join(e.Evidence, "\n"), "DataCsumErr") {
		t.Errorf("client: want the checksum failure on the join from %v: %+v", b.Links[1].Client, e)
	}
	// The server's socket diagnostics may list the reset subflow as
	// closed before its sub_closed event arrives, which also gives
	// join-failed, without the reason: wait for the event's reason. When
	// the client's reset reaches the server's join before it was
	// established there (seen on a loaded host), the kernel sends no
	// event at all: then the server can only say that the join closed,
	// and must say that, not another cause.
	wantReset := func(exps []explain.Explanation) bool {
		if !slices.Equal(codesOf(exps), []string{explain.JoinFailed}) {
			return false
		}
		msg := exps[0].Message
		return strings.Contains(msg, "reset reason middlebox interference") &&
			strings.Contains(msg, "the join from "+b.Links[1].Client.String()+" to "+b.Links[0].Server.String())
	}
	var exps []explain.Explanation
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if exps = explainServer(0, explain.JoinFailed); wantReset(exps) || time.Now().After(deadline) {
			break
		}
	}
	switch {
	case wantReset(exps):
	case slices.Equal(codesOf(exps), []string{explain.JoinFailed}) &&
		strings.Contains(exps[0].Message, "the path manager did not say why"):
		t.Logf("server: the join was reset before the server's path manager reported it; no reason to check")
	default:
		t.Errorf("server: want [%s], the join from the client's second address reset with its reason; got %v", explain.JoinFailed, exps)
	}
}

// (e) The client's second endpoint has the backup flag: the join comes
// up and carries data only when the first path fails. why says so, as a
// setting rather than a failure; doctor says it of the host, and the
// server sees the backup flag in its event.
func TestWhyBackupPath(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow", "backup")
	addr, explainServer := serverWhy(t, b, "hello\n")
	rep := whyIn(t, b.Client, "-wait", "10s", addr)
	if eventsMissing(t, b.Client) {
		wantMissingEvents(t, rep, explain.BackupPath)
		return
	}
	wantCodes(t, rep, explain.BackupPath)
	if e := rep.Explanations[0]; e.Inference || !strings.Contains(e.Message, "not a failure") || !strings.Contains(e.Message, "nobackup") {
		t.Errorf("want a direct observation that says it is no failure and how to change it: %+v", e)
	}
	if len(rep.Connection.Subflows) != 2 {
		t.Errorf("%d subflows, want the first and the backup", len(rep.Connection.Subflows))
	}
	// Without the events, the endpoints' flags still say it (serverWhy
	// accepts one connection: another server for this one).
	wantMissingEvents(t, whyWithoutNetAdmin(t, b.Client, "-wait", "10s", bannerServer(t, b, true, "hello\n")), explain.BackupPath)
	if codes := doctorCodes(t, b.Client); !slices.Equal(codes, []string{explain.BackupPath}) {
		t.Errorf("doctor on the client: %v, want [%s]", codes, explain.BackupPath)
	}
	// A backup is a second subflow: doctor notes it, and calls the host
	// ready.
	if code, out := doctorIn(t, b.Client); code != exitOK || !strings.Contains(out, "more than one subflow: ready") || !strings.Contains(out, "backup paths: ") {
		t.Errorf("doctor on the client: status %d\n%s", code, out)
	}
	if codes := codesOf(explainServer(5*time.Second, explain.BackupPath)); !slices.Equal(codes, []string{explain.BackupPath}) {
		t.Errorf("server: codes %v, want [%s]", codes, explain.BackupPath)
	}
}
