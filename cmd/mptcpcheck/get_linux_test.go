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
	var sum uint64
	for _, s := range rep.Connection.Subflows {
		sum += s.BytesReceived
	}
	// The subflows also carried the response header, a few hundred bytes,
	// and MPTCP may reinject data on a second subflow, which then counts
	// twice: allow 2%.
	if sum < size || sum > size+size/50+4096 {
		t.Errorf("subflows received %d bytes in all for a %d-byte body", sum, size)
	}
	t.Logf("per subflow: %d and %d bytes", rep.Connection.Subflows[0].BytesReceived, rep.Connection.Subflows[1].BytesReceived)
}
