package collector_test

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/multipath-go/mptcp/collector"
	"github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// Every counter that a cause of why's table rests on (docs/causes.md) is
// exported, as a counter, where the running kernel has it, so that the
// rules can alert on it; one the kernel lacks is not made up.
func TestCollectCauseCounters(t *testing.T) {
	have, err := counters.Read(nil)
	if err != nil {
		testenv.SkipOrFail(t, "no MPTcpExt counters to read: %v", err)
	}
	s := gather(t, register(t, newCollector(t, nil)))
	checked := 0
	for _, c := range explain.Causes() {
		for _, name := range c.Counters {
			metric, valid := collector.MetricName(name)
			if !valid {
				t.Fatalf("%s: no valid metric name (%q)", name, metric)
			}
			_, ok := have.Get(name)
			switch {
			case !ok && s[metric] != nil:
				t.Errorf("%s: exported as %s, but the kernel has no such counter", name, metric)
			case !ok:
				t.Logf("%s (cause %s): not on this kernel", name, c.Code)
			case s.typeOf(metric) != dto.MetricType_COUNTER:
				t.Errorf("%s (cause %s): %s is not exported as a counter; exported: %s", name, c.Code, metric, s.names())
			default:
				checked++
			}
		}
	}
	if checked == 0 {
		t.Error("no counter of a cause on this kernel")
	}
}
