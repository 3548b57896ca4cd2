package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// The exporter, run in the host's namespace with --netns naming a test
// bed's client namespace, gives a real Prometheus the numbers of that
// namespace: N MPTCP connections with two subflows each and M that fell
// back to TCP, the handshake counters they moved, the endpoint, and the
// shipped recording rules computed over them, and every query of the
// Grafana dashboard gives data.
func TestPrometheus(t *testing.T) {
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.SkipOrFail(t, "no prometheus server (Debian package prometheus): %v", err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.SkipOrFail(t, "no promtool (Debian package prometheus): %v", err)
	}
	const (
		n = 3 // MPTCP connections, two subflows each
		m = 2 // connections that fall back to TCP
	)
	bed := testbed.New(t, 2)
	bed.Endpoint(bed.Client, bed.Links[1].Client, "subflow")

	exp := startExporter(t, "--netns", bed.Client.Path())
	prom := startPrometheus(t, prometheus, exp.addr)

	// Before any connection, a first scrape, so that the counters'
	// increases start from the namespace's zeros.
	prom.wait(t, "mptcp_ext_mp_capable_syntx_total", 0)
	prom.wait(t, "up", 1)

	ln := mptcptest.Listen(t, bed, "tcp", bed.Links[0].Server)
	for range n {
		c, _ := mptcptest.Connect(t, bed, nil, ln)
		mptcptest.WaitSubflows(t, c, 2)
	}
	fallBack(t, bed, m)

	for _, w := range []struct {
		query string
		want  float64
	}{
		{`mptcp_connections{state="established"}`, n + m},
		{`mptcp_connections{state="listen"}`, 0}, // the listeners are in the server's namespace
		{`mptcp_connections_fallback`, m},
		{`mptcp_connection_subflows_count`, n},
		{`mptcp_connection_subflows_bucket{le="1"}`, 0},
		{`mptcp_connection_subflows_bucket{le="2"}`, n},
		{`mptcp_connection_subflows_bucket{le="+Inf"}`, n},
		{`mptcp_connection_subflows_sum`, 2 * n},
		// The kernel counts a client that fell back among its
		// established MPTCP sockets, as the listing does.
		{`mptcp_ext_mp_curr_estab`, n + m},
		{`max_over_time(mptcp_ext_mp_capable_syntx_total[5m]) - min_over_time(mptcp_ext_mp_capable_syntx_total[5m])`, n + m},
		{`max_over_time(mptcp_ext_mp_capable_fallback_synack_total[5m]) - min_over_time(mptcp_ext_mp_capable_fallback_synack_total[5m])`, m},
		{`increase(mptcp_ext_mp_capable_syntx_total[5m]) >= bool ` + strconv.Itoa(n+m), 1},
		{`increase(mptcp_ext_mp_capable_fallback_synack_total[5m]) >= bool ` + strconv.Itoa(m), 1},
		{`mptcp_endpoints`, 1},
		{`mptcp_endpoints_flag{flag="subflow"}`, 1},
		{`mptcp_enabled`, 1},
		{`min(mptcp_scrape_collector_success)`, 1},
		// The recording rules of rules/mptcp.rules.yml: the client's
		// fallbacks over its handshakes, no join failures, and no
		// established connection stuck at one subflow.
		{`mptcp:client_fallback_ratio:rate5m`, float64(m) / (n + m)},
		{`mptcp:fallback_ratio:rate5m`, float64(m) / (n + m)},
		{`mptcp:join_failure_ratio:rate5m`, 0},
		{`mptcp:connections_one_subflow:ratio`, 0},
	} {
		prom.wait(t, w.query, w.want)
	}

	// The Grafana dashboard's queries, over the same numbers.
	checkDashboard(t, prom, "mptcp", exp.addr)
	// The rules name what the exporter sends.
	_, known := exporterMetrics(t, exp.addr)
	checkRuleNames(t, known)

	if d, err := prom.query(`scrape_duration_seconds{job="mptcp"}`); err == nil {
		t.Logf("scrape_duration_seconds: %.4f s", d)
	}

	// The exporter's own output, its process_, go_ and build_info metrics
	// included, passes promtool's lint without a word.
	resp, err := http.Get("http://" + exp.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// fallBack makes m connections from the bed's client namespace, by
// package mptcp's Dialer, to a plain TCP listener in the server's: each
// falls back to TCP on the client side. They are closed when the test
// ends.
func fallBack(t *testing.T, bed *testbed.Bed, m int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln := bed.Server.Listen(func() (net.Listener, error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false) // Go listeners use MPTCP by default
		return lc.Listen(ctx, "tcp", netip.AddrPortFrom(bed.Links[0].Server, 0).String())
	})
	dial := bed.Client.Dialer((&mptcp.Dialer{}).DialContext)
	for range m {
		c, err := dial(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
}

// promServer is a running Prometheus server.
type promServer struct {
	base string // http://127.0.0.1:PORT
}

// startPrometheus runs a Prometheus server that scrapes the exporter at
// addr every second and evaluates the shipped rules every second, on a
// free port of 127.0.0.1 and a storage directory of the test's; it
// waits up to 30 s for it to be ready and stops it when the test ends.
func startPrometheus(t *testing.T, bin, addr string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(filepath.Join("rules", "mptcp.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: mptcp
    static_configs:
      - targets: ['%s']
`, rules, addr)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// A port that was free a moment ago: Prometheus does not log the
	// port it got for :0.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()

	var log bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus's log:\n%s", log.String())
		}
	})
	p := &promServer{base: "http://" + listen}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// query runs an instant query that must give one series, and returns its
// value.
func (p *promServer) query(q string) (float64, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", r.Status, r.Error)
	}
	if len(r.Data.Result) != 1 {
		return 0, fmt.Errorf("%d series, want 1: %v", len(r.Data.Result), r.Data.Result)
	}
	s, ok := r.Data.Result[0].Value[1].(string)
	if !ok {
		return 0, fmt.Errorf("value %v is not a string", r.Data.Result[0].Value)
	}
	return strconv.ParseFloat(s, 64)
}

// wait polls query q up to 30 s, until it gives one series of value
// want, and fails the test if it never does.
func (p *promServer) wait(t *testing.T, q string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := p.query(q)
		if err == nil && math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("%s: %v after 30 s, want %v", q, err, want)
			}
			t.Fatalf("%s = %v after 30 s, want %v", q, got, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
