package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// blockingCollector holds every scrape in Collect until release is
// closed, and says on entered when one comes in.
type blockingCollector struct {
	entered chan struct{}
	release chan struct{}
}

func (c *blockingCollector) Describe(chan<- *prometheus.Desc) {}

func (c *blockingCollector) Collect(chan<- prometheus.Metric) {
	c.entered <- struct{}{}
	<-c.release
}

// At most maxInFlight scrapes run at once, as the documentation says: a
// scrape beyond them gets 503 at once, instead of queueing behind slow
// ones, and those in flight complete.
func TestScrapesInFlightLimit(t *testing.T) {
	bc := &blockingCollector{entered: make(chan struct{}, maxInFlight+1), release: make(chan struct{})}
	h, err := newHandler(&options{telemetryPath: "/metrics"}, bc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	released := false
	release := func() {
		if !released {
			released = true
			close(bc.release)
		}
	}
	defer release()

	get := func() (int, error) {
		// The scrapes in flight wait for release; the one beyond them
		// must not: it fails in 10 s if it queues.
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Get(srv.URL + "/metrics")
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var wg sync.WaitGroup
	codes := make(chan int, maxInFlight)
	for range maxInFlight {
		wg.Go(func() {
			code, err := get()
			if err != nil {
				t.Error(err)
			}
			codes <- code
		})
	}
	for i := range maxInFlight {
		select {
		case <-bc.entered:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d scrapes reached the collector", i, maxInFlight)
		}
	}
	if code, err := get(); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("scrape %d while %d are in flight: %d, %v; want 503", maxInFlight+1, maxInFlight, code, err)
	}
	release()
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("a scrape in flight got %d, want 200", code)
		}
	}
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Errorf("a scrape after the others: %d, %v; want 200", code, err)
	}
}
