package collector_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/multipath-go/mptcp/collector"
)

// A service exports the MPTCP state of its own network namespace, and of
// another one under a label of its own, beside its other metrics.
func Example() {
	own, err := collector.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer own.Close()
	other, err := collector.New(&collector.Config{NetNS: "/run/netns/blue"})
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(own)
	// The same names from two namespaces: a label tells them apart.
	prometheus.WrapRegistererWith(prometheus.Labels{"netns": "blue"}, reg).MustRegister(other)

	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("localhost:9100", nil))
}
