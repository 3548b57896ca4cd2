// Package explain says why a connection does not use MPTCP, or why it has
// only one subflow, from evidence gathered around the dial: the change of
// the kernel's MPTcpExt counters, the path manager's events for the
// connection's token, the endpoints and limits of this side, the
// connection's own mptcp_info, the net.mptcp.enabled sysctl, the state of
// the kernel's blackhole detection and, where it could be captured, the
// TCP options of the handshake's SYN and SYN/ACK.
//
// Explain works on an Evidence value alone, so that every rule is tested
// on every platform without a kernel; gathering the evidence is the
// caller's job (cmd/mptcpcheck's why and get). ExplainHost judges the
// host part of the evidence alone (Host), with the same rules and codes,
// for cmd/mptcpcheck's doctor: the two commands agree.
//
// Where the evidence cannot tell two causes apart, each is its own
// explanation, marked as an inference, and the messages say that one or
// the other holds (server-no-mptcp and option-stripped).
//
// Each Explanation names the evidence it rests on and says when it is an
// inference rather than a direct observation of this connection: the
// counters are shared by every connection of the network namespace, so a
// change across the dial may come from another connection.
package explain

import "fmt"

// The codes of an Explanation: a JSON contract of mptcpcheck, kept
// stable.
const (
	// MPTCPDisabled: net.mptcp.enabled is 0, so no MPTCP socket could be
	// made and the connection is plain TCP.
	MPTCPDisabled = "mptcp-disabled"
	// ServerNoMPTCP: the server answered the MP_CAPABLE SYN without
	// MP_CAPABLE.
	ServerNoMPTCP = "server-no-mptcp"
	// OptionStripped: the MPTCP option did not survive the path, or the
	// evidence cannot tell that apart from a server without MPTCP.
	OptionStripped = "option-stripped"
	// BlackholeDetected: the kernel's blackhole detection (Linux 6.12
	// and later) turned MPTCP off for the namespace's outgoing
	// connections after SYNs with the option were dropped.
	BlackholeDetected = "blackhole"
	// NoEndpoint: one subflow, since this side has no subflow endpoint
	// and the peer announced no address.
	NoEndpoint = "no-endpoint"
	// SubflowLimit: one subflow, since the limit of additional subflows
	// is 0.
	SubflowLimit = "subflow-limit"
	// JoinFailed: an additional subflow was tried and failed.
	JoinFailed = "join-failed"
	// JoinPending: an additional subflow was tried and had no answer by
	// the end of the wait.
	JoinPending = "join-pending"
	// JoinInitialDenied: one subflow, since the server refuses subflows
	// to the address of the connection's first subflow
	// (net.mptcp.allow_join_initial_addr_port=0 there) and announced no
	// other address to join.
	JoinInitialDenied = "join-initial-denied"
	// JoinRejected: an additional subflow came up and was closed at once,
	// with no error or reset reason this side could read: the server
	// refused it after its handshake, most often for its subflow limit.
	JoinRejected = "join-rejected"
	// BackupPath: every additional subflow is a backup, which carries
	// data only when the others fail: a setting, not a failure.
	BackupPath = "backup-path"
	// NotEstablished: one subflow, and the connection never became fully
	// established, which the path manager waits for.
	NotEstablished = "not-established"
	// DataFallback: the handshake offered MPTCP on both sides, then data
	// (or the third ACK) arrived without a valid MPTCP mapping and the
	// connection fell back to TCP.
	DataFallback = "data-fallback"
	// ChecksumFailed: the MPTCP data checksum failed, since something on
	// the path changed the payload, and the connection fell back to TCP.
	ChecksumFailed = "checksum-failed"
	// SimultaneousConnect: both ends connected to each other at once;
	// MPTCP has no simultaneous open, so the kernel fell back to TCP.
	SimultaneousConnect = "simultaneous-connect"
	// MD5Signature: the socket signs its segments with TCP MD5, which
	// leaves no room for MPTCP options.
	MD5Signature = "md5-signature"
	// NoToken: the kernel could not allocate the connection's token.
	NoToken = "no-token"
	// FallbackFailed: the connection had to fall back to TCP but could
	// no longer, and the kernel reset it.
	FallbackFailed = "fallback-failed"
	// Unsupported: this system has no MPTCP (not Linux, or a kernel
	// without it).
	Unsupported = "unsupported"
	// Unknown: the connection is not MPTCP, or has one subflow where
	// more are allowed, and no evidence says why.
	Unknown = "unknown"
)

// Codes returns every code an Explanation can have, in the order of
// their declaration.
func Codes() []string {
	return []string{MPTCPDisabled, ServerNoMPTCP, OptionStripped, BlackholeDetected, NoEndpoint, SubflowLimit,
		JoinFailed, JoinPending, JoinInitialDenied, JoinRejected, BackupPath, NotEstablished, DataFallback, ChecksumFailed,
		SimultaneousConnect, MD5Signature, NoToken, FallbackFailed, Unsupported, Unknown}
}

// Explanation is one reason, with the evidence for it.
type Explanation struct {
	// Code is one of the constants of this package.
	Code string `json:"code"`
	// Message says what happened and, where there is one, what to change.
	Message string `json:"message"`
	// Evidence lists the observations the explanation rests on, one
	// sentence each.
	Evidence []string `json:"evidence"`
	// Inference is true when the evidence does not tie the cause to this
	// connection for certain (namespace-wide counters, or causes that
	// look alike from this side).
	Inference bool `json:"inference"`
}

// Evidence is what was gathered about one connection, from its dialing
// side. Every source may be missing: its Error field then says why, and
// the rules that need it are skipped or weakened to an inference.
type Evidence struct {
	// Host is what is known of the dialing namespace apart from the
	// connection, judged by the same rules as doctor's (ExplainHost).
	Host

	// MPTCP says whether the connection uses MPTCP (not plain TCP, not a
	// fallback); MPTCPError says why that is unknown, if it is.
	MPTCP      bool
	MPTCPError string

	// Socket is what the kernel's socket diagnostics show of a connection
	// that does not use MPTCP: SocketFallback for an MPTCP socket with the
	// fallback flag, SocketEarlyFallback for an MPTCP socket they do not
	// list, SocketPlain for a TCP socket they do not list, "" when
	// unknown (SocketError says why, if they failed).
	Socket      string
	SocketError string

	// Info is the connection's mptcp_info, when it uses MPTCP and the
	// kernel gave it.
	Info *Info
	// Pending lists the connection's subflows still in SYN_SENT at the
	// end of the wait, as "LOCAL -> REMOTE": joins with no answer yet.
	Pending []string
	// Closed lists the connection's subflows in state CLOSE at the end of
	// the wait, as "LOCAL -> REMOTE": the kernel keeps listing a subflow
	// it reset until its worker disposes of it, which is also when the
	// path manager reports it closed.
	Closed []string
	// Listed is how many subflows the kernel lists for the connection at
	// the end of the wait, the first included, in any state; 0 when
	// unknown. Older kernels (5.10) keep counting in mptcp_info's subflows
	// a join the path manager made after it closed or failed, and send
	// no event for it: a count above the list is then the only trace of
	// a join that is gone (see explainGone).
	Listed int

	// Counters is the change of the MPTcpExt counters across the dial
	// (and the wait), by kernel name; nil when they could not be read,
	// with CountersError saying why.
	Counters      map[string]uint64
	CountersError string

	// Events are the path manager's events for the connection's token,
	// in order; EventsError says why there are none to look at (no
	// CAP_NET_ADMIN, no token).
	Events      []Event
	EventsError string

	// Handshake is what a capture of this connection's SYN and SYN/ACK
	// saw, or nil when nothing was captured (HandshakeError says why).
	Handshake      *Handshake
	HandshakeError string

	// Missing names the evidence that causes of the table rest on and
	// that this kernel lacks: MPTcpExt counters by name, sysctls as
	// "net.mptcp.NAME", the path manager's events as PMEvents (see
	// MissingEvidence). An explanation that finds
	// no cause names these instead of guessing; nil when nothing is
	// missing or it is not known.
	Missing []string

	// Local and Remote are the connection's addresses, for messages.
	Local, Remote string
	// IPv6 is true for a connection over IPv6: endpoints of the other
	// family do not count.
	IPv6 bool
}

// The values of Evidence.Socket.
const (
	SocketFallback = "fallback"
	// SocketEarlyFallback is an MPTCP socket (SO_PROTOCOL 262) that fell
	// back before its handshake, so that it has no token and socket
	// diagnostics do not list it: the kernel sent a plain SYN.
	SocketEarlyFallback = "early-fallback"
	SocketPlain         = "plain"
)

// Info is the part of mptcp_info the rules use.
type Info struct {
	Token              uint32
	Subflows           uint8 // additional subflows, the first not counted
	SubflowsMax        uint8
	AddAddrAccepted    uint8
	AddAddrAcceptedMax uint8
	Fallback           bool
}

// Event is one path manager event of the connection.
type Event struct {
	// Type is the kernel's name, as pm.EventType.String gives it:
	// "created", "sub_established", "sub_closed", "announced", ...
	Type string
	// Local and Remote are the subflow's addresses, or "".
	Local, Remote string
	// Error is the subflow's socket error, as text ("connection timed
	// out"), or "".
	Error string
	// ResetReason is the reason of an MP_TCPRST that reset the subflow,
	// or "".
	ResetReason string
	// Backup is true for a subflow the peer asked to be a backup (the B
	// flag of its MP_JOIN or MP_PRIO), in sub_established and
	// sub_priority: the peer sends on it only when no other path is
	// left. A backup that this side asked for is known from its
	// endpoint's flag, not from the event.
	Backup bool
	// DenyJoinInitial is true, in created and established, when the peer
	// refuses subflows to the address of its first subflow (the event's
	// deny_join_id0 flag).
	DenyJoinInitial bool
	// ServerSide is true, in created and established, when this side
	// accepted the connection.
	ServerSide bool
}

// Limits are the in-kernel path manager's limits.
type Limits struct {
	Subflows, AddAddrAccepted uint32
}

// Endpoint is one endpoint of the in-kernel path manager.
type Endpoint struct {
	Addr    string
	IPv6    bool
	Subflow bool // FlagSubflow: subflows are opened from it
	Signal  bool // FlagSignal: it is announced to peers
	Backup  bool // FlagBackup: its subflows are backups
	Text    string
}

// Handshake is what a capture saw of the connection's opening.
type Handshake struct {
	// SYN is true when the outgoing SYN was seen, as it left this host
	// (after this host's own firewall).
	SYN bool
	// SYNMPCapable says whether it carried MP_CAPABLE.
	SYNMPCapable bool
	// SYNNops is the longest run of NOP options in the SYN.
	SYNNops int
	// SYNACK is true when the SYN/ACK was seen.
	SYNACK bool
	// SYNACKMPCapable says whether it carried MP_CAPABLE.
	SYNACKMPCapable bool
	// SYNACKNops is the longest run of NOP options in the SYN/ACK.
	SYNACKNops int
}

// StripNops is the shortest run of NOP options taken as the mark of an
// option overwritten on the way, as iptables' TCPOPTSTRIP and many
// firewalls do: stacks pad options to 4 bytes with at most 3 NOPs, and
// MP_CAPABLE is 4 to 20 bytes long.
const StripNops = 4

// Explain returns the explanations for the evidence, most fundamental
// first; none (an empty, non-nil slice) for a connection that uses MPTCP
// with every path it can have.
func Explain(ev Evidence) []Explanation {
	out := []Explanation{}
	if e, ok := hostUnusable(ev.Host, "the connection is", mptcpLine(ev)); ok {
		return append(out, e)
	}
	if !ev.MPTCP {
		return withMissing(ev, append(out, explainFallback(ev)...))
	}
	out = append(out, explainJoins(ev)...)
	for _, p := range ev.Pending {
		out = append(out, Explanation{
			Code:      JoinPending,
			Message:   fmt.Sprintf("the join %s had no answer yet when the connection was looked at; if it never comes up, SYNs with MP_JOIN are dropped on that path (the first path carries everything meanwhile)", p),
			Evidence:  []string{fmt.Sprintf("subflow %s in state SYN_SENT", p)},
			Inference: true,
		})
	}
	out = append(out, explainBackup(ev)...)
	if len(out) == 0 {
		out = append(out, explainGone(ev)...)
	}
	if ev.Info == nil || ev.Info.Subflows > 0 || len(out) > 0 {
		// More than one subflow, or a join was tried: the path manager
		// did its part; the failures, if any, are above.
		return withMissing(ev, out)
	}
	return withMissing(ev, append(out, explainOneSubflow(ev)...))
}

// mptcpLine describes whether the connection uses MPTCP.
func mptcpLine(ev Evidence) []string {
	switch {
	case ev.MPTCPError != "":
		return []string{"the connection's MPTCP state cannot be read: " + ev.MPTCPError}
	case ev.MPTCP:
		return []string{"the connection uses MPTCP"}
	}
	switch ev.Socket {
	case SocketFallback:
		return []string{"socket diagnostics: the connection is an MPTCP socket with the fallback flag: it fell back to TCP"}
	case SocketEarlyFallback:
		return []string{"the connection's socket is an MPTCP socket that socket diagnostics do not list: it fell back before its handshake began"}
	case SocketPlain:
		return []string{"socket diagnostics: no MPTCP socket has the connection's addresses: it is a plain TCP socket"}
	}
	return []string{"the connection uses plain TCP (no MPTCP, or a fallback)"}
}

// counterLines lists the counters that moved among names, with a note
// that they are namespace-wide; moved reports whether any did.
func counterLines(ev Evidence, names ...string) (lines []string, moved bool) {
	for _, n := range names {
		if v := ev.Counters[n]; v > 0 {
			lines = append(lines, fmt.Sprintf("counter %s +%d across the dial (shared by every connection of the namespace)", n, v))
			moved = true
		}
	}
	return lines, moved
}
