package counters_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/collector"
	"github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// Packages counters and collector read whatever kernel runs them: this
// test runs on every kernel of the kernel matrix (5.10 with and without
// MPTCP, 6.1, 6.12), where the fleet's older hosts are, and on the
// host. The host's namespace is shared with other test processes, so
// counts are checked as lower bounds.
func TestCountersAndCollectorOnThisKernel(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c, err := collector.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg.MustRegister(c)

	l, err := mptcp.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ok, _ := l.(*mptcp.Listener).MultipathTCP(); !ok {
		if _, err := counters.Read(nil); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("counters on a kernel without MPTCP: %v, want errors.ErrUnsupported", err)
		}
		m := gatherValues(t, reg)
		for _, part := range []string{"counters", "connections"} {
			if v := m[`mptcp_scrape_collector_success{collector="`+part+`"}`]; v != 0 {
				t.Errorf("collector part %s succeeded on a kernel without MPTCP", part)
			}
		}
		if v, ok := m["mptcp_enabled"]; !ok || v != 0 {
			t.Errorf("mptcp_enabled = %v, %v on a kernel without MPTCP, want 0", v, ok)
		}
		testenv.SkipOrFail(t, "this kernel makes no MPTCP listening sockets")
	}

	before, err := counters.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	d := mptcp.Dialer{Timeout: 5 * time.Second}
	client, err := d.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var server net.Conn
	select {
	case server = <-accepted:
		defer server.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("accept timed out")
	}
	testbed.PingPong(t, client, server)
	after, err := counters.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	delta := after.Sub(before)
	// Counters every kernel with MPTCP has (5.6 and later): the server
	// end of this connection counts its SYN and third ACK.
	for _, name := range []string{"MPCapableSYNRX", "MPCapableACKRX"} {
		if v, ok := delta.Get(name); !ok || v < 1 {
			t.Errorf("%s changed by %d (present: %v), want 1 or more", name, v, ok)
		}
	}
	// The client's SYN, where the kernel counts it.
	if v, ok := delta.Get("MPCapableSYNTX"); ok && v < 1 {
		t.Errorf("MPCapableSYNTX changed by %d, want 1 or more", v)
	}

	m := gatherValues(t, reg)
	for _, part := range []string{"counters", "connections", "pm", "sysctl"} {
		if v := m[`mptcp_scrape_collector_success{collector="`+part+`"}`]; v != 1 {
			t.Errorf("collector part %s failed on this kernel", part)
		}
	}
	for name, least := range map[string]float64{
		`mptcp_connections{state="established"}`: 2, // both ends
		"mptcp_connection_subflows_count":        2,
		"mptcp_ext_mp_capable_synrx_total":       1,
		"mptcp_enabled":                          1,
	} {
		if v, ok := m[name]; !ok || v < least {
			t.Errorf("%s = %v (present: %v), want %v or more", name, v, ok, least)
		}
	}
}

// gatherValues gathers reg and returns each sample's value by its name
// and labels, as name{label="value",...}, histograms by their _count and
// _sum.
func gatherValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]float64)
	for _, f := range fams {
		for _, x := range f.GetMetric() {
			key := f.GetName()
			if lp := x.GetLabel(); len(lp) > 0 {
				key += "{"
				for i, l := range lp {
					if i > 0 {
						key += ","
					}
					key += l.GetName() + `="` + l.GetValue() + `"`
				}
				key += "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				m[key] = x.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				m[key] = x.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				m[key+"_count"] = float64(x.GetHistogram().GetSampleCount())
				m[key+"_sum"] = x.GetHistogram().GetSampleSum()
			}
		}
	}
	return m
}
