package mptcp_test

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/multipath-go/mptcp"
)

// Subflows in logs: an aligned table for terminals, a group for
// log/slog. Here two subflows of a connection over two paths are written
// out, so that the output does not depend on the host; a program passes
// what MPTCPConn.Subflows returned.
func ExampleSubflowTable() {
	subflows := []mptcp.Subflow{
		{ID: 1, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.1.1:443"),
			TCP: mptcp.TCPInfo{State: mptcp.StateEstablished, RTT: 1200 * time.Microsecond, SndCwnd: 10, BytesAcked: 5000, BytesSent: 5000, BytesReceived: 90000}},
		{ID: 2, Local: netip.MustParseAddrPort("10.0.2.2:40001"), Remote: netip.MustParseAddrPort("10.0.1.1:443"),
			TCP: mptcp.TCPInfo{State: mptcp.StateEstablished, RTT: 25 * time.Millisecond, SndCwnd: 12, BytesAcked: 800, BytesSent: 900, BytesReceived: 70000, TotalRetrans: 1}},
	}
	fmt.Print(mptcp.SubflowTable(subflows))

	// Without the time, so that the output is fixed.
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	logger.Info("connection", "subflows", mptcp.SubflowTable(subflows[1:]))
	// Output:
	// SUBFLOW  LOCAL           REMOTE        STATE        RTT    CWND  SENT  ACKED  RECEIVED  RETRANS
	// 1        10.0.1.2:40000  10.0.1.1:443  ESTABLISHED  1.2ms  10    5000  5000   90000     0
	// 2        10.0.2.2:40001  10.0.1.1:443  ESTABLISHED  25ms   12    900   800    70000     1
	// level=INFO msg=connection subflows.0.id=2 subflows.0.local=10.0.2.2:40001 subflows.0.remote=10.0.1.1:443 subflows.0.state=ESTABLISHED subflows.0.rtt=25ms subflows.0.cwnd=12 subflows.0.bytes_sent=900 subflows.0.bytes_acked=800 subflows.0.bytes_received=70000 subflows.0.retrans=1
}
