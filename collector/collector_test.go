package collector_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multipath-go/mptcp/collector"
)

// New refuses what names no network namespace, before any scrape.
func TestNewRefusesBadConfig(t *testing.T) {
	notNS := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notNS, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	for _, tc := range []struct {
		name string
		cfg  collector.Config
		want error
	}{
		{"missing path", collector.Config{NetNS: "/nonexistent/netns"}, os.ErrNotExist},
		{"negative fd", collector.Config{NetNSFD: -1}, os.ErrInvalid},
		{"regular file", collector.Config{NetNS: notNS}, os.ErrInvalid},
		{"fd of no namespace", collector.Config{NetNSFD: int(devNull.Fd())}, os.ErrInvalid},
		{"another kind of namespace", collector.Config{NetNS: "/proc/self/ns/uts"}, os.ErrInvalid},
	} {
		c, err := collector.New(&tc.cfg)
		var oe *net.OpError
		if !errors.Is(err, tc.want) && !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &oe) || oe.Op != "new" {
			t.Errorf("%s: New = %v, %v; want an *net.OpError for new matching %v", tc.name, c, err, tc.want)
		}
	}
}

// A closed Collector reports every part failed, and sends nothing else;
// Close twice is an error.
func TestCollectAfterClose(t *testing.T) {
	c, err := collector.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	s := gather(t, register(t, c))
	s.wantSuccess(t, "closed", 0)
	if len(s) != 2 {
		t.Errorf("closed: families %s, want only the scrape's success and duration", s.names())
	}
	if err := c.Close(); !isClosed(err) {
		t.Errorf("second Close: %v, want an *net.OpError matching net.ErrClosed", err)
	}
}

// A nil *Collector does not panic: it reports every part failed.
func TestNilCollector(t *testing.T) {
	var c *collector.Collector
	descs := make(chan *prometheus.Desc, 10)
	c.Describe(descs)
	if len(descs) != 0 {
		t.Errorf("Describe sent %d descriptors", len(descs))
	}
	s := gather(t, register(t, c))
	s.wantSuccess(t, "nil", 0)
	if err := c.Close(); !isClosed(err) {
		t.Errorf("Close: %v, want an *net.OpError matching net.ErrClosed", err)
	}
}

// Two scrapes at once, under the race detector: each reads the
// namespace on its own, and both get consistent answers.
func TestConcurrentGathers(t *testing.T) {
	reg := register(t, newCollector(t, nil))
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			for range 5 {
				if _, err := reg.Gather(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// isClosed reports whether err is the Collector's error for a closed one:
// an *net.OpError matching net.ErrClosed, as package net's.
func isClosed(err error) bool {
	var oe *net.OpError
	return errors.Is(err, net.ErrClosed) && errors.As(err, &oe) && oe.Op == "close"
}
