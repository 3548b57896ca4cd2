package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// get fetches from serve over two paths of the test bed: the report
// lists both subflows, and their received bytes add up to the body.
func TestGetOverTwoPaths(t *testing.T) {
	b := testbed.New(t, 2)
	for i := range b.Links {
		b.Shape(i, "tbf rate 20mbit burst 32kbit latency 50ms")
	}
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	ln := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", ":0") })
	startServeOn(t, ln, "", "")
	port := ln.Addr().(*net.TCPAddr).Port

	const size = 8 << 20
	url := fmt.Sprintf("http://%v/download?size=%d", netip.AddrPortFrom(b.Links[0].Server, uint16(port)), size)
	var stdout, stderr bytes.Buffer
	code := get(context.Background(), getOptions{
		url:     url,
		json:    true,
		timeout: 60 * time.Second,
		dial:    b.Client.Dialer((&mptcp.Dialer{Timeout: 10 * time.Second}).DialContext),
	}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("get: status %d: %s", code, stderr.String())
	}
	var rep getReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Bytes != size || !rep.Connection.MPTCP || len(rep.Connection.Subflows) != 2 {
		t.Fatalf("report: %d bytes, MPTCP %v, %d subflows; want %d bytes over 2 subflows\n%s",
			rep.Bytes, rep.Connection.MPTCP, len(rep.Connection.Subflows), size, stdout.String())
	}
	// Every byte of the body arrived over one subflow or the other, so
	// the subflows' received bytes add up to at least the body (plus the
	// response header, a few hundred bytes). They may add up to more:
	// MPTCP reinjects data that a subflow holds up onto the other one,
	// which then counts it too. That has been measured at 0-3% of the
	// body, more on a loaded machine; the bound of a quarter is there to
	// catch a subflow reported twice or a wrong field, which would show as
	// twice the body.
	var sum uint64
	locals := map[string]bool{}
	for _, s := range rep.Connection.Subflows {
		sum += s.BytesReceived
		locals[s.Local] = true
		// Both links run at the same rate: each subflow carries about
		// half, and never close to nothing.
		if s.BytesReceived < size/10 {
			t.Errorf("subflow %s -> %s received %d bytes of a %d-byte body: the path was hardly used", s.Local, s.Remote, s.BytesReceived, size)
		}
	}
	if len(locals) != 2 {
		t.Errorf("the two subflows share a local address: %v", locals)
	}
	if sum < size || sum > size+size/4 {
		t.Errorf("subflows received %d bytes in all for a %d-byte body", sum, size)
	}
	t.Logf("per subflow: %d and %d bytes; %d beyond the body", rep.Connection.Subflows[0].BytesReceived, rep.Connection.Subflows[1].BytesReceived, int64(sum)-size)
}
