package main

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/multipath-go/mptcp"
)

// connReport is what mptcpcheck says about one connection, as text or
// JSON.
type connReport struct {
	Local    string          `json:"local"`
	Remote   string          `json:"remote"`
	MPTCP    bool            `json:"mptcp"`
	Token    string          `json:"token,omitempty"`    // this side's token, hexadecimal
	Error    string          `json:"error,omitempty"`    // why there is no MPTCP state
	Subflows []subflowReport `json:"subflows,omitempty"` // as this side sees them
}

// subflowReport is one subflow, with the columns of mptcp.SubflowTable.
type subflowReport struct {
	// SubflowID is the kernel's id of the subflow within its
	// connection (1 for the first), not an address id.
	SubflowID     uint32  `json:"subflow_id"`
	Local         string  `json:"local"`
	Remote        string  `json:"remote"`
	State         string  `json:"state"`
	RTTMillis     float64 `json:"rtt_ms"`
	Cwnd          uint32  `json:"cwnd"`
	BytesSent     uint64  `json:"bytes_sent"`
	BytesAcked    uint64  `json:"bytes_acked"`
	BytesReceived uint64  `json:"bytes_received"`
	Retrans       uint32  `json:"retrans"` // segments retransmitted over the subflow's life
}

// describe reads a connection's MPTCP state through the package's API.
func describe(c *mptcp.MPTCPConn) connReport {
	r := connReport{Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String()}
	ok, err := c.MultipathTCP()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.MPTCP = ok
	if !ok {
		r.Error = "the connection is not using MPTCP: plain TCP, or a fallback"
		return r
	}
	info, subs, err := c.Snapshot(nil)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Token = fmt.Sprintf("%08x", info.Token)
	r.setSubflows(subs)
	return r
}

// setSubflows sets the report's subflows.
func (r *connReport) setSubflows(subs []mptcp.Subflow) {
	r.Subflows = r.Subflows[:0]
	for _, s := range subs {
		r.Subflows = append(r.Subflows, subflowReport{
			SubflowID:     s.ID,
			Local:         addrString(s.Local),
			Remote:        addrString(s.Remote),
			State:         s.TCP.State.String(),
			RTTMillis:     float64(s.TCP.RTT.Microseconds()) / 1000,
			Cwnd:          s.TCP.SndCwnd,
			BytesSent:     s.TCP.BytesSent,
			BytesAcked:    s.TCP.BytesAcked,
			BytesReceived: s.TCP.BytesReceived,
			Retrans:       s.TCP.TotalRetrans,
		})
	}
}

// subflow turns the report back into the package's type, for its
// table: a report can come from JSON (the demo reads the server's).
func (s subflowReport) subflow() mptcp.Subflow {
	sf := mptcp.Subflow{ID: s.SubflowID}
	sf.Local, _ = netip.ParseAddrPort(s.Local)
	sf.Remote, _ = netip.ParseAddrPort(s.Remote)
	for st := range mptcp.TCPState(14) {
		if st.String() == s.State {
			sf.TCP.State = st
		}
	}
	sf.TCP.RTT = time.Duration(math.Round(s.RTTMillis*1000)) * time.Microsecond
	sf.TCP.SndCwnd, sf.TCP.TotalRetrans = s.Cwnd, s.Retrans
	sf.TCP.BytesSent, sf.TCP.BytesAcked, sf.TCP.BytesReceived = s.BytesSent, s.BytesAcked, s.BytesReceived
	return sf
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

// writeText prints the report for a terminal or curl.
func (r connReport) writeText(w io.Writer) {
	switch {
	case r.MPTCP && r.Error == "":
		fmt.Fprintf(w, "connection %s -> %s: MPTCP, token %s, %s\n", r.Local, r.Remote, r.Token, plural(len(r.Subflows), "subflow"))
		table := make(mptcp.SubflowTable, len(r.Subflows))
		for i, s := range r.Subflows {
			table[i] = s.subflow()
		}
		for line := range strings.Lines(table.String()) {
			io.WriteString(w, "  "+line)
		}
	case r.MPTCP:
		fmt.Fprintf(w, "connection %s -> %s: MPTCP, no details (%s)\n", r.Local, r.Remote, r.Error)
	default:
		fmt.Fprintf(w, "connection %s -> %s: not MPTCP (%s)\n", r.Local, r.Remote, r.Error)
	}
}
