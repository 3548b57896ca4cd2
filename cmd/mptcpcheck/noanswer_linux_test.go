package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// A fetch whose connection gets no answer fails as a timeout (status 1,
// "cannot fetch"), whichever deadline passes first: get's -timeout, its
// dialer's or its caller's. It never says "interrupted", which only a
// cancellation (Ctrl-C) is. Then one plain TCP connection to the same
// address says why: no answer either, a refusal (what a closed port
// looks like on a kernel that never reports a refused MPTCP connection,
// such as 5.10), or a server that answers plain TCP only.
func TestGetNoAnswerIsATimeout(t *testing.T) {
	b := testbed.New(t, 1)
	testbed.Require(t, "iptables")
	// Port 81: every SYN dropped. Port 82: MPTCP SYNs dropped, and
	// nothing listens. Port 83: MPTCP SYNs dropped, a listener.
	b.Server.Run("iptables", "-A", "INPUT", "-p", "tcp", "--syn", "--dport", "81", "-j", "DROP")
	for _, port := range []string{"82", "83"} {
		b.Server.Run("iptables", "-A", "INPUT", "-p", "tcp", "--syn", "--dport", port, "-m", "tcp", "--tcp-option", "30", "-j", "DROP")
	}
	b.Server.Listen(func() (net.Listener, error) { return net.Listen("tcp", ":83") })
	plain := &mptcp.Dialer{}
	plain.SetMultipathTCP(false)
	probe := b.Client.Dialer(plain.DialContext)

	// The timeouts stay under 3 s: from 6.12 the kernel itself retries
	// an unanswered MPTCP SYN as a plain one after 2 retransmissions
	// (3 s), which the test does not want here.
	const short = 2 * time.Second
	for _, tc := range []struct {
		name                           string
		port                           int
		timeout, dialTimeout, deadline time.Duration // deadline: the caller's; 0 for none
		want                           []string
	}{
		{"own timeout", 81, short, time.Minute, 0,
			[]string{"(-timeout 2s passed)", "nor did a plain TCP one within 2s"}},
		{"dialer's timeout", 81, time.Minute, short, 0,
			[]string{"i/o timeout", "nor did a plain TCP one within 2s"}},
		{"caller's deadline", 81, time.Minute, time.Minute, short,
			[]string{"nor did a plain TCP one within 2s"}},
		{"refused over plain TCP", 82, time.Minute, short, 0,
			[]string{"i/o timeout", "but a plain TCP one was refused (connect: connection refused): nothing listens there"}},
		{"plain TCP only", 83, time.Minute, short, 0,
			[]string{"i/o timeout", "but a plain TCP one was accepted: the server or something on the path drops MPTCP SYNs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			address := netip.AddrPortFrom(b.Links[0].Server, uint16(tc.port))
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := get(ctx, getOptions{
				url:     fmt.Sprintf("http://%v/", address),
				timeout: tc.timeout,
				dial:    b.Client.Dialer((&mptcp.Dialer{Timeout: tc.dialTimeout}).DialContext),
				probe:   probe,
			}, &stdout, &stderr)
			took := time.Since(start)
			errs := stderr.String()
			t.Logf("after %v: %s", took.Round(time.Millisecond), errs)
			if code != exitFail || !strings.Contains(errs, "cannot fetch http://"+address.String()+"/: ") || strings.Contains(errs, "interrupted") {
				t.Errorf("status %d, stderr %q; want status %d and cannot fetch, not interrupted", code, errs, exitFail)
			}
			for _, want := range tc.want {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr %q lacks %q", errs, want)
				}
			}
			// The first deadline, then the plain TCP connection's.
			if limit := short + probeTimeout + 5*time.Second; took > limit {
				t.Errorf("took %v, want at most %v", took.Round(time.Millisecond), limit)
			}
		})
	}

	// A cancellation is an interrupt, and stops get at once: no plain
	// TCP connection follows it.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := get(ctx, getOptions{
		url:     fmt.Sprintf("http://%v/", netip.AddrPortFrom(b.Links[0].Server, 81)),
		timeout: time.Minute,
		dial:    b.Client.Dialer((&mptcp.Dialer{Timeout: time.Minute}).DialContext),
		probe:   probe,
	}, &stdout, &stderr)
	if took := time.Since(start); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted before the answer") || took > 5*time.Second {
		t.Errorf("interrupted during the dial: status %d after %v, stderr %q; want status %d at once", code, took.Round(time.Millisecond), stderr.String(), exitInterrupted)
	}
}
