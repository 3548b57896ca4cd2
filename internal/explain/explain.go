// Package explain says why a connection does not use MPTCP, or why it has
// only one subflow, from evidence gathered around the dial: the change of
// the kernel's MPTcpExt counters, the path manager's events for the
// connection's token, the endpoints and limits of this side, the
// connection's own mptcp_info, the net.mptcp.enabled sysctl and, where it
// could be captured, the TCP options of the handshake's SYN and SYN/ACK.
//
// Explain works on an Evidence value alone, so that every rule is tested
// on every platform without a kernel; gathering the evidence is the
// caller's job (cmd/mptcpcheck's why and get).
//
// Each Explanation names the evidence it rests on and says when it is an
// inference rather than a direct observation of this connection: the
// counters are shared by every connection of the network namespace, so a
// change across the dial may come from another connection.
package explain

import (
	"fmt"
	"slices"
	"strings"
)

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
	// NotEstablished: one subflow, and the connection never became fully
	// established, which the path manager waits for.
	NotEstablished = "not-established"
	// Unsupported: this system has no MPTCP (not Linux, or a kernel
	// without it).
	Unsupported = "unsupported"
	// Unknown: the connection is not MPTCP, or has one subflow where
	// more are allowed, and no evidence says why.
	Unknown = "unknown"
)

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
	// Supported is false where the system has no MPTCP at all (not Linux,
	// or a Linux kernel without MPTCP): there are no counters, path
	// manager or mptcp_info to read.
	Supported bool
	// OS names the system, for the message when Supported is false.
	OS string

	// Enabled is net.mptcp.enabled of the dialing namespace; EnabledKnown
	// says whether it could be read.
	Enabled, EnabledKnown bool

	// MPTCP says whether the connection uses MPTCP (not plain TCP, not a
	// fallback); MPTCPError says why that is unknown, if it is.
	MPTCP      bool
	MPTCPError string

	// Socket is what the kernel's socket diagnostics show of a connection
	// that does not use MPTCP: SocketFallback for an MPTCP socket with the
	// fallback flag, SocketPlain when no MPTCP socket has its addresses,
	// "" when unknown (SocketError says why, if they failed).
	Socket      string
	SocketError string

	// Info is the connection's mptcp_info, when it uses MPTCP and the
	// kernel gave it.
	Info *Info
	// Pending lists the connection's subflows still in SYN_SENT at the
	// end of the wait, as "LOCAL -> REMOTE": joins with no answer yet.
	Pending []string

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

	// Limits and Endpoints are the in-kernel path manager's settings on
	// this side; Limits is nil when they could not be read, with
	// PathManagerError saying why. Userspace is true when the namespace
	// uses the userspace path manager (net.mptcp.pm_type=1).
	Limits           *Limits
	Endpoints        []Endpoint
	PathManagerError string
	Userspace        bool

	// Handshake is what a capture of this connection's SYN and SYN/ACK
	// saw, or nil when nothing was captured (HandshakeError says why).
	Handshake      *Handshake
	HandshakeError string

	// Local and Remote are the connection's addresses, for messages.
	Local, Remote string
	// IPv6 is true for a connection over IPv6: endpoints of the other
	// family do not count.
	IPv6 bool
}

// The values of Evidence.Socket.
const (
	SocketFallback = "fallback"
	SocketPlain    = "plain"
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
	if !ev.Supported {
		system := ev.OS
		if system == "" {
			system = "this system"
		}
		return append(out, Explanation{
			Code:     Unsupported,
			Message:  fmt.Sprintf("MPTCP needs Linux with an MPTCP kernel; on %s there are no MPTCP sockets, counters or path manager, so the connection is plain TCP", system),
			Evidence: []string{"system: " + system},
		})
	}
	if ev.EnabledKnown && !ev.Enabled {
		return append(out, Explanation{
			Code:    MPTCPDisabled,
			Message: "MPTCP is disabled on this host, so the connection is plain TCP; enable it with: sysctl -w net.mptcp.enabled=1",
			Evidence: append([]string{"net.mptcp.enabled = 0 in this network namespace"},
				mptcpLine(ev)...),
		})
	}
	if !ev.MPTCP {
		return append(out, explainFallback(ev))
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
	if ev.Info == nil || ev.Info.Subflows > 0 || len(out) > 0 {
		// More than one subflow, or a join was tried: the path manager
		// did its part; the failures, if any, are above.
		return out
	}
	return append(out, explainOneSubflow(ev)...)
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

// explainFallback explains a connection that is plain TCP although MPTCP
// is enabled.
func explainFallback(ev Evidence) Explanation {
	ev0 := mptcpLine(ev)
	hs := ev.Handshake
	synack, synackMoved := counterLines(ev, "MPCapableFallbackSYNACK")
	drop, dropMoved := counterLines(ev, "MPCapableSYNTXDrop", "MPCapableSYNTXDisabled")
	if hs != nil && hs.SYN && !hs.SYNMPCapable && hs.SYNNops >= StripNops {
		// Seen leaving this host: the option was there when the socket
		// sent the SYN (MPTCP sockets always offer it) and is now NOPs.
		return Explanation{
			Code:    OptionStripped,
			Message: "the MPTCP option did not survive the path: the SYN left this host with the option overwritten by NOPs, so a firewall rule on this host (such as iptables TCPOPTSTRIP) strips it; the server saw plain TCP",
			Evidence: append(append(ev0,
				fmt.Sprintf("captured SYN: no MP_CAPABLE, a run of %d NOP options where it would be", hs.SYNNops)),
				synack...),
		}
	}
	if hs != nil && hs.SYNACK && !hs.SYNACKMPCapable && hs.SYNACKNops >= StripNops {
		lines := append(ev0, fmt.Sprintf("captured SYN/ACK: no MP_CAPABLE, a run of %d NOP options where an option was overwritten", hs.SYNACKNops))
		if hs.SYN && hs.SYNMPCapable {
			lines = append(lines, "captured SYN: left this host with MP_CAPABLE")
		}
		return Explanation{
			Code:      OptionStripped,
			Message:   "the MPTCP option did not survive the path: the SYN/ACK arrived with an option overwritten by NOPs, the mark of a middlebox that strips options (a server without MPTCP sends no such padding)",
			Evidence:  append(lines, synack...),
			Inference: true,
		}
	}
	if hs != nil && hs.SYN && hs.SYNMPCapable && hs.SYNACK && !hs.SYNACKMPCapable {
		return Explanation{
			Code:    ServerNoMPTCP,
			Message: "the server answered without MPTCP: the SYN left this host with MP_CAPABLE and the SYN/ACK came back without it and without the NOP padding a stripping middlebox leaves; a middlebox that removes the option outright would look the same",
			Evidence: append(append(ev0,
				"captured SYN: left this host with MP_CAPABLE",
				fmt.Sprintf("captured SYN/ACK: no MP_CAPABLE, longest NOP run %d", hs.SYNACKNops)),
				synack...),
			Inference: true,
		}
	}
	if dropMoved {
		return Explanation{
			Code:      OptionStripped,
			Message:   "SYNs carrying the MPTCP option were dropped on the path, and the kernel retried without it (or, after earlier drops, stopped offering it): a middlebox that drops MPTCP",
			Evidence:  append(ev0, drop...),
			Inference: true,
		}
	}
	if synackMoved {
		lines := append(ev0, synack...)
		if ev.HandshakeError != "" {
			lines = append(lines, "no capture of the handshake: "+ev.HandshakeError)
		}
		return Explanation{
			Code: OptionStripped,
			Message: "the SYN/ACK came without MPTCP: either the server does not speak MPTCP or a middlebox stripped the option; " +
				"from this side the two look the same without a capture of the handshake (run as root to capture it)",
			Evidence:  lines,
			Inference: true,
		}
	}
	lines := ev0
	if ev.Socket == SocketPlain {
		return Explanation{
			Code:     Unknown,
			Message:  "the connection is a plain TCP socket: no MPTCP socket was made for it (a kernel without MPTCP, or a dialer that asked for TCP)",
			Evidence: append(lines, "no MPTcpExt counter of a fallback moved across the dial"),
		}
	}
	if ev.CountersError != "" {
		lines = append(lines, "counters unreadable: "+ev.CountersError)
	} else {
		lines = append(lines, "no MPTcpExt counter of a fallback moved across the dial")
	}
	return Explanation{
		Code:      Unknown,
		Message:   "the connection is not MPTCP and the evidence gathered does not say why (the socket may not have been an MPTCP one)",
		Evidence:  lines,
		Inference: true,
	}
}

// explainJoins reports each additional subflow that closed with an
// error or a reset and was not replaced by one between the same
// addresses.
func explainJoins(ev Evidence) []Explanation {
	var out []Explanation
	up := map[string]bool{}
	for _, e := range ev.Events {
		if e.Type == "sub_established" {
			up[e.Local+" "+e.Remote] = true
		}
	}
	seen := map[string]bool{}
	for _, e := range ev.Events {
		if e.Type != "sub_closed" || (e.Error == "" && e.ResetReason == "") {
			continue
		}
		key := e.Local + " " + e.Remote
		if up[key] || seen[key] {
			continue
		}
		seen[key] = true
		var why []string
		if e.Error != "" {
			why = append(why, "error "+e.Error)
		}
		if e.ResetReason != "" {
			why = append(why, "reset reason "+e.ResetReason)
		}
		lines := []string{fmt.Sprintf("path manager event sub_closed for this connection's token: %s -> %s, %s", e.Local, e.Remote, strings.Join(why, ", "))}
		c, _ := counterLines(ev, "MPJoinSynTx", "MPJoinSynAckRx")
		lines = append(lines, c...)
		out = append(out, Explanation{
			Code:     JoinFailed,
			Message:  fmt.Sprintf("the join from %s to %s failed (%s); the first path carries everything", host(e.Local), host(e.Remote), strings.Join(why, ", ")),
			Evidence: lines,
		})
	}
	return out
}

// host drops the port of an address, for messages.
func host(addrPort string) string {
	if i := strings.LastIndexByte(addrPort, ':'); i > 0 {
		return strings.Trim(addrPort[:i], "[]")
	}
	return addrPort
}

// explainOneSubflow explains an MPTCP connection with one subflow and no
// failed join.
func explainOneSubflow(ev Evidence) []Explanation {
	var out []Explanation
	info := ev.Info
	if ev.Userspace {
		return append(out, Explanation{
			Code:      NoEndpoint,
			Message:   "one subflow: the namespace uses the userspace path manager (net.mptcp.pm_type=1), which opens subflows only when a daemon such as mptcpd asks; run one, or switch back with sysctl -w net.mptcp.pm_type=0",
			Evidence:  []string{"net.mptcp.pm_type = 1", fmt.Sprintf("mptcp_info: subflows %d", info.Subflows)},
			Inference: true,
		})
	}
	if info.SubflowsMax == 0 || (ev.Limits != nil && ev.Limits.Subflows == 0) {
		lines := []string{fmt.Sprintf("mptcp_info: subflows %d, subflows_max %d", info.Subflows, info.SubflowsMax)}
		if ev.Limits != nil {
			lines = append(lines, fmt.Sprintf("path manager limits: subflows %d add_addr_accepted %d", ev.Limits.Subflows, ev.Limits.AddAddrAccepted))
		}
		out = append(out, Explanation{
			Code:     SubflowLimit,
			Message:  "one subflow because the limit of additional subflows is 0; raise it with: ip mptcp limits set subflows 2 add_addr_accepted 2",
			Evidence: lines,
		})
	}
	var subflowEPs []string
	for _, e := range ev.Endpoints {
		// An endpoint on the first subflow's own address adds no path.
		if e.Subflow && e.IPv6 == ev.IPv6 && e.Addr != host(ev.Local) {
			subflowEPs = append(subflowEPs, e.Text)
		}
	}
	announced := slices.ContainsFunc(ev.Events, func(e Event) bool { return e.Type == "announced" })
	if announced && len(subflowEPs) == 0 && info.AddAddrAcceptedMax == 0 && info.SubflowsMax > 0 {
		out = append(out, Explanation{
			Code:    SubflowLimit,
			Message: "one subflow: the server announced an address, but this side accepts none (limit add_addr_accepted 0); raise it with: ip mptcp limits set add_addr_accepted 2",
			Evidence: []string{"path manager event announced for this connection's token",
				fmt.Sprintf("mptcp_info: add_addr_accepted %d, add_addr_accepted_max %d", info.AddAddrAccepted, info.AddAddrAcceptedMax)},
		})
	}
	if ev.Limits != nil && len(subflowEPs) == 0 && info.AddAddrAccepted == 0 && !announced {
		lines := []string{"path manager endpoints with the subflow flag: none" + family(ev) + " besides the connection's own address"}
		if ev.EventsError == "" {
			lines = append(lines, "path manager events: no address announced by the server")
		} else {
			lines = append(lines, "path manager events unavailable ("+ev.EventsError+"): announcements known only from mptcp_info")
		}
		lines = append(lines, fmt.Sprintf("mptcp_info: add_addr_accepted %d", info.AddAddrAccepted))
		out = append(out, Explanation{
			Code: NoEndpoint,
			Message: "one subflow because this side has no subflow endpoint and the server announced no address; " +
				"add one for a second interface with: ip mptcp endpoint add ADDR dev DEV subflow",
			Evidence: lines,
		})
	}
	if len(out) == 0 && ev.Limits != nil {
		// Something allows another subflow, and none came: the path
		// manager starts only once the connection is fully established
		// (data acknowledged both ways), or the wait was too short.
		lines := []string{fmt.Sprintf("mptcp_info: subflows %d, subflows_max %d", info.Subflows, info.SubflowsMax)}
		for _, e := range subflowEPs {
			lines = append(lines, "path manager endpoint: "+e)
		}
		if announced {
			lines = append(lines, "path manager event announced for this connection's token")
		}
		established := slices.ContainsFunc(ev.Events, func(e Event) bool { return e.Type == "established" })
		switch {
		case ev.EventsError == "" && !established:
			out = append(out, Explanation{
				Code:     NotEstablished,
				Message:  "one subflow: the connection is not fully established yet, and the path manager adds subflows only once data went both ways; a server that waits for the client to speak first needs a request (give a URL instead of an address)",
				Evidence: append(lines, "path manager events: no established event for this connection's token"),
			})
		default:
			if ev.EventsError != "" {
				lines = append(lines, "path manager events unavailable: "+ev.EventsError)
			}
			out = append(out, Explanation{
				Code:      Unknown,
				Message:   "one subflow although an endpoint or an announced address allows another, and no join was seen; the path manager may need more time (-wait) or the connection is not fully established",
				Evidence:  lines,
				Inference: true,
			})
		}
	}
	if ev.Limits == nil && ev.PathManagerError != "" && len(out) == 0 {
		out = append(out, Explanation{
			Code:      NoEndpoint,
			Message:   "one subflow, and the path manager's endpoints and limits cannot be read to say why; check them with: ip mptcp endpoint show; ip mptcp limits show",
			Evidence:  []string{"path manager: " + ev.PathManagerError, fmt.Sprintf("mptcp_info: subflows %d, subflows_max %d", info.Subflows, info.SubflowsMax)},
			Inference: true,
		})
	}
	return out
}

// family qualifies "none" when endpoints of the other family exist.
func family(ev Evidence) string {
	if len(ev.Endpoints) == 0 {
		return ""
	}
	if ev.IPv6 {
		return " for IPv6"
	}
	return " for IPv4"
}
