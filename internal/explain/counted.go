package explain

import "slices"

// explainCounted explains a fallback from the counters that name its
// cause, or returns false. From 6.17 on the kernel counts each fallback
// once, by cause; a checksum failure is told apart from the other data
// fallbacks by DataCsumErr, which older kernels count too. The counters
// are the namespace's, so each explanation is an inference.
func explainCounted(ev Evidence, ev0 []string) ([]Explanation, bool) {
	hs := ev.Handshake
	// What this connection's own evidence rules out, whatever the
	// namespace's counters say: a fallback after the handshake needs a
	// handshake that negotiated MPTCP (not a SYN/ACK seen without
	// MP_CAPABLE, not a socket that fell back before its SYN); one
	// before the SYN, a SYN that did not offer MPTCP.
	negotiated := !(hs != nil && hs.SYNACK && !hs.SYNACKMPCapable) && ev.Socket != SocketEarlyFallback
	offered := hs != nil && hs.SYN && hs.SYNMPCapable
	// A checksum failure also counts the fallback it caused: DssFallback
	// on the receiving side (measured on 6.18), the infinite mapping and
	// MP_FAIL where the peer had to be told. On a kernel without
	// DssFallback, the socket diagnostics' fallback flag ties it to a
	// fallback.
	csum, csumMoved := counterLines(ev, "DataCsumErr")
	fb, fbMoved := counterLines(ev, "DssFallback", "InfiniteMapTx", "InfiniteMapRx", "MPFailTx", "MPFailRx")
	if negotiated && csumMoved && (fbMoved || ev.Socket == SocketFallback) {
		return []Explanation{counted("DataCsumErr", append(append(ev0, csum...), fb...))}, true
	}
	for _, c := range []struct {
		name     string
		possible bool
	}{
		// The client's own SYN was dropped before the peer's crossed it.
		{"SimultConnectFallback", true},
		{"MD5SigFallback", !offered},
		{"MPFallbackTokenInit", !offered},
		{"MPCapableDataFallback", negotiated},
		{"DssFallback", negotiated},
		{"DSSCorruptionFallback", negotiated},
		{"FallbackFailed", negotiated},
		// The server's side of a data fallback: why's rules run for an
		// accepted connection.
		{"MPCapableFallbackACK", negotiated},
	} {
		if lines, moved := counterLines(ev, c.name); moved && c.possible {
			return []Explanation{counted(c.name, append(ev0, lines...))}, true
		}
	}
	return nil, false
}

// counted is the explanation of the row of the table that counter
// belongs to, in the row's words.
func counted(counter string, lines []string) Explanation {
	c := causeOf(counter)
	return Explanation{Code: c.Code, Message: c.Message + "; " + c.Fix, Evidence: lines, Inference: true}
}

// causeOf returns the first row of the table that lists counter.
func causeOf(counter string) Cause {
	for _, c := range Causes() {
		if slices.Contains(c.Counters, counter) {
			return c
		}
	}
	panic("explain: no cause lists the counter " + counter)
}
