package mptcp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multipath-go/mptcp/internal/flagfmt"
)

// Info is the connection-level state of an MPTCP connection, decoded from
// the kernel's struct mptcp_info. Fields the running kernel does not
// provide are zero; [Info.Has] tells them apart from a real zero.
type Info struct {
	// Subflows counts the additional subflows, not the first one.
	Subflows uint8
	// SubflowsTotal counts every subflow, the first included (6.8+).
	SubflowsTotal uint8
	// SubflowsMax is the limit of additional subflows.
	SubflowsMax uint8

	AddAddrSignal      uint8 // addresses announced to the peer (ADD_ADDR sent)
	AddAddrAccepted    uint8 // addresses announced by the peer and accepted
	AddAddrSignalMax   uint8 // limit of addresses announced
	AddAddrAcceptedMax uint8 // limit of peer addresses accepted

	Flags InfoFlags
	// Token is this side's connection token: the path manager and its
	// events name the connection with it.
	Token uint32

	WriteSeq uint64 // MPTCP-level sequence number of the next byte written
	SndUna   uint64 // MPTCP-level sequence number of the oldest unacknowledged byte
	RcvNxt   uint64 // MPTCP-level sequence number of the next byte expected

	LocalAddrUsed   uint8 // local addresses in use by subflows (5.12+)
	LocalAddrMax    uint8 // limit of local addresses (5.12+)
	ChecksumEnabled bool  // DSS checksums negotiated (5.14+)

	Retransmits   uint32 // MPTCP-level retransmissions (6.5+)
	BytesRetrans  uint64 // bytes retransmitted at the MPTCP level (6.5+)
	BytesSent     uint64 // bytes sent, on all subflows, retransmissions included (6.5+)
	BytesReceived uint64 // bytes received in order at the MPTCP level (6.5+)
	BytesAcked    uint64 // bytes acknowledged at the MPTCP level (6.5+)

	LastDataSent time.Duration // time since data was last sent (6.10+)
	LastDataRecv time.Duration // time since data was last received (6.10+)
	LastAckRecv  time.Duration // time since an acknowledgement was last received (6.10+)

	fields InfoField
}

// InfoField names a group of [Info] fields that a kernel release added
// together to struct mptcp_info.
type InfoField uint8

// The groups of [Info] fields, with the kernel that added them.
const (
	// InfoBase: Subflows, SubflowsMax, AddAddr*, Flags, Token, WriteSeq,
	// SndUna, RcvNxt (5.9; readable through getsockopt since 5.16).
	InfoBase InfoField = 1 << iota
	// InfoLocalAddr: LocalAddrUsed, LocalAddrMax (5.12).
	InfoLocalAddr
	// InfoChecksum: ChecksumEnabled (5.14).
	InfoChecksum
	// InfoCounters: Retransmits and the Bytes* counters (6.5).
	InfoCounters
	// InfoSubflowsTotal: SubflowsTotal (6.8).
	InfoSubflowsTotal
	// InfoLastActivity: LastDataSent, LastDataRecv, LastAckRecv (6.10).
	InfoLastActivity
)

// Has reports whether the kernel provided the fields of group f.
func (in *Info) Has(f InfoField) bool { return in.fields&f == f }

// Fields returns every group of fields the kernel provided.
func (in *Info) Fields() InfoField { return in.fields }

// TotalSubflows returns the number of subflows, the first included. It
// uses SubflowsTotal where the kernel has it and Subflows+1 before 6.8.
func (in *Info) TotalSubflows() int {
	if in.Has(InfoSubflowsTotal) {
		return int(in.SubflowsTotal)
	}
	return int(in.Subflows) + 1
}

var infoFieldNames = []string{"base", "local-addr", "checksum", "counters", "subflows-total", "last-activity"}

// String lists the groups, as in "base|local-addr".
func (f InfoField) String() string {
	return flagfmt.Format(uint64(f), infoFieldNames)
}

// InfoFlags are the flags of struct mptcp_info.
type InfoFlags uint32

const (
	// InfoFlagFallback: the connection fell back to TCP. A fallen-back
	// socket refuses MPTCP options, so in practice this is seen only
	// through the kernel's socket diagnostics (ss -M).
	InfoFlagFallback InfoFlags = 1 << 0
	// InfoFlagRemoteKeyReceived: the peer's key arrived.
	InfoFlagRemoteKeyReceived InfoFlags = 1 << 1
)

// String lists the flags, as in "remote-key-received".
func (f InfoFlags) String() string {
	return flagfmt.Format(uint64(f), []string{"fallback", "remote-key-received"})
}

// String formats the counters people look at first.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "token=%08x subflows=%d", in.Token, in.TotalSubflows())
	if in.Flags != 0 {
		fmt.Fprintf(&b, " flags=%v", in.Flags)
	}
	if in.Has(InfoCounters) {
		fmt.Fprintf(&b, " sent=%d received=%d acked=%d retrans=%d", in.BytesSent, in.BytesReceived, in.BytesAcked, in.BytesRetrans)
	}
	return b.String()
}

// LogValue makes Info a group of attributes in log/slog output, with
// only the fields the kernel provided.
func (in Info) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("token", fmt.Sprintf("%08x", in.Token)),
		slog.Int("subflows", in.TotalSubflows()),
	}
	if in.Flags != 0 {
		attrs = append(attrs, slog.String("flags", in.Flags.String()))
	}
	if in.Has(InfoCounters) {
		attrs = append(attrs,
			slog.Uint64("bytes_sent", in.BytesSent),
			slog.Uint64("bytes_received", in.BytesReceived),
			slog.Uint64("bytes_acked", in.BytesAcked),
			slog.Uint64("bytes_retrans", in.BytesRetrans))
	}
	return slog.GroupValue(attrs...)
}

// Subflow is one TCP subflow of an MPTCP connection.
type Subflow struct {
	// ID is the kernel's subflow id: 1 for the first subflow. It is 0 on
	// kernels before 6.5, which have no ids.
	ID uint32
	// Local and Remote are the subflow's addresses. IPv4-mapped IPv6
	// addresses are reported as IPv4.
	Local, Remote netip.AddrPort
	// TCP holds the subflow's TCP statistics.
	TCP TCPInfo
}

// String formats one subflow on one line.
func (s Subflow) String() string {
	return fmt.Sprintf("#%d %v->%v %v rtt=%v cwnd=%d mss=%d sent=%d acked=%d received=%d retrans=%d",
		s.ID, s.Local, s.Remote, s.TCP.State, s.TCP.RTT, s.TCP.SndCwnd, s.TCP.SndMSS,
		s.TCP.BytesSent, s.TCP.BytesAcked, s.TCP.BytesReceived, s.TCP.TotalRetrans)
}

// LogValue makes a Subflow a group of attributes in log/slog output.
func (s Subflow) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Uint64("id", uint64(s.ID)),
		slog.String("local", s.Local.String()),
		slog.String("remote", s.Remote.String()),
		slog.String("state", s.TCP.State.String()),
		slog.Duration("rtt", s.TCP.RTT),
		slog.Uint64("cwnd", uint64(s.TCP.SndCwnd)),
		slog.Uint64("bytes_sent", s.TCP.BytesSent),
		slog.Uint64("bytes_acked", s.TCP.BytesAcked),
		slog.Uint64("bytes_received", s.TCP.BytesReceived),
		slog.Uint64("retrans", uint64(s.TCP.TotalRetrans)),
	)
}

// SubflowTable formats a list of subflows as an aligned table, one
// subflow a row, for logs and terminals:
//
//	slog.Info("conn", "subflows", mptcp.SubflowTable(subflows))
//	fmt.Print(mptcp.SubflowTable(subflows))
//
// The columns are the subflow's id (SUBFLOW: [Subflow.ID], the kernel's
// number for it within the connection, not a path manager's address id;
// "-" where the kernel has none, before 6.5),
// its addresses and TCP state, the smoothed RTT as a [time.Duration]
// prints it (48µs, 1.25ms: the kernel measures microseconds), the
// congestion window in segments and the TCP counters in bytes and
// segments retransmitted. mptcpcheck prints subflows with this table.
type SubflowTable []Subflow

// String returns the table, a header line and one line per subflow.
func (t SubflowTable) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBFLOW\tLOCAL\tREMOTE\tSTATE\tRTT\tCWND\tSENT\tACKED\tRECEIVED\tRETRANS")
	for _, s := range t {
		// Ids start at 1: 0 is a kernel without them (before 6.5),
		// shown as missing, not as a number.
		id := "-"
		if s.ID != 0 {
			id = strconv.FormatUint(uint64(s.ID), 10)
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%v\t%d\t%d\t%d\t%d\t%d\n",
			id, s.Local, s.Remote, s.TCP.State, s.TCP.RTT.Round(time.Microsecond), s.TCP.SndCwnd,
			s.TCP.BytesSent, s.TCP.BytesAcked, s.TCP.BytesReceived, s.TCP.TotalRetrans)
	}
	tw.Flush()
	return b.String()
}

// LogValue makes the table a group with one subgroup per subflow, keyed
// by position.
func (t SubflowTable) LogValue() slog.Value {
	attrs := make([]slog.Attr, len(t))
	for i, s := range t {
		attrs[i] = slog.Any(strconv.Itoa(i), s)
	}
	return slog.GroupValue(attrs...)
}

// TCPInfo is one subflow's TCP state, decoded from the kernel's struct
// tcp_info with Go units: durations for times, bytes per second for
// rates. Fields the running kernel does not provide are zero;
// [TCPInfo.Has] tells them apart.
type TCPInfo struct {
	State       TCPState
	CAState     uint8 // congestion avoidance state (TCP_CA_Open = 0, ...)
	Retransmits uint8 // consecutive retransmission timeouts now
	Probes      uint8 // unanswered zero-window probes
	Backoff     uint8 // exponential backoff of the retransmission timer
	Options     uint8 // TCPI_OPT_* flags negotiated
	SndWScale   uint8 // send window scale
	RcvWScale   uint8 // receive window scale

	RTO time.Duration // retransmission timeout
	ATO time.Duration // delayed acknowledgement timeout

	SndMSS uint32 // sending maximum segment size
	RcvMSS uint32 // receiving maximum segment size

	Unacked uint32 // segments sent and not acknowledged
	Sacked  uint32 // segments selectively acknowledged
	Lost    uint32 // segments considered lost
	Retrans uint32 // segments retransmitted and not acknowledged

	LastDataSent time.Duration // time since data was last sent
	LastDataRecv time.Duration // time since data was last received
	LastAckRecv  time.Duration // time since an acknowledgement was last received

	PMTU        uint32        // path MTU
	RcvSsthresh uint32        // receive slow start threshold
	RTT         time.Duration // smoothed round-trip time
	RTTVar      time.Duration // round-trip time variance
	SndSsthresh uint32        // slow start threshold, in segments
	SndCwnd     uint32        // congestion window, in segments
	AdvMSS      uint32        // advertised maximum segment size
	Reordering  uint32        // reordering metric

	RcvRTT   time.Duration // receiver-side round-trip estimate
	RcvSpace uint32        // receive buffer space auto-tuning target

	TotalRetrans uint32 // segments retransmitted over the subflow's life

	PacingRate    uint64 // bytes per second
	MaxPacingRate uint64 // bytes per second
	BytesAcked    uint64 // bytes acknowledged by the peer
	BytesReceived uint64 // bytes received
	SegsOut       uint32 // segments sent
	SegsIn        uint32 // segments received
	NotSentBytes  uint32 // bytes queued but not yet sent
	MinRTT        time.Duration
	DataSegsIn    uint32 // segments received with data
	DataSegsOut   uint32 // segments sent with data
	DeliveryRate  uint64 // bytes per second, as last measured

	BusyTime      time.Duration // time with data in flight
	RwndLimited   time.Duration // time limited by the receive window
	SndbufLimited time.Duration // time limited by the send buffer

	Delivered    uint32 // segments delivered, retransmissions included
	DeliveredCE  uint32 // segments delivered with ECN CE marks
	BytesSent    uint64 // bytes sent, retransmissions included
	BytesRetrans uint64 // bytes retransmitted
	DSACKDups    uint32 // duplicate segments reported by D-SACK
	ReordSeen    uint32 // reordering events seen
	RcvOOOPack   uint32 // out-of-order packets received
	SndWnd       uint32 // peer's advertised receive window, in bytes

	RcvWnd uint32 // local advertised receive window, in bytes (6.2+)
	Rehash uint32 // PLB or timeout-triggered rehashes (6.2+)

	TotalRTO           uint16        // retransmission timeouts (6.7+)
	TotalRTORecoveries uint16        // recoveries after timeouts (6.7+)
	TotalRTOTime       time.Duration // time spent in timeout recovery (6.7+)

	ReceivedCE       uint32 // AccECN: CE marks received (6.18+)
	DeliveredE1Bytes uint32 // AccECN byte counters (6.18+)
	DeliveredE0Bytes uint32
	DeliveredCEBytes uint32
	ReceivedE1Bytes  uint32
	ReceivedE0Bytes  uint32
	ReceivedCEBytes  uint32

	fields TCPInfoField
}

// TCPInfoField names a group of [TCPInfo] fields by the size of struct
// tcp_info that holds them.
type TCPInfoField uint8

// The groups of [TCPInfo] fields.
const (
	// TCPInfoBase: every field up to SndWnd (232 bytes, 5.4+, so every
	// kernel that can list subflows).
	TCPInfoBase TCPInfoField = 1 << iota
	// TCPInfoRcvWnd: RcvWnd, Rehash (240 bytes, 6.2+).
	TCPInfoRcvWnd
	// TCPInfoRTOStats: TotalRTO, TotalRTORecoveries, TotalRTOTime (248 bytes, 6.7+).
	TCPInfoRTOStats
	// TCPInfoAccECN: ReceivedCE and the AccECN byte counters (280 bytes, 6.18+).
	TCPInfoAccECN
)

// Has reports whether the kernel provided the fields of group f.
func (t *TCPInfo) Has(f TCPInfoField) bool { return t.fields&f == f }

// Fields returns every group of fields the kernel provided.
func (t *TCPInfo) Fields() TCPInfoField { return t.fields }

// String lists the groups, as in "base|rcv-wnd".
func (f TCPInfoField) String() string {
	return flagfmt.Format(uint64(f), []string{"base", "rcv-wnd", "rto-stats", "accecn"})
}

// TCPState is a TCP state as the kernel numbers it (TCP_ESTABLISHED = 1, ...).
type TCPState uint8

var tcpStateNames = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
	12: "NEW_SYN_RECV", 13: "BOUND_INACTIVE",
}

// TCP states, as in <net/tcp_states.h>: every state the kernel reports
// in tcp_info and in socket diagnostics.
const (
	StateEstablished   TCPState = 1
	StateSynSent       TCPState = 2
	StateSynRecv       TCPState = 3
	StateFinWait1      TCPState = 4
	StateFinWait2      TCPState = 5
	StateTimeWait      TCPState = 6
	StateClose         TCPState = 7
	StateCloseWait     TCPState = 8
	StateLastAck       TCPState = 9
	StateListen        TCPState = 10
	StateClosing       TCPState = 11
	StateNewSynRecv    TCPState = 12 // a request socket: a SYN answered, its ACK awaited
	StateBoundInactive TCPState = 13 // bound, neither listening nor connecting (6.6+)
)

// String returns the kernel's name for the state, as ss prints it.
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) && tcpStateNames[s] != "" {
		return tcpStateNames[s]
	}
	return "STATE(" + strconv.Itoa(int(s)) + ")"
}
