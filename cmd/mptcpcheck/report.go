package main

import (
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

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

type subflowReport struct {
	ID            uint32  `json:"id"`
	Local         string  `json:"local"`
	Remote        string  `json:"remote"`
	State         string  `json:"state"`
	RTTMillis     float64 `json:"rtt_ms"`
	Cwnd          uint32  `json:"cwnd"`
	BytesSent     uint64  `json:"bytes_sent"`
	BytesAcked    uint64  `json:"bytes_acked"`
	BytesReceived uint64  `json:"bytes_received"`
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
	for _, s := range subs {
		r.Subflows = append(r.Subflows, subflowReport{
			ID:            s.ID,
			Local:         addrString(s.Local),
			Remote:        addrString(s.Remote),
			State:         s.TCP.State.String(),
			RTTMillis:     float64(s.TCP.RTT.Microseconds()) / 1000,
			Cwnd:          s.TCP.SndCwnd,
			BytesSent:     s.TCP.BytesSent,
			BytesAcked:    s.TCP.BytesAcked,
			BytesReceived: s.TCP.BytesReceived,
		})
	}
	return r
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
		fmt.Fprintf(w, "connection %s -> %s: MPTCP, token %s, %d subflow(s)\n", r.Local, r.Remote, r.Token, len(r.Subflows))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tLOCAL\tREMOTE\tSTATE\tRTT\tCWND\tSENT\tACKED\tRECEIVED")
		for _, s := range r.Subflows {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%.3fms\t%d\t%d\t%d\t%d\n",
				s.ID, s.Local, s.Remote, s.State, s.RTTMillis, s.Cwnd, s.BytesSent, s.BytesAcked, s.BytesReceived)
		}
		tw.Flush()
	case r.MPTCP:
		fmt.Fprintf(w, "connection %s -> %s: MPTCP, no details (%s)\n", r.Local, r.Remote, r.Error)
	default:
		fmt.Fprintf(w, "connection %s -> %s: not MPTCP (%s)\n", r.Local, r.Remote, r.Error)
	}
}
