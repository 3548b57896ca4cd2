package mptcp

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testbed"
)

// The watch of a strict dial's connect, forced on this kernel as it runs
// on kernels without SOL_MPTCP: a refused port is reported at once as
// ECONNREFUSED, a listening one connects over MPTCP, from a LocalAddr
// too (the watch waits for package net to bind and connect), the Control
// hook runs once, and no descriptor stays open. (On 5.10, where the kernel reports no refusal,
// TestTestbedStrictDialSendsNoPlainSYN shows the watch finding it.)
func TestConnectWatch(t *testing.T) {
	requireMPTCP(t)
	prev := kernelLacksSOLMPTCP.Swap(2)
	defer kernelLacksSOLMPTCP.Store(prev)
	closed := listenPlainTCP(t, "tcp4")
	refused := closed.Addr().String()
	closed.Close()
	l := listenStd(t, "tcp4", true)
	accepted := acceptAll(l)
	before := testbed.OpenFDs(t)

	d := &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}
	start := time.Now()
	c, err := d.Dial("tcp4", refused)
	if c != nil {
		c.Close()
	}
	var oe *net.OpError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &oe) || errors.Is(err, ErrNotMPTCP) || time.Since(start) > 2*time.Second {
		t.Errorf("watched strict dial to a refused port: %v after %v, want ECONNREFUSED in an *net.OpError at once", err, time.Since(start))
	}

	for _, local := range []net.Addr{nil, &net.TCPAddr{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}} {
		hooked := 0
		d := &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second, LocalAddr: local,
			Control: func(string, string, syscall.RawConn) error { hooked++; return nil }}
		c, err := d.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Errorf("watched strict dial from %v to a listener: %v", local, err)
			continue
		}
		if hooked != 1 {
			t.Errorf("watched strict dial from %v: the Control hook ran %d times, want 1", local, hooked)
		}
		mustMultipath(t, "watched strict dial", c.(*MPTCPConn), true)
		s := <-accepted
		exchange(t, c, s, 1000)
		c.Close()
		s.Close()
	}
	testbed.WaitFDs(t, before)
}
