package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// connsIn runs "mptcpcheck conns -netns NS args..." and fails the test
// unless it exits 0.
func connsIn(t *testing.T, ns *testbed.NS, args ...string) string {
	t.Helper()
	code, out, errs := runCmd(t, append([]string{"conns", "-netns", ns.Path()}, args...)...)
	if code != exitOK {
		t.Fatalf("conns %q: status %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	if errs != "" {
		t.Errorf("conns %q: stderr %q", args, errs)
	}
	return out
}

// connsJSON runs "mptcpcheck conns -json" in ns and decodes its document.
func connsJSON(t *testing.T, ns *testbed.NS, args ...string) sample {
	t.Helper()
	out := connsIn(t, ns, append([]string{"-json"}, args...)...)
	var s sample
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("conns -json %q: %v\n%s", args, err, out)
	}
	return s
}

// kernelListsListeners reports whether the running kernel's socket
// diagnostics list MPTCP listeners, which Linux does since 5.19.
func kernelListsListeners() bool { return testenv.KernelAtLeast(5, 19) }

// listenersLack is what kernels before 5.19 lack, for SkipKernelLacks.
const listenersLack = "MPTCP listeners in socket diagnostics (ss -Ml lists none)"

// connsListeners runs "mptcpcheck conns -json args..." in ns and returns
// its document and the listeners it shows, each "LISTEN ADDRESS": those
// it lists, with nothing on stderr, where the kernel lists listeners;
// elsewhere those its note on stderr names (it must list none), so that
// a kernel that hides its listeners cannot pass for one without any.
func connsListeners(t *testing.T, ns *testbed.NS, args ...string) (sample, []string) {
	t.Helper()
	code, out, errs := runCmd(t, append([]string{"conns", "-netns", ns.Path(), "-json"}, args...)...)
	var s sample
	if err := json.Unmarshal([]byte(out), &s); code != exitOK || err != nil {
		t.Fatalf("conns -json %q: status %d, %v\nstdout:\n%s\nstderr:\n%s", args, code, err, out, errs)
	}
	var listed []string
	for _, c := range s.Connections {
		if c.State == "LISTEN" {
			listed = append(listed, "LISTEN "+c.Local)
		}
	}
	if kernelListsListeners() {
		if errs != "" {
			t.Errorf("conns %q: stderr %q", args, errs)
		}
		return s, listed
	}
	if len(listed) > 0 {
		t.Errorf("conns %q lists %q, on a kernel whose socket diagnostics list no listener", args, listed)
	}
	const note = "mptcpcheck conns: this kernel's socket diagnostics list no MPTCP listeners (Linux 5.19 and later do); its TCP sockets show "
	_, named, ok := strings.Cut(errs, ", not listed: ")
	switch {
	case errs == "":
		return s, nil
	case !strings.HasPrefix(errs, note) || !ok || strings.Count(errs, "\n") != 1:
		t.Errorf("conns %q: stderr %q, want one line that begins %q and names the listeners", args, errs, note)
		return s, nil
	}
	var names []string
	for a := range strings.SplitSeq(strings.TrimSuffix(named, "\n"), ", ") {
		names = append(names, "LISTEN "+a)
	}
	return s, names
}

// The listing of the client's namespace agrees with ss run there: the
// connection, its addresses, token and subflow count with "ss -M", each
// subflow's addresses, ids, tokens and bytes with "ss -t"; the table
// shows the same.
func TestConnsAgreesWithSS(t *testing.T) {
	b, client, _ := mptcptest.TwoPaths(t)
	doc := connsJSON(t, b.Client)
	ss := b.Client.SSMPTCP()
	sss := b.Client.SSSubflows()
	if len(doc.Connections) != 1 || len(ss) != 1 {
		t.Fatalf("%d connections listed, ss -M shows %d; want 1: %+v / %+v", len(doc.Connections), len(ss), doc.Connections, ss)
	}
	c := doc.Connections[0]
	info, err := client.MPTCPInfo()
	if err != nil {
		t.Fatal(err)
	}
	want := ss[c.Local+" "+c.Remote]
	switch {
	case c.Local != client.LocalAddr().String() || c.Remote != client.RemoteAddr().String():
		t.Errorf("listed %s -> %s, the connection is %v -> %v", c.Local, c.Remote, client.LocalAddr(), client.RemoteAddr())
	case want.Local == "":
		t.Errorf("%s -> %s is not in ss -M: %+v", c.Local, c.Remote, ss)
	case c.Token != want.Token || c.Token != fmt.Sprintf("%08x", info.Token):
		t.Errorf("token %s; ss -M says %s, MPTCPInfo %08x", c.Token, want.Token, info.Token)
	case c.Fallback || want.Fallback:
		t.Errorf("fallback: listed %v, ss %v", c.Fallback, want.Fallback)
	case c.State != "ESTABLISHED":
		t.Errorf("state %s", c.State)
	case c.SubflowCount != 2 || want.Subflows+1 != 2 || len(c.Subflows) != 2 || len(sss) != 2:
		t.Errorf("subflow count %d with %d listed; ss -M counts %d additional, ss -t shows %d; want 2",
			c.SubflowCount, len(c.Subflows), want.Subflows, len(sss))
	}
	// The MPTCP-level byte counters (Linux 6.5): 1 and 1 after the
	// ping-pong where the kernel counts them, missing where it does not,
	// never 0; MPTCPInfo says the same.
	counters := testenv.KernelAtLeast(6, 5)
	switch {
	case info.Has(mptcp.InfoCounters) != counters:
		t.Errorf("MPTCPInfo has the MPTCP-level counters: %v, on kernel %s", info.Has(mptcp.InfoCounters), testenv.KernelRelease())
	case counters && (c.BytesSent == nil || *c.BytesSent != 1 || *c.BytesReceived != 1):
		t.Errorf("MPTCP-level bytes sent %v received %v, want 1 and 1 after the ping-pong", c.BytesSent, c.BytesReceived)
	case !counters && (c.BytesSent != nil || c.BytesReceived != nil || c.BytesAcked != nil || c.BytesRetrans != nil):
		t.Errorf("MPTCP-level bytes sent %v received %v acked %v retrans %v, on a kernel without them (before 6.5): want them left out",
			c.BytesSent, c.BytesReceived, c.BytesAcked, c.BytesRetrans)
	}
	ids := map[string]bool{}
	for _, sf := range c.Subflows {
		var m *testbed.SSSubflow
		for i := range sss {
			if sss[i].Local == sf.Local && sss[i].Remote == sf.Remote {
				m = &sss[i]
			}
		}
		ids[fmt.Sprintf("%d/%d", sf.LocalAddrID, sf.RemoteAddrID)] = true
		switch {
		case m == nil:
			t.Errorf("subflow %s -> %s is not in ss -t: %+v", sf.Local, sf.Remote, sss)
		case sf.Token != m.TokenLoc || sf.Token != c.Token:
			t.Errorf("subflow %s: token %s, ss %s, connection %s", sf.Local, sf.Token, m.TokenLoc, c.Token)
		case sf.RemoteToken == "" && m.TokenRem != "00000000", sf.RemoteToken != "" && sf.RemoteToken != m.TokenRem:
			t.Errorf("subflow %s: remote token %q, ss %s", sf.Local, sf.RemoteToken, m.TokenRem)
		case strconv.Itoa(int(sf.LocalAddrID)) != m.IDLoc || strconv.Itoa(int(sf.RemoteAddrID)) != m.IDRem:
			t.Errorf("subflow %s: ids %d/%d, ss %s/%s", sf.Local, sf.LocalAddrID, sf.RemoteAddrID, m.IDLoc, m.IDRem)
		case strconv.FormatUint(sf.BytesAcked, 10) != m.BytesAcked:
			t.Errorf("subflow %s: bytes_acked %d, ss %s", sf.Local, sf.BytesAcked, m.BytesAcked)
		case !slices.Equal(sf.Flags, m.Flags):
			t.Errorf("subflow %s: flags %q, ss %q", sf.Local, sf.Flags, m.Flags)
		case sf.State != "ESTABLISHED" || !slices.Contains(sf.Flags, "connected") || sf.RTTMillis <= 0 || sf.Cwnd == 0:
			t.Errorf("subflow %s: state %s flags %v rtt %vms cwnd %d", sf.Local, sf.State, sf.Flags, sf.RTTMillis, sf.Cwnd)
		}
	}
	if !ids["0/0"] || !ids["1/0"] {
		t.Errorf("subflow ids %v, want 0/0 (the first) and 1/0 (the endpoint's, to the server's first address)", ids)
	}

	// The table: the connection's line, then one indented line per
	// subflow with its addresses, state, RTT and bytes.
	table := connsIn(t, b.Client)
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	bytes := `sent 1 B\s+acked 1 B\s+received 1 B`
	if !counters {
		bytes = `sent -\s+acked -\s+received -`
	}
	head := regexp.MustCompile(`^ESTABLISHED\s+` + regexp.QuoteMeta(c.Local+" -> "+c.Remote) + `\s+token ` + c.Token +
		`\s+2 subflows\s+recv-q \d+ send-q \d+\s+` + bytes + `$`)
	if len(lines) != 3 || !head.MatchString(lines[0]) {
		t.Fatalf("table: want the connection's line then two subflow lines, got:\n%s", table)
	}
	for i, sf := range c.Subflows {
		row := regexp.MustCompile(fmt.Sprintf(`^  addr id %d/%d\s+%s\s+ESTABLISHED\s+rtt [0-9.]+(µs|ms) cwnd \d+\s+recv-q \d+ send-q \d+\s+sent \d+ B\s+acked \d+ B\s+received \d+ B\s+retrans \d+$`,
			sf.LocalAddrID, sf.RemoteAddrID, regexp.QuoteMeta(sf.Local+" -> "+sf.Remote)))
		if !row.MatchString(lines[1+i]) {
			t.Errorf("table line %d %q does not show subflow %+v", 1+i, lines[1+i], sf)
		}
	}
	// A namespace by its name, as ip netns names it, reads the same one.
	if code, out, errs := runCmd(t, "conns", "-netns", b.Client.Name, "-subflows=false"); code != exitOK || !head.MatchString(strings.TrimSuffix(out, "\n")) {
		t.Errorf("-netns %s -subflows=false: status %d, %q, %q", b.Client.Name, code, out, errs)
	}
}

// conns finds the listeners a kernel before 5.19 leaves out of its MPTCP
// listing among its TCP sockets: on every kernel, the MPTCP listener's
// listening TCP socket, and not a plain TCP listener's, as the filter
// selects them.
func TestConnsFindsListenersAmongTCPSockets(t *testing.T) {
	b := testbed.New(t, 1)
	ml := mptcptest.Listen(t, b, "tcp4", b.Links[0].Server)
	tl := b.Server.Listen(func() (net.Listener, error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		return lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(b.Links[0].Server, 0).String())
	})
	m := ml.Addr().(*net.TCPAddr).AddrPort()
	for _, tc := range []struct {
		f    diag.Filter
		want []netip.AddrPort
	}{
		{diag.Filter{}, []netip.AddrPort{m}},
		{diag.Filter{Network: "tcp4", LocalPort: m.Port()}, []netip.AddrPort{m}},
		{diag.Filter{Network: "tcp6"}, nil},
		{diag.Filter{LocalPort: uint16(tl.Addr().(*net.TCPAddr).Port)}, nil},
		{diag.Filter{Local: netip.MustParsePrefix("192.0.2.0/24")}, nil},
	} {
		got, err := tcpListeners(b.Server.Path(), &tc.f)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("filter %+v: %v, %v; want %v", tc.f, got, err, tc.want)
		}
	}
}

// A subflow that the client marked backup shows so on both ends, as ss
// shows it.
func TestConnsBackup(t *testing.T) {
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow", "backup")
	client, _ := mptcptest.Connect(t, b, nil, mptcptest.Listen(t, b, "tcp4", b.Links[0].Server))
	mptcptest.WaitSubflows(t, client, 2)
	for _, end := range []struct {
		ns          *testbed.NS
		flag, label string
	}{{b.Client, "backup-local", "backup"}, {b.Server, "backup-remote", "peer-backup"}} {
		doc := connsJSON(t, end.ns, "-state", "established")
		if len(doc.Connections) != 1 || len(doc.Connections[0].Subflows) != 2 {
			t.Fatalf("%s: want one connection with 2 subflows: %+v", end.ns.Name, doc)
		}
		sss := end.ns.SSSubflows()
		var backups []string
		for _, sf := range doc.Connections[0].Subflows {
			if sf.Backup || sf.RemoteBackup {
				backups = append(backups, sf.Local+" -> "+sf.Remote)
			}
			if sf.Backup != slices.Contains(sf.Flags, "backup-local") || sf.RemoteBackup != slices.Contains(sf.Flags, "backup-remote") {
				t.Errorf("%s: subflow %s: backup %v remote_backup %v, flags %q", end.ns.Name, sf.Local, sf.Backup, sf.RemoteBackup, sf.Flags)
			}
			for _, s := range sss {
				if s.Local == sf.Local && s.Remote == sf.Remote && slices.Contains(s.Flags, end.flag) != slices.Contains(sf.Flags, end.flag) {
					t.Errorf("%s: subflow %s: flags %q, ss %q", end.ns.Name, sf.Local, sf.Flags, s.Flags)
				}
			}
		}
		// The backup subflow is the endpoint's, from the client's second
		// address.
		second := b.Links[1].Client.String() + ":"
		if len(backups) != 1 || !strings.Contains(backups[0], second) {
			t.Errorf("%s: backup subflows %q, want the one from %s", end.ns.Name, backups, b.Links[1].Client)
		}
		table := connsIn(t, end.ns, "-state", "established")
		rows := regexp.MustCompile(`(?m)^  addr id \d/\d .*  `+end.label+`$`).FindAllString(table, -1)
		if len(rows) != 1 || !strings.Contains(rows[0], second) {
			t.Errorf("%s: want one subflow line ending in %s, the second address's:\n%s", end.ns.Name, end.label, table)
		}
	}
}

// The JSON document has the documented keys, docs/mptcpcheck.md documents them,
// and an empty namespace has "connections": [], not null.
func TestConnsJSONKeys(t *testing.T) {
	b := testbed.New(t, 2)
	out := connsIn(t, b.Client, "-json")
	if strings.Join(strings.Fields(out), " ") != `{ "connections": [] }` {
		t.Errorf("empty namespace: %q, want an empty list", out)
	}
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	client, _ := mptcptest.Connect(t, b, nil, mptcptest.Listen(t, b, "tcp4", b.Links[0].Server))
	mptcptest.WaitSubflows(t, client, 2)
	var doc map[string][]map[string]any
	if err := json.Unmarshal([]byte(connsIn(t, b.Client, "-json")), &doc); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(docPage)
	if err != nil {
		t.Fatal(err)
	}
	// The page's paragraphs on conns, up to the next section.
	_, section, _ := strings.Cut(string(page), "`mptcpcheck conns` lists")
	section, _, _ = strings.Cut(section, "\n## ")
	documented := func(key string) {
		if !strings.Contains(section, "`"+key+"`") {
			t.Errorf("%s: the conns section does not document the key %q", docPage, key)
		}
	}
	documented("connections")
	if len(doc["connections"]) != 1 || len(doc) != 1 {
		t.Fatalf("document %v, want one key, connections, with one connection", doc)
	}
	conn := doc["connections"][0]
	wantKeys(t, "connection", conn, "state", "local", "remote", "token", "fallback", "uid", "inode", "recv_q", "send_q", "subflow_count",
		"bytes_sent", "bytes_received", "bytes_acked", "bytes_retrans", "subflows")
	subs, _ := conn["subflows"].([]any)
	if len(subs) != 2 {
		t.Fatalf("subflows %v, want 2", conn["subflows"])
	}
	for _, s := range subs {
		sf, _ := s.(map[string]any)
		keys := []string{"local_addr_id", "remote_addr_id", "local", "remote", "token", "state", "recv_q", "send_q", "rtt_ms", "cwnd",
			"bytes_sent", "bytes_acked", "bytes_received", "retrans", "flags", "backup", "remote_backup"}
		if _, ok := sf["remote_token"]; ok {
			keys = append(keys, "remote_token")
		}
		wantKeys(t, "subflow", sf, keys...)
	}
	for _, key := range []string{"time", "remote_token", "send_bytes_per_second", "receive_bytes_per_second", "processes", "pid", "command", "fd"} {
		documented(key)
	}
	for key := range conn {
		documented(key)
	}
	for key := range subs[0].(map[string]any) {
		documented(key)
	}
	// Without subflows, the key is left out.
	var bare sample
	if err := json.Unmarshal([]byte(connsIn(t, b.Client, "-json", "-subflows=false")), &bare); err != nil || len(bare.Connections) != 1 {
		t.Fatalf("-subflows=false: %v %+v", err, bare)
	}
	if out := connsIn(t, b.Client, "-json", "-subflows=false"); strings.Contains(out, `"subflows"`) {
		t.Errorf("-subflows=false lists subflows:\n%s", out)
	}
}

func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s keys %v, want %v", what, got, keys)
	}
}

// Filters select and exclude by state, family, address and port, in a
// namespace with an IPv4 and an IPv6 connection; the server's holds
// their listeners too.
func TestConnsFilters(t *testing.T) {
	b, c4, _ := mptcptest.TwoPaths(t)
	c6, _ := mptcptest.Connect(t, b, nil, mptcptest.Listen(t, b, "tcp6", b.Links[0].Server6))
	type end struct{ local, remote netip.AddrPort }
	ends := []end{}
	for _, c := range []*mptcp.MPTCPConn{c4, c6} {
		ends = append(ends, end{c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()})
	}
	v4, v6 := ends[0], ends[1]
	// A port neither connection uses.
	otherPort := strconv.Itoa(int(max(v4.local.Port(), v6.local.Port(), v4.remote.Port(), v6.remote.Port())) + 1)
	for _, tc := range []struct {
		args []string
		want []end
	}{
		{nil, []end{v4, v6}},
		{[]string{"-4"}, []end{v4}},
		{[]string{"-6"}, []end{v6}},
		{[]string{"-4", "-6"}, []end{v4, v6}},
		{[]string{"-state", "established"}, []end{v4, v6}},
		{[]string{"-state", "connected"}, []end{v4, v6}},
		{[]string{"-state", "listening"}, nil},
		{[]string{"-state", "syn-sent,time-wait", "-state", "close-wait"}, nil},
		{[]string{"-state", "listen", "-state", "ESTABLISHED"}, []end{v4, v6}},
		{[]string{"-local", v4.local.Addr().String()}, []end{v4}},
		{[]string{"-local", "10.0.0.0/16"}, []end{v4}},
		{[]string{"-local", "fd00::/16"}, []end{v6}},
		{[]string{"-local", "[" + v6.local.Addr().String() + "]"}, []end{v6}},
		{[]string{"-local", "192.0.2.0/24"}, nil},
		{[]string{"-remote", v4.remote.Addr().String()}, []end{v4}},
		{[]string{"-remote", "::ffff:10.0.1.0/120"}, []end{v4}},
		{[]string{"-remote", "10.0.2.1"}, nil},
		{[]string{"-sport", strconv.Itoa(int(v4.local.Port()))}, []end{v4}},
		{[]string{"-sport", otherPort}, nil},
		{[]string{"-dport", strconv.Itoa(int(v6.remote.Port()))}, []end{v6}},
		{[]string{"-dport", otherPort}, nil},
		{[]string{"-6", "-local", "10.0.0.0/8"}, nil},
	} {
		var got, want []string
		for _, c := range connsJSON(t, b.Client, tc.args...).Connections {
			got = append(got, c.Local+" -> "+c.Remote)
		}
		for _, e := range tc.want {
			want = append(want, e.local.String()+" -> "+e.remote.String())
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("conns %q lists %q, want %q", tc.args, got, want)
		}
	}
	// The server's namespace: the two listeners, the two connections.
	var established []string
	_, listeners := connsListeners(t, b.Server, "-state", "listening")
	for _, c := range connsJSON(t, b.Server, "-state", "established").Connections {
		established = append(established, c.Remote)
	}
	slices.Sort(listeners)
	slices.Sort(established)
	wantListeners := []string{"LISTEN " + v4.remote.String(), "LISTEN " + v6.remote.String()}
	wantEstablished := []string{v4.local.String(), v6.local.String()}
	slices.Sort(wantListeners)
	slices.Sort(wantEstablished)
	if !slices.Equal(listeners, wantListeners) || !slices.Equal(established, wantEstablished) {
		t.Errorf("server: listeners %q, want %q; established from %q, want %q", listeners, wantListeners, established, wantEstablished)
	}
	// A listener's line in the table: its address and queues alone.
	if !kernelListsListeners() {
		if _, l := connsListeners(t, b.Server, "-state", "listening", "-4"); !slices.Equal(l, []string{"LISTEN " + v4.remote.String()}) {
			t.Errorf("-4: listeners %q, want the IPv4 one, %s", l, v4.remote)
		}
		testenv.SkipKernelLacks(t, listenersLack+": no listener's line to check", "5.19")
	}
	table := connsIn(t, b.Server, "-state", "listening", "-4")
	if !regexp.MustCompile(`^LISTEN\s+` + regexp.QuoteMeta(v4.remote.String()) + `\s+recv-q 0 send-q \d+\n$`).MatchString(table) {
		t.Errorf("listener's table:\n%s", table)
	}
}

// A client whose server spoke only TCP is marked fallback, as ss marks
// it.
func TestConnsFallback(t *testing.T) {
	b := testbed.New(t, 1)
	l := b.Server.Listen(func() (net.Listener, error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		return lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(b.Links[0].Server, 0).String())
	})
	go func() {
		if c, err := l.Accept(); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}()
	c, err := b.Client.Dialer((&mptcp.Dialer{Timeout: 5 * time.Second}).DialContext)(context.Background(), "tcp4", l.Addr().String())
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			testenv.SkipOrFail(t, "no MPTCP: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if ok, err := c.(*mptcp.MPTCPConn).MultipathTCP(); ok || err != nil {
		t.Fatalf("MultipathTCP() = %v, %v; want a fallback", ok, err)
	}
	doc := connsJSON(t, b.Client)
	ss := b.Client.SSMPTCP()
	if len(doc.Connections) != 1 {
		t.Fatalf("%d connections listed, want the fallen-back one: %+v", len(doc.Connections), doc)
	}
	conn := doc.Connections[0]
	if s := ss[conn.Local+" "+conn.Remote]; !conn.Fallback || !s.Fallback || conn.Local != c.LocalAddr().String() {
		t.Errorf("%s -> %s: fallback %v, ss says %v (%+v)", conn.Local, conn.Remote, conn.Fallback, s.Fallback, ss)
	}
	table := connsIn(t, b.Client)
	if !regexp.MustCompile(`(?m)^ESTABLISHED\s+` + regexp.QuoteMeta(conn.Local+" -> "+conn.Remote) + `\s+token [0-9a-f]{8}\s+fallback, \d subflows?\s`).MatchString(table) {
		t.Errorf("the table does not mark the connection fallback:\n%s", table)
	}
}

// -watch prints -count samples, and while the client sends over two
// shaped paths each subflow's rates are those of its counters, out on the
// client, in on the server: non-zero for the subflows that carried data
// (at least one), below the link's rate.
func TestConnsWatchRates(t *testing.T) {
	b := testbed.New(t, 2)
	const linkRate = 20e6 / 8 // bytes per second
	for i := range b.Links {
		b.Shape(i, "tbf rate 20mbit burst 32kbit latency 50ms")
	}
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	client, server := mptcptest.Connect(t, b, nil, mptcptest.Listen(t, b, "tcp4", b.Links[0].Server))
	mptcptest.WaitSubflows(t, client, 2)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go io.Copy(io.Discard, server)
	go func() {
		buf := make([]byte, 64<<10)
		for ctx.Err() == nil {
			client.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := client.Write(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // past slow start

	for _, side := range []struct {
		ns   *testbed.NS
		rate func(*subflowRecord) *float64
		unit func(*subflowRecord) uint64
	}{
		{b.Client, func(s *subflowRecord) *float64 { return s.SendRate }, func(s *subflowRecord) uint64 { return s.BytesAcked }},
		{b.Server, func(s *subflowRecord) *float64 { return s.ReceiveRate }, func(s *subflowRecord) uint64 { return s.BytesReceived }},
	} {
		out := connsIn(t, side.ns, "-json", "-watch", "100ms", "-count", "3", "-state", "established")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%s: %d lines, want one JSON document per sample, 3:\n%s", side.ns.Name, len(lines), out)
		}
		var samples [3]sample
		var at [3]time.Time
		for i, line := range lines {
			if err := json.Unmarshal([]byte(line), &samples[i]); err != nil {
				t.Fatalf("%s: sample %d: %v\n%s", side.ns.Name, i, err, line)
			}
			var err error
			if at[i], err = time.Parse(time.RFC3339Nano, samples[i].Time); err != nil {
				t.Fatalf("%s: sample %d: time %q: %v", side.ns.Name, i, samples[i].Time, err)
			}
			if len(samples[i].Connections) != 1 || len(samples[i].Connections[0].Subflows) != 2 {
				t.Fatalf("%s: sample %d: want one connection with 2 subflows:\n%s", side.ns.Name, i, line)
			}
		}
		for _, sf := range samples[0].Connections[0].Subflows {
			if sf.SendRate != nil || sf.ReceiveRate != nil {
				t.Errorf("%s: the first sample has rates: %+v", side.ns.Name, sf)
			}
		}
		// The samples follow a ticker: one taken late on a loaded
		// machine is followed by one taken early, so a single gap may be
		// well under the interval; two intervals still span at least
		// one.
		if span := at[2].Sub(at[0]).Seconds(); span < 0.1 {
			t.Errorf("%s: 3 samples every 100ms span %.3fs, want at least 0.1s", side.ns.Name, span)
		}
		moving := 0
		for i := 1; i < 3; i++ {
			dt := at[i].Sub(at[i-1]).Seconds()
			if dt <= 0 || dt > 2 {
				t.Errorf("%s: samples %d and %d are %.3fs apart, want about 0.1s", side.ns.Name, i-1, i, dt)
			}
			for _, sf := range samples[i].Connections[0].Subflows {
				var before *subflowRecord
				for j, p := range samples[i-1].Connections[0].Subflows {
					if p.Local == sf.Local && p.Remote == sf.Remote {
						before = &samples[i-1].Connections[0].Subflows[j]
					}
				}
				if before == nil {
					t.Errorf("%s: sample %d: subflow %s not in the sample before", side.ns.Name, i, sf.Local)
					continue
				}
				// The rate is the change of the counter over the time
				// between the samples, as the document gives both: not
				// zero for a subflow that carried data, below the link's.
				delta := side.unit(&sf) - side.unit(before)
				want := float64(delta) / dt
				r := side.rate(&sf)
				switch {
				case r == nil:
					t.Errorf("%s: sample %d: subflow %s -> %s has no rate", side.ns.Name, i, sf.Local, sf.Remote)
				case (*r > 0) != (delta > 0) || *r-want > 0.01*want || want-*r > 0.01*want:
					t.Errorf("%s: sample %d: subflow %s rate %.0f B/s; its counter says %.0f (%d bytes in %.3fs)", side.ns.Name, i, sf.Local, *r, want, delta, dt)
				case *r > 4*linkRate:
					t.Errorf("%s: sample %d: subflow %s rate %.0f B/s, far above the link's %.0f", side.ns.Name, i, sf.Local, *r, linkRate)
				}
				if delta > 0 {
					moving++
				}
			}
		}
		// A loss on a shaped link can hold the whole connection up for a
		// window (MPTCP-level head-of-line blocking), not for both.
		if moving == 0 {
			t.Errorf("%s: no subflow carried data in 0.2s:\n%s", side.ns.Name, out)
		}
	}

	// The table: three samples apart by a blank line, each with its time;
	// rates from the second on.
	out := connsIn(t, b.Client, "-watch", "100ms", "-count", "3", "-state", "established")
	samples := strings.Split(strings.TrimSuffix(out, "\n"), "\n\n")
	if len(samples) != 3 {
		t.Fatalf("%d samples, want 3:\n%s", len(samples), out)
	}
	header := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}  1 connection, every 100ms\nESTABLISHED `)
	moving := 0
	rate := regexp.MustCompile(`(?m)^  addr id \d/\d .*\sout (-|\S+ \S+/s)\s+in (-|\S+ \S+/s)$`)
	for i, s := range samples {
		rows := rate.FindAllStringSubmatch(s, -1)
		if !header.MatchString(s) || len(rows) != 2 {
			t.Errorf("sample %d: want a header, the connection and 2 subflow lines with rates:\n%s", i, s)
			continue
		}
		for _, r := range rows {
			switch {
			case i == 0 && (r[1] != "-" || r[2] != "-"):
				t.Errorf("sample %d: subflow line %q: want no rates in the first sample", i, r[0])
			case i > 0 && (r[1] == "-" || r[2] == "-"):
				t.Errorf("sample %d: subflow line %q: want rates", i, r[0])
			case i > 0 && r[1] != "0 B/s":
				moving++
			}
		}
	}
	if moving == 0 {
		t.Errorf("no subflow sends in the second sample nor the third:\n%s", out)
	}
}

// A dual-stack listener's connection from an IPv4 client is an IPv6
// socket with IPv4-mapped addresses. conns shows it as IPv4, so -4 lists
// it, with its subflow, and -6 does not; the listener, shown as [::],
// the other way round.
func TestConnsFamilyAsShown(t *testing.T) {
	b := testbed.New(t, 1)
	l := mptcptest.Listen(t, b, "tcp", netip.IPv6Unspecified())
	server := netip.AddrPortFrom(b.Links[0].Server, uint16(l.Addr().(*net.TCPAddr).Port))
	c, _ := mptcptest.ConnectTo(t, b, nil, l, server.Addr())
	client := c.LocalAddr().String()

	list := func(args ...string) []string {
		t.Helper()
		var got []string
		for _, conn := range connsJSON(t, b.Server, args...).Connections {
			got = append(got, fmt.Sprintf("%s %s -> %s, %d subflow(s)", conn.State, conn.Local, conn.Remote, len(conn.Subflows)))
		}
		return got
	}
	conn := fmt.Sprintf("ESTABLISHED %s -> %s, 1 subflow(s)", server, client)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-state", "established"}, []string{conn}},
		{[]string{"-state", "established", "-4"}, []string{conn}},
		{[]string{"-state", "established", "-6"}, nil},
		{[]string{"-4", "-local", "10.0.0.0/8"}, []string{conn}},
	} {
		if got := list(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("conns %q lists %q, want %q", tc.args, got, tc.want)
		}
	}
	// The listener, listed, or named where the kernel lists none.
	listener := fmt.Sprintf("LISTEN [::]:%d", server.Port())
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-state", "listening", "-6"}, []string{listener}},
		{[]string{"-state", "listening", "-4"}, nil},
	} {
		if _, got := connsListeners(t, b.Server, tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("conns %q shows listeners %q, want %q", tc.args, got, tc.want)
		}
	}
}
