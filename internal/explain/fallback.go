package explain

import "fmt"

// explainFallback explains a connection that is plain TCP although MPTCP
// is enabled. The rules go from the evidence tied to this connection (its
// captured handshake) to the namespace's counters.
func explainFallback(ev Evidence) []Explanation {
	ev0 := mptcpLine(ev)
	hs := ev.Handshake
	synack, synackMoved := counterLines(ev, "MPCapableFallbackSYNACK")
	if hs != nil && hs.SYN && !hs.SYNMPCapable && hs.SYNNops >= StripNops {
		// Seen leaving this host: the option was there when the socket
		// sent the SYN (MPTCP sockets always offer it) and is now NOPs.
		return []Explanation{{
			Code:    OptionStripped,
			Message: "the MPTCP option did not survive the path: the SYN left this host with the option overwritten by NOPs, so a firewall rule on this host (such as iptables TCPOPTSTRIP) strips it; the server saw plain TCP",
			Evidence: append(append(ev0,
				fmt.Sprintf("captured SYN: no MP_CAPABLE, a run of %d NOP options where it would be", hs.SYNNops)),
				synack...),
		}}
	}
	if hs != nil && hs.SYNACK && !hs.SYNACKMPCapable && hs.SYNACKNops >= StripNops {
		lines := append(ev0, fmt.Sprintf("captured SYN/ACK: no MP_CAPABLE, a run of %d NOP options where an option was overwritten", hs.SYNACKNops))
		if hs.SYN && hs.SYNMPCapable {
			lines = append(lines, "captured SYN: left this host with MP_CAPABLE")
		}
		return []Explanation{{
			Code:      OptionStripped,
			Message:   "the MPTCP option did not survive the path: the SYN/ACK arrived with an option overwritten by NOPs, the mark of a middlebox that strips options (a server without MPTCP sends no such padding)",
			Evidence:  append(lines, synack...),
			Inference: true,
		}}
	}
	if out, ok := explainBlackhole(ev, hs, ev0); ok {
		return out
	}
	if out, ok := explainCounted(ev, ev0); ok {
		return out
	}
	if hs != nil && hs.SYN && hs.SYNMPCapable && hs.SYNACK && !hs.SYNACKMPCapable {
		return serverOrPath(append(append(ev0,
			"captured SYN: left this host with MP_CAPABLE",
			fmt.Sprintf("captured SYN/ACK: no MP_CAPABLE, longest NOP run %d (no stripped option in it)", hs.SYNACKNops)),
			synack...), "")
	}
	if synackMoved {
		lines := append(ev0, synack...)
		hint := ""
		if ev.HandshakeError != "" {
			lines = append(lines, "no capture of the handshake: "+ev.HandshakeError)
			hint = "; a capture of the handshake (run as root) would show whether the SYN/ACK's option was stripped on its way back"
		}
		return serverOrPath(lines, hint)
	}
	lines := ev0
	if ev.Socket == SocketPlain {
		return []Explanation{{
			Code:     Unknown,
			Message:  "the connection is a plain TCP socket: no MPTCP socket was made for it (a kernel without MPTCP, or a dialer that asked for TCP)",
			Evidence: append(lines, "no MPTcpExt counter of a fallback moved across the dial"),
		}}
	}
	if ev.CountersError != "" {
		lines = append(lines, "counters unreadable: "+ev.CountersError)
	} else {
		lines = append(lines, "no MPTcpExt counter of a fallback moved across the dial")
	}
	return []Explanation{{
		Code:      Unknown,
		Message:   "the connection is not MPTCP and the evidence gathered does not say why (the socket may not have been an MPTCP one)",
		Evidence:  lines,
		Inference: true,
	}}
}

// serverOrPath explains a SYN/ACK that came back without MP_CAPABLE and
// without the mark of a stripped option. From the client the two causes
// look the same: a server that does not speak MPTCP, and a SYN that lost
// its option on the way in (a stripped SYN reaches the server as plain
// TCP and leaves no trace in the SYN/ACK). So both are given, each an
// inference, the server first since it is the commoner.
func serverOrPath(lines []string, hint string) []Explanation {
	return []Explanation{
		{
			Code: ServerNoMPTCP,
			Message: "the server answered without MPTCP: either it does not speak MPTCP (enable it there: net.mptcp.enabled=1 and a listener that asks for MPTCP), " +
				"or the option was stripped on the way (option-stripped, below); from this side the two look the same" + hint,
			Evidence:  lines,
			Inference: true,
		},
		{
			Code: OptionStripped,
			Message: "or the MPTCP option was stripped on the way: a firewall or middlebox that removes it from the SYN on its way to the server " +
				"(such as iptables TCPOPTSTRIP in front of the server) leaves no trace in the SYN/ACK; a capture on the server's side tells the two apart",
			Evidence:  lines,
			Inference: true,
		},
	}
}
