package collector_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/multipath-go/mptcp/collector"
)

// register returns a pedantic registry holding c alone: it checks every
// scrape's metrics for consistency (names, types, labels, help) and
// refuses duplicates.
func register(t *testing.T, c *collector.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	return reg
}

// newCollector makes a Collector of cfg, closed when the test ends.
func newCollector(t *testing.T, cfg *collector.Config) *collector.Collector {
	t.Helper()
	c, err := collector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// scrape is one Gather, by metric name.
type scrape map[string]*dto.MetricFamily

func gather(t *testing.T, reg prometheus.Gatherer) scrape {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	s := scrape{}
	for _, mf := range mfs {
		s[mf.GetName()] = mf
	}
	return s
}

// metric returns the series of name whose labels are labels ("k", "v",
// ...), or nil.
func (s scrape) metric(name string, labels ...string) *dto.Metric {
	mf := s[name]
	if mf == nil {
		return nil
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		ok := true
		for i, l := range m.GetLabel() {
			// The registry sorts labels by name; the tests name one at most.
			if l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// value returns the value of a gauge or counter series, and whether it
// is there.
func (s scrape) value(name string, labels ...string) (float64, bool) {
	m := s.metric(name, labels...)
	switch {
	case m == nil:
		return 0, false
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	}
	return 0, false
}

// want checks the value of a series.
func (s scrape) want(t *testing.T, where string, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.value(name, labels...)
	switch {
	case !ok:
		t.Errorf("%s: no %s%v", where, name, labels)
	case got != v:
		t.Errorf("%s: %s%v = %v, want %v", where, name, labels, got, v)
	}
}

// typeOf returns the type of the family name, or -1 when absent.
func (s scrape) typeOf(name string) dto.MetricType {
	if mf := s[name]; mf != nil {
		return mf.GetType()
	}
	return -1
}

// names lists the families of the scrape, for messages.
func (s scrape) names() string {
	var n []string
	for k := range s {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, " ")
}

// parts are the values of the label collector.
var parts = []string{"counters", "connections", "pm", "sysctl"}

// wantSuccess checks mptcp_scrape_collector_success of every part, and
// that each part has a duration.
func (s scrape) wantSuccess(t *testing.T, where string, v float64) {
	t.Helper()
	for _, p := range parts {
		s.want(t, where, v, "mptcp_scrape_collector_success", "collector", p)
		if d, ok := s.value("mptcp_scrape_collector_duration_seconds", "collector", p); !ok || d < 0 {
			t.Errorf("%s: duration of %s: %v, %v", where, p, d, ok)
		}
	}
}
