package collector

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/multipath-go/mptcp/counters"
)

// Kernel counter names become part of metric names only when every
// Prometheus accepts them there.
func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"MPCapableSYNRX": true, "Add_Addr2": true, "": false,
		"with space": false, "dash-name": false, "dot.name": false, "é": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}

// Each kind of name the kernel uses, and some it may: acronyms, a lone
// capital, digits, underscores, lower case.
func TestMetricName(t *testing.T) {
	for name, want := range map[string]string{
		"MPCapableSYNTX":          "mptcp_ext_mp_capable_syntx_total",
		"MPCapableSYNACKRX":       "mptcp_ext_mp_capable_synackrx_total",
		"MPCapableFallbackSYNACK": "mptcp_ext_mp_capable_fallback_synack_total",
		"MPCapableSYNTXDrop":      "mptcp_ext_mp_capable_syntx_drop_total",
		"MPTCPRetrans":            "mptcp_ext_mptcp_retrans_total",
		"MPJoinSynAckHMacFailure": "mptcp_ext_mp_join_syn_ack_hmac_failure_total",
		"MPJoinSynTxCreatSkErr":   "mptcp_ext_mp_join_syn_tx_creat_sk_err_total",
		"DSSNoMatchTCP":           "mptcp_ext_dss_no_match_tcp_total",
		"DssFallback":             "mptcp_ext_dss_fallback_total",
		"NoDSSInWindow":           "mptcp_ext_no_dss_in_window_total",
		"MD5SigFallback":          "mptcp_ext_md5_sig_fallback_total",
		"AddAddr":                 "mptcp_ext_add_addr_total",
		"AddAddrDrop":             "mptcp_ext_add_addr_drop_total",
		"Blackhole":               "mptcp_ext_blackhole_total",
		"MPCurrEstab":             "mptcp_ext_mp_curr_estab", // the gauge
		// Names no kernel has yet.
		"Add_Addr2":    "mptcp_ext_add_addr2_total",
		"__Odd__Name_": "mptcp_ext_odd_name_total",
		"lower":        "mptcp_ext_lower_total",
		"X":            "mptcp_ext_x_total",
		"IPv6Drop":     "mptcp_ext_ipv6_drop_total",
		"TX2RX":        "mptcp_ext_tx2_rx_total",
		"V2Fallback":   "mptcp_ext_v2_fallback_total",
	} {
		if got, ok := MetricName(name); !ok || got != want {
			t.Errorf("MetricName(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "_", "___", "with space", "dash-name", "é"} {
		if got, ok := MetricName(name); ok {
			t.Errorf("MetricName(%q) = %q, want none", name, got)
		}
	}
}

// kernelNames returns every counter name this module knows of: those
// package counters documents (its table in known.go) and those of the
// /proc/net/netstat files recorded under testdata.
func kernelNames(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "counters", "known.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		if lit, ok := kv.Key.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, known := counters.Describe(name); !known {
				t.Fatalf("known.go: %q is not described", name)
			}
			add(name)
		}
		return false
	})
	known := len(names)
	files, err := filepath.Glob(filepath.Join("..", "counters", "testdata", "netstat-*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded netstat files: %v", err)
	}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := counters.Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, c := range cs {
			add(c.Name)
		}
	}
	// 6.18 alone has 76; fewer would mean the table was not read.
	if known < 76 {
		t.Fatalf("read %d names out of known.go, want 76 or more", known)
	}
	return names
}

// Every counter known gets a metric name Prometheus's lint accepts, of
// its own: no two kernel names collide.
func TestMetricNamesUnique(t *testing.T) {
	snake := regexp.MustCompile(`^mptcp_ext_[a-z0-9]+(_[a-z0-9]+)*$`)
	by := map[string]string{}
	for _, name := range kernelNames(t) {
		metric, ok := MetricName(name)
		if !ok {
			t.Errorf("%s: no metric name", name)
			continue
		}
		if !snake.MatchString(metric) {
			t.Errorf("%s: metric %s is not snake_case", name, metric)
		}
		if other, dup := by[metric]; dup {
			t.Errorf("%s and %s are both %s", other, name, metric)
		}
		by[metric] = name
	}
	t.Logf("%d kernel counters, each its own metric name", len(by))
}

// Whatever name a kernel invents, the metric name is snake_case and
// keeps the name's letters and digits in their order: two names give one
// metric only when they differ in case and underscores alone.
func FuzzMetricName(f *testing.F) {
	for _, s := range []string{"MPCapableSYNTX", "MPJoinSynAckHMacFailure", "MD5SigFallback", "a_B", "9Lives", "ABc"} {
		f.Add(s)
	}
	snake := regexp.MustCompile(`^mptcp_ext_[a-z0-9]+(_[a-z0-9]+)*$`)
	f.Fuzz(func(t *testing.T, name string) {
		metric, ok := MetricName(name)
		if !ok {
			if validName(name) && strings.Trim(name, "_") != "" {
				t.Fatalf("MetricName(%q) refused a valid name", name)
			}
			return
		}
		if !snake.MatchString(strings.TrimSuffix(metric, "_total")) {
			t.Fatalf("MetricName(%q) = %q, not snake_case", name, metric)
		}
		kept := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(metric, "mptcp_ext_"), "_total"), "_", "")
		if want := strings.ToLower(strings.ReplaceAll(name, "_", "")); kept != want {
			t.Fatalf("MetricName(%q) = %q: keeps %q, want %q", name, metric, kept, want)
		}
	})
}

// A kernel whose names collide in snake_case gets the first of them
// sent, and the scrape still succeeds; the help names the kernel's
// counter.
func TestSendCountersCollision(t *testing.T) {
	c := &Collector{}
	cs := counters.Counters{
		{Name: "DSSFallback", Value: 1},
		{Name: "DssFallback", Value: 2},
		{Name: "MPCurrEstab", Value: 3},
		{Name: "bad name", Value: 4},
	}
	ch := make(chan prometheus.Metric, len(cs))
	sendCounters(ch, cs, c.counterMetric)
	close(ch)
	got := map[string]*dto.Metric{}
	helps := map[string]string{}
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		desc := m.Desc().String()
		name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(desc)[1]
		if got[name] != nil {
			t.Errorf("%s sent twice", name)
		}
		got[name] = &pb
		helps[name] = regexp.MustCompile(`help: "([^"]+)"`).FindStringSubmatch(desc)[1]
	}
	if len(got) != 2 {
		t.Errorf("sent %d metrics, want 2: %v", len(got), got)
	}
	if m := got["mptcp_ext_dss_fallback_total"]; m == nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("mptcp_ext_dss_fallback_total = %v, want the counter of DSSFallback, 1", m)
	}
	if m := got["mptcp_ext_mp_curr_estab"]; m == nil || m.GetGauge().GetValue() != 3 {
		t.Errorf("mptcp_ext_mp_curr_estab = %v, want the gauge 3", m)
	}
	if h := helps["mptcp_ext_dss_fallback_total"]; !strings.HasPrefix(h, "MPTcpExtDSSFallback: ") {
		t.Errorf("help of an unknown counter: %q, want it to start with its kernel name", h)
	}
	if h := helps["mptcp_ext_mp_curr_estab"]; !strings.HasPrefix(h, "MPTcpExtMPCurrEstab: MPTCP connections") {
		t.Errorf("help of MPCurrEstab: %q", h)
	}
}

// docs/metrics.md lists every counter known, under the metric name the
// collector gives it, and no other.
func TestDocsListEveryCounter(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z0-9_]+)` \\| `(mptcp_ext_[a-z0-9_]+)` \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(text), -1) {
		if _, dup := documented[m[1]]; dup {
			t.Errorf("docs/metrics.md: %s listed twice", m[1])
		}
		documented[m[1]] = m[2]
	}
	names := kernelNames(t)
	for _, name := range names {
		want, _ := MetricName(name)
		switch got, ok := documented[name]; {
		case !ok:
			t.Errorf("docs/metrics.md: no row for %s (%s)", name, want)
		case got != want:
			t.Errorf("docs/metrics.md: %s is %s, but the collector sends %s", name, got, want)
		}
		delete(documented, name)
	}
	for name := range documented {
		t.Errorf("docs/metrics.md: %s is no counter known", name)
	}
}
