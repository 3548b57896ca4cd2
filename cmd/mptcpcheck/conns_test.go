package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
)

// fakeConn is a connection with one subflow per counter pair, for the
// tests that run conns on made-up listings.
func fakeConn(port uint16, acked, received []uint64) diag.Connection {
	c := diag.Connection{
		Local:  netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), port),
		Remote: netip.MustParseAddrPort("198.51.100.1:443"),
		State:  mptcp.StateEstablished,
	}
	for i := range acked {
		c.Subflows = append(c.Subflows, diag.Subflow{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), port+uint16(i)),
			Remote: c.Remote,
			Flags:  diag.SubflowFlagConnected,
			TCP:    mptcp.TCPInfo{BytesAcked: acked[i], BytesReceived: received[i]},
		})
	}
	return c
}

func runConns(t *testing.T, opts connsOptions) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := conns(ctx, opts, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Where the kernel shows subflows only to CAP_NET_ADMIN, conns lists the
// connections alone, says so in one line on stderr, and succeeds.
func TestConnsWithoutSubflowPermission(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		var asked []bool
		list := func(f *diag.Filter) ([]diag.Connection, error) {
			asked = append(asked, f.Subflows)
			if f.Subflows {
				return nil, &net.OpError{Op: "list", Net: "sock_diag", Err: fmt.Errorf("subflows need CAP_NET_ADMIN: %w", os.ErrPermission)}
			}
			c := fakeConn(40000, nil, nil)
			return []diag.Connection{c}, nil
		}
		code, out, errs := runConns(t, connsOptions{filter: diag.Filter{Subflows: true}, json: asJSON, list: list})
		if code != exitOK || !slices.Equal(asked, []bool{true, false}) {
			t.Fatalf("json=%v: status %d, subflows asked %v; want 0, asked with then without", asJSON, code, asked)
		}
		if strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "no subflows: subflows need CAP_NET_ADMIN") || !strings.Contains(errs, "-subflows=false") {
			t.Errorf("json=%v: stderr %q, want one line that says why", asJSON, errs)
		}
		switch {
		case asJSON && (!strings.Contains(out, `"local": "192.0.2.1:40000"`) || strings.Contains(out, `"subflows"`)):
			t.Errorf("JSON: %s", out)
		case !asJSON && !strings.HasPrefix(out, "ESTABLISHED  192.0.2.1:40000 -> 198.51.100.1:443  token -  1 subflow  recv-q 0 send-q 0  sent -  acked -  received -\n"):
			t.Errorf("table: %q", out)
		}
	}
}

// Where the filter selects listeners and the kernel lists none, conns
// looks among the TCP sockets, and names on stderr, once, the MPTCP
// listeners it finds there (kernels before 5.19 list none): the listing
// still succeeds. It does not look where the kernel listed a listener,
// nor where the filter leaves listeners out.
func TestConnsNotesUnlistedListeners(t *testing.T) {
	listener := fakeConn(8080, nil, nil)
	listener.State, listener.Remote = mptcp.StateListen, netip.MustParseAddrPort("0.0.0.0:0")
	for _, tc := range []struct {
		name    string
		states  []mptcp.TCPState
		listed  []diag.Connection
		hidden  []netip.AddrPort
		looks   bool
		wantErr string
	}{
		{"listeners hidden", []mptcp.TCPState{mptcp.StateListen}, nil,
			[]netip.AddrPort{netip.MustParseAddrPort("10.0.1.1:80"), netip.MustParseAddrPort("[::]:443")}, true,
			"mptcpcheck conns: this kernel's socket diagnostics list no MPTCP listeners (Linux 5.19 and later do); " +
				"its TCP sockets show 2 MPTCP listeners, not listed: 10.0.1.1:80, [::]:443\n"},
		{"every state", nil, []diag.Connection{fakeConn(40000, nil, nil)}, []netip.AddrPort{netip.MustParseAddrPort("10.0.1.1:80")}, true,
			"mptcpcheck conns: this kernel's socket diagnostics list no MPTCP listeners (Linux 5.19 and later do); " +
				"its TCP sockets show 1 MPTCP listener, not listed: 10.0.1.1:80\n"},
		{"no listener anywhere", []mptcp.TCPState{mptcp.StateListen}, nil, nil, true, ""},
		{"listener listed", []mptcp.TCPState{mptcp.StateListen}, []diag.Connection{listener}, nil, false, ""},
		{"listeners not asked", []mptcp.TCPState{mptcp.StateEstablished}, nil, nil, false, ""},
	} {
		looked := 0
		opts := connsOptions{
			filter: diag.Filter{States: tc.states}, watch: time.Millisecond, count: 2,
			list: func(*diag.Filter) ([]diag.Connection, error) { return tc.listed, nil },
			tcpListeners: func(f *diag.Filter) ([]netip.AddrPort, error) {
				looked++
				return tc.hidden, nil
			},
		}
		code, _, errs := runConns(t, opts)
		if code != exitOK || errs != tc.wantErr || (looked == 1) != tc.looks || looked > 1 {
			t.Errorf("%s: status %d, looked %d times, stderr %q; want 0, looked %v, %q", tc.name, code, looked, errs, tc.looks, tc.wantErr)
		}
	}
}

// A listing that fails ends conns with status 1 and the error.
func TestConnsListingFails(t *testing.T) {
	list := func(*diag.Filter) ([]diag.Connection, error) {
		return nil, &net.OpError{Op: "list", Net: "sock_diag", Err: fmt.Errorf("the kernel has no MPTCP socket diagnostics: %w", errors.ErrUnsupported)}
	}
	code, out, errs := runConns(t, connsOptions{list: list})
	if code != exitFail || out != "" || errs != "mptcpcheck conns: list sock_diag: the kernel has no MPTCP socket diagnostics: unsupported operation\n" {
		t.Errorf("status %d, stdout %q, stderr %q", code, out, errs)
	}
}

// Rates come from the change of each subflow's counters, by its
// addresses, over the time between samples; a subflow new in a sample,
// or whose counters went back (another socket on the same addresses),
// has none.
func TestConnsWatchComputesRates(t *testing.T) {
	samples := [][]diag.Connection{
		{fakeConn(40000, []uint64{1000, 5000}, []uint64{0, 100})},
		{fakeConn(40000, []uint64{3000, 5000, 7}, []uint64{0, 600, 9})},
		{fakeConn(40000, []uint64{1000, 5000, 7}, []uint64{0, 600, 9})},
	}
	n := 0
	list := func(*diag.Filter) ([]diag.Connection, error) {
		n++
		return samples[n-1], nil
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := 0
	now := func() time.Time {
		clock++
		return start.Add(time.Duration(clock-1) * 250 * time.Millisecond)
	}
	code, out, errs := runConns(t, connsOptions{filter: diag.Filter{Subflows: true}, json: true, watch: time.Millisecond, count: 3, list: list, now: now})
	if code != exitOK || errs != "" || n != 3 {
		t.Fatalf("status %d, %d listings, stderr %q", code, n, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out)
	}
	type rates struct{ out, in any }
	want := [][]rates{
		{{nil, nil}, {nil, nil}},
		{{8000.0, 0.0}, {0.0, 2000.0}, {nil, nil}}, // (3000-1000)/0.25, (600-100)/0.25; the third is new
		{{nil, nil}, {0.0, 0.0}, {0.0, 0.0}},       // the first went back
	}
	for i, line := range lines {
		var s sample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		if s.Time != start.Add(time.Duration(i)*250*time.Millisecond).Format(time.RFC3339Nano) {
			t.Errorf("sample %d: time %s", i, s.Time)
		}
		var got []rates
		for _, sf := range s.Connections[0].Subflows {
			got = append(got, rates{deref(sf.SendRate), deref(sf.ReceiveRate)})
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("sample %d: rates %v, want %v", i, got, want[i])
		}
	}
}

// On a terminal each sample redraws the screen; elsewhere samples are
// apart by a blank line. With -watch, the context ends the command.
func TestConnsWatchRedraws(t *testing.T) {
	list := func(*diag.Filter) ([]diag.Connection, error) {
		return []diag.Connection{fakeConn(40000, []uint64{1}, []uint64{2})}, nil
	}
	const clear = "\x1b[H\x1b[2J"
	_, out, _ := runConns(t, connsOptions{filter: diag.Filter{Subflows: true}, watch: time.Millisecond, count: 2, clear: true, list: list})
	if strings.Count(out, clear) != 2 || !strings.HasPrefix(out, clear) || strings.Contains(out, "\n\n") {
		t.Errorf("terminal: %q", out)
	}
	_, out, _ = runConns(t, connsOptions{filter: diag.Filter{Subflows: true}, watch: time.Millisecond, count: 2, list: list})
	if strings.Contains(out, clear) || strings.Count(out, "\n\n") != 1 || strings.Count(out, "1 connection, every 1ms\n") != 2 {
		t.Errorf("not a terminal: %q", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := conns(ctx, connsOptions{watch: 20 * time.Millisecond, list: list}, &stdout, &stderr)
	if n := strings.Count(stdout.String(), "every 20ms"); code != exitOK || n < 2 {
		t.Errorf("until interrupted: status %d after %d samples", code, n)
	}
}

func TestConnsFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{humanBytes(0), "0 B"},
		{humanBytes(1023), "1023 B"},
		{humanBytes(1024), "1.0 KiB"},
		{humanBytes(1536), "1.5 KiB"},
		{humanBytes(12 << 20), "12.0 MiB"},
		{humanBytes(3 << 40), "3.0 TiB"},
		{humanBytes(1<<64 - 1), "16.0 EiB"},
		{fmtRate(nil), "-"},
		{fmtRate(new(2.5 * 1024 * 1024)), "2.5 MiB/s"},
		{plural(1, "subflow"), "1 subflow"},
		{plural(0, "subflow"), "0 subflows"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestConnsFlagValues(t *testing.T) {
	var s stateFlag
	for _, v := range []string{"established,LISTEN", "syn_sent", "Fin-Wait-1", "established"} {
		if err := s.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if s.String() != "ESTABLISHED,LISTEN,SYN_SENT,FIN_WAIT1" {
		t.Errorf("states %s", s.String())
	}
	var g stateFlag
	g.Set("synchronized")
	if g.String() != "ESTABLISHED,FIN_WAIT1,FIN_WAIT2,CLOSE_WAIT,LAST_ACK,CLOSING" {
		t.Errorf("synchronized: %s", g.String())
	}
	for in, want := range map[string]string{
		"10.1.2.3":            "10.1.2.3/32",
		"10.1.2.3/8":          "10.0.0.0/8",
		"fd00::1":             "fd00::1/128",
		"[fd00::1]":           "fd00::1/128",
		"fd00::/8":            "fd00::/8",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:10.1.2.3":     "10.1.2.3/32",
	} {
		var p prefixFlag
		if err := p.Set(in); err != nil || p.String() != want {
			t.Errorf("prefix %q: %v, %v; want %s", in, p.String(), err, want)
		}
	}
}

// deref returns *p, or nil.
func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
