package explain

import "slices"

// explainCounted explains a fallback from the counters that name its
// cause, or returns false. From 6.17 on the kernel counts each fallback
// once, by cause; a checksum failure is told apart from the other data
// fallbacks by DataCsumErr, which older kernels count too. The counters
// are the namespace's, so each explanation is an inference.
func explainCounted(ev Evidence, ev0 []string) ([]Explanation, bool) {
	// A checksum failure also counts the fallback it caused: DssFallback
	// on the receiving side (measured on 6.18), the infinite mapping and
	// MP_FAIL where the peer had to be told. On a kernel without
	// DssFallback, the socket diagnostics' fallback flag ties it to a
	// fallback.
	csum, csumMoved := counterLines(ev, "DataCsumErr")
	fb, fbMoved := counterLines(ev, "DssFallback", "InfiniteMapTx", "InfiniteMapRx", "MPFailTx", "MPFailRx")
	if csumMoved && (fbMoved || ev.Socket == SocketFallback) {
		return []Explanation{counted("DataCsumErr", append(append(ev0, csum...), fb...))}, true
	}
	for _, name := range []string{"SimultConnectFallback", "MD5SigFallback", "MPFallbackTokenInit",
		"MPCapableDataFallback", "DssFallback", "DSSCorruptionFallback", "FallbackFailed"} {
		if lines, moved := counterLines(ev, name); moved {
			return []Explanation{counted(name, append(ev0, lines...))}, true
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
