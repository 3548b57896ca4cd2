package main

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
)

// The same subflow reads the same in the package's table, in get's,
// why's, the demo's and serve's text (connReport) and in conns: one RTT
// format, the RETRANS column, and "subflow" for the kernel's subflow id
// where "addr id" is the path manager's address ids.
func TestSubflowsOneTableOneWord(t *testing.T) {
	sf := mptcp.Subflow{
		ID:     2,
		Local:  netip.MustParseAddrPort("10.0.2.2:40001"),
		Remote: netip.MustParseAddrPort("10.0.1.1:443"),
	}
	sf.TCP.UnmarshalBinary(make([]byte, 232)) // a tcp_info of the base size: conns prints its fields
	sf.TCP.State, sf.TCP.RTT, sf.TCP.SndCwnd = mptcp.StateEstablished, 48*time.Microsecond, 10
	sf.TCP.BytesSent, sf.TCP.BytesAcked, sf.TCP.BytesReceived, sf.TCP.TotalRetrans = 900, 800, 70000, 3

	r := connReport{Local: "10.0.1.2:40000", Remote: "10.0.1.1:443", MPTCP: true, Token: "0a0b0c0d"}
	r.setSubflows([]mptcp.Subflow{sf})
	var b strings.Builder
	r.writeText(&b)
	var want strings.Builder
	want.WriteString("connection 10.0.1.2:40000 -> 10.0.1.1:443: MPTCP, token 0a0b0c0d, 1 subflow\n")
	for line := range strings.Lines(mptcp.SubflowTable{sf}.String()) {
		want.WriteString("  " + line)
	}
	if b.String() != want.String() {
		t.Errorf("report's text:\n%s\nwant the package's table:\n%s", b.String(), want.String())
	}
	for _, s := range []string{"SUBFLOW", "RETRANS", " 48µs ", " 3\n"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report's text lacks %q:\n%s", s, b.String())
		}
	}

	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"subflow_id":2`, `"retrans":3`, `"rtt_ms":0.048`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("report's JSON lacks %s: %s", s, js)
		}
	}
	if strings.Contains(string(js), `"id"`) {
		t.Errorf("report's JSON has a bare \"id\": %s", js)
	}
	// The demo prints the server's report as it read it, from JSON.
	var back connReport
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	var fromJSON strings.Builder
	back.writeText(&fromJSON)
	if fromJSON.String() != want.String() {
		t.Errorf("report's text after JSON:\n%s\nwant:\n%s", fromJSON.String(), want.String())
	}

	c := diag.Connection{Local: sf.Local, Remote: sf.Remote, State: mptcp.StateEstablished,
		Subflows: []diag.Subflow{{Local: sf.Local, Remote: sf.Remote, LocalID: 1, RemoteID: 0, TCP: sf.TCP}}}
	b.Reset()
	sample{Connections: []connRecord{connJSON(&c, true)}}.writeText(&b)
	lines := strings.Split(b.String(), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "  addr id 1/0 ") ||
		!strings.Contains(lines[1], "rtt 48µs cwnd 10") || !strings.Contains(lines[1], "retrans 3") {
		t.Errorf("conns' subflow line, want addr id 1/0, rtt 48µs, retrans 3:\n%s", b.String())
	}
	js, err = json.Marshal(connJSON(&c, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"local_addr_id":1`, `"remote_addr_id":0`, `"retrans":3`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("conns' JSON lacks %s: %s", s, js)
		}
	}
}
