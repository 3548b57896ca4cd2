package mptcp

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MPTCPConn's methods on closed, zero and busy connections, and their
// allocations.

func TestClosedConnectionMethodsReturnErrClosed(t *testing.T) {
	requireMPTCP(t)
	mptcpClient, _ := mptcpPair(t, "tcp4")
	plain := listenPlainTCP(t, "tcp4")
	c, _ := dialAccept(t, &Dialer{}, "tcp4", plain)
	fallenBack := c.(*MPTCPConn)
	mustMultipath(t, "fallen back", fallenBack, false) // caches the "no"

	for _, tc := range []struct {
		name string
		c    *MPTCPConn
	}{{"mptcp", mptcpClient}, {"fallen back", fallenBack}} {
		if err := tc.c.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := tc.c.MultipathTCP()
		checkOpError(t, tc.name+": MultipathTCP", err, net.ErrClosed)
		_, err = tc.c.MPTCPInfo()
		checkOpError(t, tc.name+": MPTCPInfo", err, net.ErrClosed)
		_, err = tc.c.Subflows()
		checkOpError(t, tc.name+": Subflows", err, net.ErrClosed)
		_, err = tc.c.AppendSubflows(nil)
		checkOpError(t, tc.name+": AppendSubflows", err, net.ErrClosed)
		_, _, err = tc.c.Snapshot(nil)
		checkOpError(t, tc.name+": Snapshot", err, net.ErrClosed)
	}
}

func TestZeroValueConnReturnsErrors(t *testing.T) {
	var c MPTCPConn
	if _, err := c.MultipathTCP(); err == nil {
		t.Error("MultipathTCP on a zero MPTCPConn: nil error")
	}
	if _, err := c.Subflows(); err == nil {
		t.Error("Subflows on a zero MPTCPConn: nil error")
	}
	var nilConn *MPTCPConn
	if _, err := nilConn.MPTCPInfo(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("MPTCPInfo on a nil *MPTCPConn: %v, want EINVAL", err)
	}
}

func TestMethodsConcurrentWithCloseAndIO(t *testing.T) {
	requireMPTCP(t)
	for range 20 {
		client, server := mptcpPair(t, "tcp4")
		var wg sync.WaitGroup
		stop := make(chan struct{})
		go io.Copy(io.Discard, server)
		wg.Add(1)
		go func() { // writer, until the connection closes
			defer wg.Done()
			buf := make([]byte, 4096)
			for range 10000 {
				if _, err := client.Write(buf); err != nil {
					return
				}
			}
		}()
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dst := make([]Subflow, 0, 4)
				for range 200 {
					select {
					case <-stop:
						return
					default:
					}
					for _, err := range []error{
						func() error { _, err := client.MultipathTCP(); return err }(),
						func() error { _, err := client.MPTCPInfo(); return err }(),
						func() error { _, err := client.AppendSubflows(dst[:0]); return err }(),
					} {
						if err != nil && !errors.Is(err, net.ErrClosed) {
							t.Errorf("concurrent call: %v, want nil or net.ErrClosed", err)
						}
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		client.Close()
		close(stop)
		wg.Wait()
	}
}

// TestHotPathsDoNotAllocate runs under the race detector too: the paths
// reuse requests from a static set, not a sync.Pool (which drops objects
// at random under -race), and the detector's instrumentation allocates
// nothing on the heap, so the counts are the same with and without it.
func TestHotPathsDoNotAllocate(t *testing.T) {
	requireMPTCP(t)
	client, _ := mptcpPair(t, "tcp4")
	client.MultipathTCP() // the first call probes the kernel
	dst := make([]Subflow, 0, 8)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"MultipathTCP", func() { client.MultipathTCP() }},
		{"MPTCPInfo", func() { client.MPTCPInfo() }},
		{"AppendSubflows", func() { client.AppendSubflows(dst[:0]) }},
		{"Snapshot", func() { client.Snapshot(dst[:0]) }},
	} {
		if n := testing.AllocsPerRun(200, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, n)
		}
	}
}
