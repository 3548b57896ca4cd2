package collector_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/collector"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/netns"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// bed is a two-link test bed whose client opens a second subflow from
// its second address, with known connections on it: mptcpConns MPTCP
// connections with two subflows each, and fallbacks connections whose
// client is MPTCP and whose server a plain TCP listener, which fall
// back. The collectors of both namespaces took a first scrape before any
// connection was made.
type bed struct {
	*testbed.Bed
	client, server         *prometheus.Registry
	clientBase, serverBase scrape
}

const (
	mptcpConns = 3
	fallbacks  = 2
)

func newBed(t *testing.T) *bed {
	t.Helper()
	b := &bed{Bed: testbed.New(t, 2)}
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	b.client = register(t, newCollector(t, &collector.Config{NetNS: b.Client.Path()}))
	b.server = register(t, newCollector(t, &collector.Config{NetNS: b.Server.Path()}))
	b.clientBase, b.serverBase = gather(t, b.client), gather(t, b.server)

	l := mptcptest.Listen(t, b.Bed, "tcp4", b.Links[0].Server)
	for range mptcpConns {
		c, s := mptcptest.Connect(t, b.Bed, nil, l)
		mptcptest.WaitSubflows(t, c, 2)
		mptcptest.WaitSubflows(t, s, 2)
	}
	// Go's own listeners use MPTCP by default (Go 1.24+): this one is
	// made plain TCP, so that MPTCP clients fall back.
	tcp := b.Server.Listen(func() (net.Listener, error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		return lc.Listen(context.Background(), "tcp4", b.Links[0].Server.String()+":0")
	})
	for range fallbacks {
		c, _ := mptcptest.Connect(t, b.Bed, nil, tcp)
		if ok, err := c.MultipathTCP(); ok || err != nil {
			t.Fatalf("the client to a plain TCP server: MultipathTCP %v, %v; want a fallback", ok, err)
		}
	}
	return b
}

// states are the values of mptcp_connections' label state that every
// successful scrape has.
var states = []string{"established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
	"close", "close_wait", "last_ack", "listen", "closing", "new_syn_recv"}

// wantStates checks mptcp_connections: the counts given, and 0 for every
// other state.
func (s scrape) wantStates(t *testing.T, where string, want map[string]float64) {
	t.Helper()
	for _, st := range states {
		s.want(t, where, want[st], "mptcp_connections", "state", st)
	}
}

// wantSubflows checks the histogram mptcp_connection_subflows: n
// connections with two subflows each, and no other.
func (s scrape) wantSubflows(t *testing.T, where string, n uint64) {
	t.Helper()
	m := s.metric("mptcp_connection_subflows")
	if m == nil || m.Histogram == nil {
		t.Errorf("%s: no histogram mptcp_connection_subflows", where)
		return
	}
	h := m.Histogram
	if h.GetSampleCount() != n || h.GetSampleSum() != float64(2*n) {
		t.Errorf("%s: subflows histogram: count %d sum %v, want %d and %d", where, h.GetSampleCount(), h.GetSampleSum(), n, 2*n)
	}
	if len(h.GetBucket()) != 8 {
		t.Errorf("%s: %d buckets, want 8 (1 to 8; +Inf is implied)", where, len(h.GetBucket()))
	}
	for _, bk := range h.GetBucket() {
		want := n
		if bk.GetUpperBound() < 2 {
			want = 0
		}
		if bk.GetCumulativeCount() != want {
			t.Errorf("%s: bucket le=%v holds %d, want %d", where, bk.GetUpperBound(), bk.GetCumulativeCount(), want)
		}
	}
}

// wantDelta checks that the kernel counter name grew by d since base.
func (s scrape) wantDelta(t *testing.T, where string, base scrape, name string, d float64) {
	t.Helper()
	metric, _ := collector.MetricName(name)
	if s.typeOf(metric) != dto.MetricType_COUNTER {
		t.Errorf("%s: %s is not a counter", where, metric)
		return
	}
	before, _ := base.value(metric)
	after, _ := s.value(metric)
	if after-before != d {
		t.Errorf("%s: %s grew by %v (%v to %v), want %v", where, metric, after-before, before, after, d)
	}
}

// The client's namespace: its MPTCP connections, the fallbacks, the
// subflows the endpoint opened, the counters of their handshakes, the
// path manager's endpoint and limits, and net.mptcp.enabled.
func TestCollectClientNamespace(t *testing.T) {
	b := newBed(t)
	s := gather(t, b.client)
	const where = "client"
	s.wantSuccess(t, where, 1)
	// A client that fell back stays an MPTCP socket, listed with the
	// fallback flag: all five are established.
	s.wantStates(t, where, map[string]float64{"established": mptcpConns + fallbacks})
	s.want(t, where, fallbacks, "mptcp_connections_fallback")
	s.wantSubflows(t, where, mptcpConns)
	// Counters and fields Linux added later are absent on older kernels,
	// not 0: MPCapableSYNTX (5.13), MPCurrEstab (6.8), the byte counts
	// of mptcp_info (6.5).
	if s["mptcp_ext_mp_capable_syntx_total"] != nil {
		s.wantDelta(t, where, b.clientBase, "MPCapableSYNTX", mptcpConns+fallbacks)
	} else {
		testenv.KernelLacks(t, "the counter MPCapableSYNTX", "5.13")
	}
	s.wantDelta(t, where, b.clientBase, "MPCapableFallbackSYNACK", fallbacks)
	if s["mptcp_ext_mp_curr_estab_total"] != nil {
		t.Errorf("%s: MPCurrEstab is exported as a counter: %s", where, s.names())
	}
	switch {
	case s["mptcp_ext_mp_curr_estab"] == nil:
		testenv.KernelLacks(t, "the counter MPCurrEstab", "6.8")
	case s.typeOf("mptcp_ext_mp_curr_estab") != dto.MetricType_GAUGE:
		t.Errorf("%s: MPCurrEstab is not the gauge mptcp_ext_mp_curr_estab: %s", where, s.names())
	}
	s.want(t, where, 1, "mptcp_endpoints")
	for _, f := range []string{"signal", "subflow", "backup", "fullmesh", "implicit", "laminar"} {
		want := 0.0
		if f == "subflow" {
			want = 1
		}
		s.want(t, where, want, "mptcp_endpoints_flag", "flag", f)
	}
	s.want(t, where, 8, "mptcp_limit_subflows")
	s.want(t, where, 8, "mptcp_limit_add_addr_accepted")
	s.want(t, where, 1, "mptcp_enabled")
	// Each connection carried a byte each way (PingPong), the fallbacks
	// too: the kernel keeps a fallen-back socket's MPTCP-level counters.
	// Sent bytes count retransmissions, so they may be more. Before 6.5
	// mptcp_info has no byte counts: the three series are absent.
	bytesMetrics := []string{"mptcp_open_connections_received_bytes", "mptcp_open_connections_sent_bytes", "mptcp_open_connections_retransmitted_bytes"}
	if s[bytesMetrics[0]] == nil && testenv.KernelLacks(t, "the byte counts of mptcp_info", "6.5") {
		for _, m := range bytesMetrics {
			if s[m] != nil {
				t.Errorf("%s: %s is exported, without the byte counts it sums", where, m)
			}
		}
	} else {
		s.wantBytes(t, where)
	}

	// The same, as text: the exposition a scraper reads.
	const text = `
# HELP mptcp_endpoints Endpoints of the in-kernel path manager (ip mptcp endpoint).
# TYPE mptcp_endpoints gauge
mptcp_endpoints 1
# HELP mptcp_limit_add_addr_accepted The path manager's limit of addresses announced by a peer that a connection accepts (ip mptcp limits).
# TYPE mptcp_limit_add_addr_accepted gauge
mptcp_limit_add_addr_accepted 8
# HELP mptcp_limit_subflows The path manager's limit of additional subflows per connection (ip mptcp limits).
# TYPE mptcp_limit_subflows gauge
mptcp_limit_subflows 8
# HELP mptcp_connections_fallback MPTCP connections (not listeners) in the namespace that fell back to plain TCP.
# TYPE mptcp_connections_fallback gauge
mptcp_connections_fallback 2
# HELP mptcp_connection_subflows Subflows, the first included, of each established MPTCP connection that did not fall back to TCP.
# TYPE mptcp_connection_subflows histogram
mptcp_connection_subflows_bucket{le="1"} 0
mptcp_connection_subflows_bucket{le="2"} 3
mptcp_connection_subflows_bucket{le="3"} 3
mptcp_connection_subflows_bucket{le="4"} 3
mptcp_connection_subflows_bucket{le="5"} 3
mptcp_connection_subflows_bucket{le="6"} 3
mptcp_connection_subflows_bucket{le="7"} 3
mptcp_connection_subflows_bucket{le="8"} 3
mptcp_connection_subflows_bucket{le="+Inf"} 3
mptcp_connection_subflows_sum 6
mptcp_connection_subflows_count 3
`
	if err := testutil.GatherAndCompare(b.client, strings.NewReader(text),
		"mptcp_endpoints", "mptcp_limit_subflows", "mptcp_limit_add_addr_accepted",
		"mptcp_connections_fallback", "mptcp_connection_subflows"); err != nil {
		t.Error(err)
	}
}

// wantBytes checks the sums of the client's byte counts: a byte each way
// per connection, retransmissions counted in sent bytes.
func (s scrape) wantBytes(t *testing.T, where string) {
	t.Helper()
	s.want(t, where, mptcpConns+fallbacks, "mptcp_open_connections_received_bytes")
	if v, ok := s.value("mptcp_open_connections_sent_bytes"); !ok || v < mptcpConns+fallbacks {
		t.Errorf("%s: mptcp_open_connections_sent_bytes = %v, %v; want %d or more", where, v, ok, mptcpConns+fallbacks)
	}
	sent, _ := s.value("mptcp_open_connections_sent_bytes")
	received, _ := s.value("mptcp_open_connections_received_bytes")
	t.Logf("%s: bytes sent %v, received %v", where, sent, received)
	if v, ok := s.value("mptcp_open_connections_retransmitted_bytes"); !ok || v < 0 {
		t.Errorf("%s: mptcp_open_connections_retransmitted_bytes = %v, %v", where, v, ok)
	}
}

// The server's namespace: the MPTCP listener (the plain TCP one is no
// MPTCP socket), the server ends of the MPTCP connections with their
// joined subflows, nothing of the plain TCP connections, no endpoint.
func TestCollectServerNamespace(t *testing.T) {
	b := newBed(t)
	s := gather(t, b.server)
	const where = "server"
	s.wantSuccess(t, where, 1)
	s.wantStates(t, where, map[string]float64{"established": mptcpConns, "listen": 1})
	s.want(t, where, 0, "mptcp_connections_fallback")
	s.wantSubflows(t, where, mptcpConns)
	s.wantDelta(t, where, b.serverBase, "MPCapableSYNRX", mptcpConns)
	s.wantDelta(t, where, b.serverBase, "MPJoinSynRx", mptcpConns)
	s.wantDelta(t, where, b.serverBase, "MPCapableFallbackACK", 0)
	s.want(t, where, 0, "mptcp_endpoints")
	s.want(t, where, 0, "mptcp_endpoints_flag", "flag", "subflow")
	s.want(t, where, 8, "mptcp_limit_subflows")
	s.want(t, where, 8, "mptcp_limit_add_addr_accepted")
	s.want(t, where, 1, "mptcp_enabled")
}

// net.mptcp.enabled=0 in the namespace shows as mptcp_enabled 0, read
// from the namespace and not from the process's own.
func TestCollectMPTCPDisabled(t *testing.T) {
	b := testbed.New(t, 1)
	b.Client.Sysctl("net.mptcp.enabled", "0")
	off := gather(t, register(t, newCollector(t, &collector.Config{NetNS: b.Client.Path()})))
	off.want(t, "disabled", 1, "mptcp_scrape_collector_success", "collector", "sysctl")
	off.want(t, "disabled", 0, "mptcp_enabled")
	on := gather(t, register(t, newCollector(t, &collector.Config{NetNS: b.Server.Path()})))
	on.want(t, "enabled", 1, "mptcp_enabled")
}

// A namespace given by descriptor: the Collector keeps its own copy,
// so the caller may close theirs at once.
func TestCollectNetNSFD(t *testing.T) {
	b := testbed.New(t, 1)
	b.Endpoint(b.Client, b.Links[0].Client, "signal")
	f, err := os.Open(b.Client.Path())
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, &collector.Config{NetNSFD: int(f.Fd())})
	f.Close()
	s := gather(t, register(t, c))
	s.wantSuccess(t, "fd", 1)
	s.want(t, "fd", 1, "mptcp_endpoints_flag", "flag", "signal")
	s.wantStates(t, "fd", nil)
}

// A scrape enters its namespace once, and copies no descriptor: every
// part (counters, connections, path manager, sysctl) reads from inside.
// Before, each part entered on its own, from a copy of the descriptor.
func TestScrapeEntersNamespaceOnce(t *testing.T) {
	b := testbed.New(t, 1)
	f, err := os.Open(b.Client.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name string
		cfg  collector.Config
	}{
		{"path", collector.Config{NetNS: b.Client.Path()}},
		{"descriptor", collector.Config{NetNSFD: int(f.Fd())}},
	} {
		reg := register(t, newCollector(t, &tc.cfg))
		const scrapes = 3
		entered0, dups0 := netns.Counts()
		for range scrapes {
			gather(t, reg).wantSuccess(t, tc.name, 1)
		}
		entered, dups := netns.Counts()
		if entered-entered0 != scrapes || dups != dups0 {
			t.Errorf("%s: %d scrapes entered the namespace %d times and copied %d descriptors; want %d and 0",
				tc.name, scrapes, entered-entered0, dups-dups0, scrapes)
		}
	}
}

// promtool, Prometheus's own checker, accepts the exposition of a
// namespace with connections without a word: the names of the kernel
// counters too are snake_case, and every counter ends in _total.
func TestPromtoolAcceptsExposition(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.SkipOrFail(t, "needs promtool (Debian package prometheus): %v", err)
	}
	b := newBed(t)
	var text bytes.Buffer
	mfs, err := b.client.Gather()
	if err != nil {
		t.Fatal(err)
	}
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	ext := 0
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "mptcp_ext_") {
			ext++
		}
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel's counters are there to be checked: 6.18 has 76.
	if ext < 10 {
		t.Fatalf("%d mptcp_ext_ families in the exposition, want the kernel's counters", ext)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	t.Logf("promtool check metrics: %d metric families, %d kernel counters, no complaint", len(mfs), ext)
}

// With no descriptor left, every part of a scrape fails and says so
// (each needs a socket or a file), nothing panics, and the next scrape
// with descriptors back succeeds.
func TestCollectWithoutDescriptors(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/mptcp"); err != nil {
		testenv.SkipOrFail(t, "the kernel has no MPTCP, so no scrape part succeeds: %v", err)
	}
	c := newCollector(t, nil)
	reg := register(t, c)
	gather(t, reg).wantSuccess(t, "before", 1)

	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(len(fds)) // one was ReadDir's own, now closed: fill it
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var held []int
	for range 64 {
		fd, err := unix.Dup(0)
		if err != nil {
			break
		}
		held = append(held, fd)
	}
	fams, gerr := reg.Gather()
	for _, fd := range held {
		unix.Close(fd)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatalf("Gather without descriptors: %v", gerr)
	}
	s := scrape{}
	for _, f := range fams {
		s[f.GetName()] = f
	}
	s.wantSuccess(t, "without descriptors", 0)
	gather(t, reg).wantSuccess(t, "after", 1)
}

// A Collector of a namespace's name follows the name: once "ip netns
// delete" removes it, every part of a scrape fails and sends nothing of
// its own, though a process (here the test's Collector of a descriptor)
// still holds the namespace; once the name is made again, with other
// limits, the scrape reads the new namespace, and says so in the log.
func TestCollectFollowsNetNSName(t *testing.T) {
	testbed.RequireMPTCP(t)
	ns := testbed.NewNS(t)
	ns.IP("mptcp", "limits", "set", "subflows", "3")
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	byName := register(t, newCollector(t, &collector.Config{NetNS: ns.Path(), Logger: logger}))
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	byFD := register(t, newCollector(t, &collector.Config{NetNSFD: int(f.Fd())}))
	f.Close()

	s := gather(t, byName)
	s.wantSuccess(t, "before", 1)
	s.want(t, "before", 3, "mptcp_limit_subflows")

	ns.Delete()
	s = gather(t, byName)
	s.wantSuccess(t, "deleted", 0)
	for name := range s {
		if !strings.HasPrefix(name, "mptcp_scrape_collector_") {
			t.Errorf("deleted: the scrape sent %s", name)
		}
	}
	if !strings.Contains(log.String(), ns.Path()) {
		t.Errorf("deleted: the log does not name %s:\n%s", ns.Path(), log.String())
	}
	// The descriptor holds the old namespace, as documented.
	held := gather(t, byFD)
	held.wantSuccess(t, "held by descriptor", 1)
	held.want(t, "held by descriptor", 3, "mptcp_limit_subflows")

	ns.Add()
	ns.IP("mptcp", "limits", "set", "subflows", "5")
	s = gather(t, byName)
	s.wantSuccess(t, "made again", 1)
	s.want(t, "made again", 5, "mptcp_limit_subflows")
	if !strings.Contains(log.String(), "names another namespace now") {
		t.Errorf("made again: no log of the change:\n%s", log.String())
	}
	gather(t, byFD).want(t, "held by descriptor, after", 3, "mptcp_limit_subflows")
}
