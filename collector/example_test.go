package collector_test

import (
	"bufio"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/multipath-go/mptcp/collector"
)

// A service exports the MPTCP state of its network namespace beside its
// other metrics, and a scrape reads it. The values are the host's; what
// holds on every host with MPTCP in its kernel, turned on or off, is
// that each part of the scrape succeeds.
func Example() {
	c, err := collector.New(nil) // this namespace; Config names another
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	// A service would serve it: http.Handle("/metrics", promhttp.HandlerFor(reg, ...)).
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "mptcp_scrape_collector_success") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// mptcp_scrape_collector_success{collector="connections"} 1
	// mptcp_scrape_collector_success{collector="counters"} 1
	// mptcp_scrape_collector_success{collector="pm"} 1
	// mptcp_scrape_collector_success{collector="sysctl"} 1
}

// A service exports the MPTCP state of its own network namespace, and of
// another one under a label of its own, beside its other metrics.
func Example_namespaces() {
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
