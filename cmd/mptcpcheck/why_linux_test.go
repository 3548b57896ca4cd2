package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// bannerServer listens in the bed's server namespace, with MPTCP or plain
// TCP, and greets each connection with a line, as SSH or SMTP servers
// do (an empty banner: none): data from the server lets the client's MPTCP connection become
// fully established without the client writing. Connections stay open
// until the client closes them. It returns host:port on link 0.
func bannerServer(t *testing.T, b *testbed.Bed, useMPTCP bool, banner string) string {
	t.Helper()
	ln := b.Server.Listen(func() (net.Listener, error) {
		if useMPTCP {
			return mptcp.Listen("tcp", ":0")
		}
		var lc net.ListenConfig
		lc.SetMultipathTCP(false) // listeners use MPTCP by default since Go 1.24
		return lc.Listen(context.Background(), "tcp", ":0")
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, banner)
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return netip.AddrPortFrom(b.Links[0].Server, uint16(ln.Addr().(*net.TCPAddr).Port)).String()
}

// whyIn runs "mptcpcheck why -json ARGS..." inside ns, as the command
// does (its dial, counters, events and capture all in ns), and decodes
// its report.
func whyIn(t *testing.T, ns *testbed.NS, args ...string) whyReport {
	t.Helper()
	var code int
	var out, errs bytes.Buffer
	start := time.Now()
	if err := ns.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		code = run(ctx, append([]string{"why", "-json"}, args...), &out, &errs)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("mptcpcheck why %q: %v", args, time.Since(start).Round(time.Millisecond))
	return decodeWhy(t, code, out.String(), errs.String())
}

func decodeWhy(t *testing.T, code int, out, errs string) whyReport {
	t.Helper()
	if code != exitOK {
		t.Fatalf("why: status %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	var rep whyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("why: the report is not JSON: %v\n%s", err, out)
	}
	if rep.Explanations == nil || !strings.Contains(out, `"explanations": [`) {
		t.Fatalf("why: explanations missing or null:\n%s", out)
	}
	return rep
}

// wantCode fails unless the report's explanations are exactly the codes
// want, in order, each with evidence.
func wantCodes(t *testing.T, rep whyReport, want ...string) {
	t.Helper()
	var got []string
	for _, e := range rep.Explanations {
		got = append(got, e.Code)
		if len(e.Evidence) == 0 || e.Message == "" {
			t.Errorf("explanation %s has no message or no evidence: %+v", e.Code, e)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		js, _ := json.MarshalIndent(rep, "", "  ")
		t.Fatalf("codes %v, want %v\n%s", got, want, js)
	}
	for _, e := range rep.Explanations {
		t.Logf("%s (inference %v): %s\n  %s", e.Code, e.Inference, e.Message, strings.Join(e.Evidence, "\n  "))
	}
}

// MPTCP with both paths up: nothing to explain.
func TestWhyAllPathsNothingToExplain(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, "-wait", "10s", addr)
	wantCodes(t, rep)
	if !rep.Connection.MPTCP || len(rep.Connection.Subflows) != 2 {
		t.Errorf("connection: MPTCP %v, %d subflows; want MPTCP with 2", rep.Connection.MPTCP, len(rep.Connection.Subflows))
	}
}

// A server listening with plain TCP: the SYN left with MP_CAPABLE, the
// SYN/ACK came back without it and without NOP padding.
func TestWhyServerNoMPTCP(t *testing.T) {
	b := testbed.New(t, 1)
	addr := bannerServer(t, b, false, "hello\n")
	rep := whyIn(t, b.Client, addr)
	// From the client, a SYN stripped on its way in looks the same.
	wantCodes(t, rep, "server-no-mptcp", "option-stripped")
	if rep.Connection.MPTCP {
		t.Error("the connection reports MPTCP")
	}
}

// A middlebox strips the MPTCP option: on the client's own host (its SYN
// leaves without it), on the way back (the server's SYN/ACK loses it), or
// on the way in (the server's host strips it from the SYN it receives).
// The last leaves no trace the client can see: the SYN/ACK is that of a
// server without MPTCP, so both causes are given, as for such a server.
func TestWhyOptionStripped(t *testing.T) {
	for _, tc := range []struct {
		where, chain string
		want         []string
	}{
		{"client", "OUTPUT", []string{"option-stripped"}},
		{"server", "OUTPUT", []string{"option-stripped"}},
		{"server", "PREROUTING", []string{"server-no-mptcp", "option-stripped"}},
	} {
		t.Run(tc.where+"-"+tc.chain, func(t *testing.T) {
			b := testbed.New(t, 1)
			ns := map[string]*testbed.NS{"client": b.Client, "server": b.Server}[tc.where]
			if tc.chain == "OUTPUT" {
				b.StripMPTCPOption(ns)
			} else {
				testbed.Require(t, "iptables")
				ns.Run("iptables", "-t", "mangle", "-A", tc.chain, "-p", "tcp", "-j", "TCPOPTSTRIP", "--strip-options", "30")
			}
			addr := bannerServer(t, b, true, "hello\n")
			rep := whyIn(t, b.Client, addr)
			wantCodes(t, rep, tc.want...)
			for _, e := range rep.Explanations {
				if len(tc.want) > 1 && !e.Inference {
					t.Errorf("%s: one of two causes the evidence cannot tell apart, not marked an inference", e.Code)
				}
				if strings.Contains(e.Message, "without the NOP padding a stripping middlebox leaves") {
					t.Errorf("%s rules out the stripper that is there: %s", e.Code, e.Message)
				}
			}
		})
	}
}

// No endpoint on the client and none announced by the server: one
// subflow, and the command to add an endpoint.
func TestWhyNoEndpoint(t *testing.T) {
	b := testbed.New(t, 2)
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, "-wait", "2s", addr)
	wantCodes(t, rep, "no-endpoint")
	if !strings.Contains(rep.Explanations[0].Message, "ip mptcp endpoint add ADDR dev DEV subflow") {
		t.Errorf("no-endpoint does not say how to add one: %s", rep.Explanations[0].Message)
	}
}

// Over IPv6, an IPv4 endpoint gives no second path; the text report
// says so on a "why:" line with its evidence underneath.
func TestWhyIPv6NoEndpointText(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	ap := netip.MustParseAddrPort(bannerServer(t, b, true, "hello\n"))
	addr := netip.AddrPortFrom(b.Links[0].Server6, ap.Port()).String()
	var code int
	var out, errs bytes.Buffer
	if err := b.Client.Do(func() error {
		code = run(context.Background(), []string{"why", "-wait", "2s", addr}, &out, &errs)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if code != exitOK || !strings.Contains(text, "why: no-endpoint: one subflow") ||
		!strings.Contains(text, "\n  - path manager endpoints with the subflow flag: none for IPv6") {
		t.Errorf("why %s: status %d\nstdout:\n%s\nstderr:\n%s", addr, code, text, errs.String())
	}
}

// A subflow endpoint, but a subflow limit of 0.
func TestWhySubflowLimit(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	b.Client.IP("mptcp", "limits", "set", "subflows", "0", "add_addr_accepted", "0")
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, "-wait", "2s", addr)
	wantCodes(t, rep, "subflow-limit")
	if !strings.Contains(rep.Explanations[0].Message, "ip mptcp limits set subflows") {
		t.Errorf("subflow-limit does not say how to raise it: %s", rep.Explanations[0].Message)
	}
}

// The server drops SYNs on the second link: the join times out (one
// retransmission, tcp_syn_retries=1, about 3 s) and the path manager
// reports sub_closed with ETIMEDOUT.
func TestWhyJoinFailed(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	b.Server.Run("iptables", "-A", "INPUT", "-i", b.Links[1].ServerDev, "-p", "tcp", "--syn", "-j", "DROP")
	b.Client.Sysctl("net.ipv4.tcp_syn_retries", "1")
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, "-wait", "20s", addr)
	if eventsMissing(t, b.Client) {
		// The join's sub_closed event, with its error, is the evidence;
		// without it, why sees only that a join was made and is gone.
		wantMissingEvents(t, rep, explain.Unknown)
		if e := rep.Explanations[0]; !strings.Contains(e.Message, "closed or failed") ||
			!strings.Contains(strings.Join(e.Evidence, "\n"), "path manager endpoint: "+b.Links[1].Client.String()) {
			t.Errorf("unknown does not say a join closed, from which endpoint: %+v", e)
		}
		return
	}
	wantCodes(t, rep, "join-failed")
	msg := rep.Explanations[0].Message
	if !strings.Contains(msg, b.Links[1].Client.String()) || !strings.Contains(msg, "timed out") {
		t.Errorf("join-failed does not name the address and the error: %s", msg)
	}
}

// A server that sends nothing and a client that writes nothing: the
// connection never becomes fully established, so the endpoint is not
// used, and why says so.
func TestWhySilentServerNotEstablished(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	addr := bannerServer(t, b, true, "")
	rep := whyIn(t, b.Client, "-wait", "2s", addr)
	if eventsMissing(t, b.Client) {
		// The established event is the evidence: without it, why names
		// the cause it cannot see.
		wantMissingEvents(t, rep, explain.Unknown)
		if ev := strings.Join(rep.Explanations[0].Evidence, "\n"); !strings.Contains(ev, "(not-established)") {
			t.Errorf("unknown does not name not-established among the causes it cannot see:\n%s", ev)
		}
		return
	}
	wantCodes(t, rep, "not-established")
}

// The same dropped join with the default SYN retries and a short wait:
// the join is still in SYN_SENT at the end, and why says so.
func TestWhyJoinPending(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	b.Server.Run("iptables", "-A", "INPUT", "-i", b.Links[1].ServerDev, "-p", "tcp", "--syn", "-j", "DROP")
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, "-wait", "1s", addr)
	wantCodes(t, rep, "join-pending")
	if !rep.Explanations[0].Inference || !strings.Contains(rep.Explanations[0].Message, b.Links[1].Client.String()) {
		t.Errorf("join-pending: want an inference naming %v: %+v", b.Links[1].Client, rep.Explanations[0])
	}
}

// net.mptcp.enabled=0 on the client: the dial falls back to plain TCP.
func TestWhyMPTCPDisabled(t *testing.T) {
	b := testbed.New(t, 1)
	b.Client.Sysctl("net.mptcp.enabled", "0")
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, addr)
	wantCodes(t, rep, "mptcp-disabled")
	if !strings.Contains(rep.Explanations[0].Message, "net.mptcp.enabled=1") {
		t.Errorf("mptcp-disabled does not give the sysctl: %s", rep.Explanations[0].Message)
	}
}

// why URL and get URL: explanations from a fetch, over two paths (none)
// and over one path without endpoint (no-endpoint).
func TestWhyURLAndGet(t *testing.T) {
	b := testbed.New(t, 2)
	ln := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", ":0") })
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 100000))
	}))
	url := fmt.Sprintf("http://%v/", netip.AddrPortFrom(b.Links[0].Server, uint16(ln.Addr().(*net.TCPAddr).Port)))
	dial := b.Client.Dialer((&mptcp.Dialer{Timeout: 10 * time.Second}).DialContext)

	whyURL := func() whyReport {
		var code int
		var out, errs bytes.Buffer
		defer func(start time.Time) { t.Logf("why %s: %v", url, time.Since(start).Round(time.Millisecond)) }(time.Now())
		b.Client.Do(func() error {
			code = why(context.Background(), whyOptions{target: url, isURL: true, json: true, wait: 10 * time.Second, timeout: 30 * time.Second, dial: dial}, &out, &errs)
			return nil
		})
		return decodeWhy(t, code, out.String(), errs.String())
	}
	getURL := func() getReport {
		var code int
		var out, errs bytes.Buffer
		defer func(start time.Time) { t.Logf("get %s: %v", url, time.Since(start).Round(time.Millisecond)) }(time.Now())
		b.Client.Do(func() error {
			code = get(context.Background(), getOptions{url: url, json: true, timeout: 30 * time.Second, dial: dial}, &out, &errs)
			return nil
		})
		var rep getReport
		if err := json.Unmarshal(out.Bytes(), &rep); code != exitOK || err != nil || !strings.Contains(out.String(), `"explanations": [`) {
			t.Fatalf("get: status %d, %v\n%s%s", code, err, out.String(), errs.String())
		}
		return rep
	}

	wantCodes(t, whyURL(), "no-endpoint")
	if rep := getURL(); len(rep.Explanations) != 1 || rep.Explanations[0].Code != "no-endpoint" {
		t.Errorf("get without endpoint: explanations %+v, want no-endpoint", rep.Explanations)
	}

	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	rep := whyURL()
	wantCodes(t, rep)
	if len(rep.Connection.Subflows) != 2 {
		t.Errorf("why URL over two paths: %d subflows, want 2", len(rep.Connection.Subflows))
	}
}

// The built command, run as a process in the client namespace with "ip
// netns exec": the counters, path manager, sysctl and capture of a whole
// process in a namespace, not of one thread. The option is stripped on
// the way back, from the server's SYN/ACK.
func TestWhyBinaryInNamespace(t *testing.T) {
	b := testbed.New(t, 1)
	b.StripMPTCPOption(b.Server)
	addr := bannerServer(t, b, true, "hello\n")
	bin := buildMptcpcheck(t)
	start := time.Now()
	cmd := exec.Command("ip", "netns", "exec", b.Client.Name, bin, "why", "-json", addr)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	t.Logf("mptcpcheck why %s, as a process: %v", addr, time.Since(start).Round(time.Millisecond))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	rep := decodeWhy(t, code, out.String(), errs.String())
	wantCodes(t, rep, "option-stripped")
	if !rep.Explanations[0].Inference || !strings.Contains(rep.Explanations[0].Message, "SYN/ACK arrived with an option overwritten by NOPs") {
		t.Errorf("want the SYN/ACK's NOPs as an inference: %+v", rep.Explanations[0])
	}
}

// Servers that misbehave: one that floods the connection with data and
// one that accepts and never sends. why reads and drops the flood, and
// returns after its -wait either way, with the connection explained.
func TestWhyMisbehavingServersEndInTime(t *testing.T) {
	for _, flood := range []bool{true, false} {
		l, err := mptcp.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if !flood {
				io.Copy(io.Discard, c)
				return
			}
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
		start := time.Now()
		code, out, errs := runCmd(t, "why", "-json", "-wait", "1s", "-timeout", "5s", l.Addr().String())
		took := time.Since(start)
		if code != exitOK || !strings.Contains(out, `"explanations"`) {
			t.Errorf("flood %v: status %d, stdout %q, stderr %q; want status 0 and a report", flood, code, out, errs)
		}
		// -wait 1s, plus the reading of the evidence.
		if took > 5*time.Second {
			t.Errorf("flood %v: why took %v with -wait 1s", flood, took)
		}
	}
}

// routelessEndpoint gives the bed's client a subflow endpoint, 10.9.0.2,
// on a spare link, from which a rule forbids every route: its joins fail
// in connect, before their SYN.
func routelessEndpoint(b *testbed.Bed) {
	b.Client.IP("link", "add", "x1", "type", "veth", "peer", "name", "x2")
	b.Client.IP("addr", "add", "10.9.0.2/24", "dev", "x1")
	b.Client.IP("link", "set", "x1", "up")
	b.Client.IP("link", "set", "x2", "up")
	b.Client.IP("rule", "add", "from", "10.9.0.2", "unreachable")
	b.Client.IP("mptcp", "endpoint", "add", "10.9.0.2", "subflow")
}

// An endpoint whose address has no route to the server: the join fails
// in connect, before its SYN, which no path manager event reports, only
// the counter MPJoinSynTxConnectErr. why names it from the counter, and
// at once rather than after its -wait. On a kernel without the counter
// nothing shows the failure: why must name the counter as missing, not
// another cause (and may wait out its -wait: nothing tells it the join
// will not come).
func TestWhyJoinNotSent(t *testing.T) {
	b := testbed.New(t, 1)
	routelessEndpoint(b)
	addr := bannerServer(t, b, true, "hello\n")
	const counter = "MPJoinSynTxConnectErr"
	if slices.Contains(missingIn(t, b.Client), counter) {
		wantCause(t, b.Client, whyIn(t, b.Client, "-wait", "2s", addr), explain.JoinFailed, counter)
		return
	}
	start := time.Now()
	rep := whyIn(t, b.Client, "-wait", "10s", addr)
	took := time.Since(start)
	wantCause(t, b.Client, rep, explain.JoinFailed, counter)
	e := rep.Explanations[0]
	if !strings.Contains(e.Message, "the join from 10.9.0.2 could not be sent") || !strings.Contains(e.Message, "no route") ||
		!strings.Contains(strings.Join(e.Evidence, "\n"), "MPJoinSynTxConnectErr +1") || !e.Inference {
		t.Errorf("join-failed does not name the endpoint, the cause and the counter, as an inference: %+v", e)
	}
	// The dial and the evidence take milliseconds; half the -wait leaves
	// a loaded machine room.
	if took > 5*time.Second {
		t.Errorf("why took %v with -wait 10s: it waited for a join that had already failed", took)
	}
}
