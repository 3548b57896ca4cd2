package explain

import (
	"fmt"
	"slices"
	"strings"
)

// explainJoins reports each additional subflow that closed with an
// error or a reset and was not replaced by one between the same
// addresses, and each that came up and was closed at once.
func explainJoins(ev Evidence) []Explanation {
	var out []Explanation
	keys, last, wasUp := subflowEvents(ev)
	// After the peer withdrew an address, or once the connection closed,
	// subflows close without a failure.
	removed := slices.ContainsFunc(ev.Events, func(e Event) bool { return e.Type == "removed" || e.Type == "closed" })
	for _, key := range keys {
		e := last[key]
		if e.Type != "sub_closed" {
			continue
		}
		if e.Error == "" && e.ResetReason == "" {
			// A subflow that never came up, or closed for the reasons
			// above, is no failure.
			if wasUp[key] && !removed {
				out = append(out, explainRejected(ev, e))
			}
			continue
		}
		var why []string
		if e.Error != "" {
			why = append(why, "error "+e.Error)
		}
		if e.ResetReason != "" {
			why = append(why, "reset reason "+e.ResetReason)
		}
		lines := []string{fmt.Sprintf("path manager event sub_closed for this connection's token: %s -> %s, %s", e.Local, e.Remote, strings.Join(why, ", "))}
		c, _ := counterLines(ev, "MPJoinSynTx", "MPJoinSynAckRx", "MPRstRx")
		lines = append(lines, c...)
		meaning := ""
		if m := resetMeaning(e.ResetReason); m != "" {
			meaning = "; the peer reset it: " + m
		}
		from, to := joinEnds(ev, e)
		out = append(out, Explanation{
			Code:     JoinFailed,
			Message:  fmt.Sprintf("the join from %s to %s failed (%s)%s; the first path carries everything", from, to, strings.Join(why, ", "), meaning),
			Evidence: lines,
		})
	}
	out = append(out, explainClosed(ev, last)...)
	return append(out, explainJoinsNotSent(ev)...)
}

// subflowEvents returns the last sub_established or sub_closed event of
// each subflow, by "LOCAL REMOTE" in keys' order of first sight, and
// whether each came up at some point.
func subflowEvents(ev Evidence) (keys []string, last map[string]Event, wasUp map[string]bool) {
	last, wasUp = map[string]Event{}, map[string]bool{}
	for _, e := range ev.Events {
		if e.Type != "sub_established" && e.Type != "sub_closed" {
			continue
		}
		key := e.Local + " " + e.Remote
		if _, ok := last[key]; !ok {
			keys = append(keys, key)
		}
		if e.Type == "sub_established" {
			wasUp[key] = true
		}
		last[key] = e
	}
	return keys, last, wasUp
}

// joinSendErrors are the MPTcpExt counters of joins that failed before
// their SYN left, with what each means and what to check. The path
// manager sends no event for them: the counters are the only trace.
var joinSendErrors = []struct{ counter, cause, check string }{
	{"MPJoinSynTxConnectErr", "connecting its subflow failed at once, most often because the endpoint's address has no route to the server",
		"check the route with: ip route get %s from %s"},
	{"MPJoinSynTxBindErr", "binding its subflow to the endpoint's address or device failed (the address is no longer on the host?)",
		"check that %[2]s is still an address of this host (ip address show), then the endpoint (ip mptcp endpoint show)"},
	{"MPJoinSynTxCreatSkErr", "the kernel could not create its subflow's socket", "check the kernel log (dmesg) for %[2]s"},
}

// JoinNotSentCounters names the MPTcpExt counters of joins that failed
// before their SYN left, which a wait for joins counts as failed joins.
func JoinNotSentCounters() []string {
	names := make([]string, len(joinSendErrors))
	for i, j := range joinSendErrors {
		names[i] = j.counter
	}
	return names
}

// explainJoinsNotSent reports joins that failed before sending their SYN,
// from the namespace's counters: an inference, since another connection
// may have moved them, which names the endpoints that gave no subflow.
func explainJoinsNotSent(ev Evidence) []Explanation {
	var out []Explanation
	joined := map[string]bool{}
	for _, e := range ev.Events {
		if e.Type == "sub_established" {
			joined[host(e.Local)] = true
		}
	}
	var unused []Endpoint
	eps := subflowEndpoints(ev)
	for _, e := range eps {
		if !joined[e.Addr] {
			unused = append(unused, e)
		}
	}
	announced := slices.ContainsFunc(ev.Events, func(e Event) bool { return e.Type == "announced" })
	if ev.EventsError == "" && len(eps) > 0 && len(unused) == 0 && !announced {
		// Every join this connection could make came up: the counters
		// moved for another connection of the namespace.
		return nil
	}
	for _, j := range joinSendErrors {
		lines, moved := counterLines(ev, j.counter)
		if !moved {
			continue
		}
		from, check := "an endpoint", ""
		switch len(unused) {
		case 0:
		case 1:
			from = unused[0].Addr
			check = "; " + fmt.Sprintf(j.check, host(ev.Remote), unused[0].Addr)
		default:
			var addrs []string
			for _, e := range unused {
				addrs = append(addrs, e.Addr)
			}
			from = "one of " + strings.Join(addrs, ", ")
		}
		for _, e := range unused {
			lines = append(lines, "path manager endpoint without a subflow on this connection: "+e.Text)
		}
		out = append(out, Explanation{
			Code:      JoinFailed,
			Message:   fmt.Sprintf("the join from %s could not be sent: %s%s; the first path carries everything", from, j.cause, check),
			Evidence:  lines,
			Inference: true,
		})
	}
	return out
}

// subflowEndpoints lists the endpoints that give this connection a
// subflow of its own: the subflow flag, the connection's family, and an
// address other than the first subflow's.
func subflowEndpoints(ev Evidence) []Endpoint {
	var eps []Endpoint
	for _, e := range ev.Endpoints {
		if e.Subflow && e.IPv6 == ev.IPv6 && e.Addr != host(ev.Local) {
			eps = append(eps, e)
		}
	}
	return eps
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
			Message:   "one subflow: " + userspaceFix,
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
			Message:  "one subflow because " + subflowLimitFix,
			Evidence: lines,
		})
	}
	var subflowEPs []string
	for _, e := range subflowEndpoints(ev) {
		subflowEPs = append(subflowEPs, e.Text)
	}
	announced := slices.ContainsFunc(ev.Events, func(e Event) bool { return e.Type == "announced" })
	usableEPs := len(subflowEPs)
	if slices.ContainsFunc(ev.Events, func(e Event) bool { return e.DenyJoinInitial }) {
		usableEPs = 0 // they join the server's first address only
	}
	if e, ok := explainAnnounceDropped(ev, usableEPs); ok {
		out = append(out, e)
	}
	if ev.Limits != nil && len(subflowEPs) == 0 && info.AddAddrAccepted == 0 && !announced {
		lines := []string{"path manager endpoints with the subflow flag: none" + family(ev) + " besides the connection's own address"}
		msg, blind := "one subflow because this side has no subflow endpoint and the server announced no address; ", false
		switch {
		case ev.EventsError == "":
			lines = append(lines, "path manager events: no address announced by the server")
		case info.AddAddrAcceptedMax == 0:
			// mptcp_info counts only accepted announcements: with none
			// accepted, one dropped leaves no trace.
			lines = append(lines, "path manager events unavailable ("+ev.EventsError+
				"): missing evidence: an address the server announced and this side's limit (add_addr_accepted 0) dropped leaves no other trace")
			msg, blind = "one subflow because this side has no subflow endpoint, and no announced address was accepted (whether the server announced one cannot be seen without the path manager's events); ", true
		default:
			lines = append(lines, "path manager events unavailable ("+ev.EventsError+"): announcements known only from mptcp_info")
		}
		lines = append(lines, fmt.Sprintf("mptcp_info: add_addr_accepted %d", info.AddAddrAccepted))
		out = append(out, Explanation{
			Code:      NoEndpoint,
			Message:   msg + addEndpointFix,
			Evidence:  lines,
			Inference: blind,
		})
	}
	if e, ok := explainInitialDenied(ev); ok && info.SubflowsMax > 0 && (ev.Limits == nil || ev.Limits.Subflows > 0) {
		out = append(out, e)
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
				lines = append(lines, "path manager events unavailable: "+ev.EventsError,
					"missing evidence: without the events, a connection not fully established yet (not-established), a server that refuses joins to its first address (join-initial-denied), "+
						"refuses or resets the join (join-rejected, join-failed), or an address announced and dropped cannot be seen")
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
			Message:   "one subflow, and " + pmUnreadableFix,
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

// explainGone explains a connection whose mptcp_info counts more
// additional subflows than the kernel lists, when the path manager's
// events cannot be read: a join was made and is gone, refused, failed
// or never sent, which only its sub_closed event would tell apart. Older
// kernels (5.10, which has no events at all) count a join until the
// connection ends; with no answer to give, why names what it could not
// see rather than nothing, or a cause it cannot tell.
func explainGone(ev Evidence) []Explanation {
	if ev.Info == nil || ev.Listed == 0 || ev.EventsError == "" {
		return nil
	}
	gone := int(ev.Info.Subflows) - (ev.Listed - 1)
	if gone <= 0 {
		return nil
	}
	lines := []string{
		fmt.Sprintf("mptcp_info: subflows %d (the additional subflows the path manager made)", ev.Info.Subflows),
		fmt.Sprintf("the kernel lists %d subflow(s) for the connection, the first included: %d join(s) made and gone", ev.Listed, gone),
		"path manager events unavailable: " + ev.EventsError,
		"missing evidence: without the sub_closed event of the join, its error or reset reason cannot be seen: a server that refused it (join-rejected), " +
			"a join that timed out, was refused or reset (join-failed), or one that could not be sent (join-failed) look the same",
	}
	for _, e := range subflowEndpoints(ev) {
		lines = append(lines, "path manager endpoint: "+e.Text)
	}
	c, _ := counterLines(ev, append([]string{"MPJoinSynTx", "MPJoinSynAckRx", "MPRstTx", "MPRstRx"}, JoinNotSentCounters()...)...)
	lines = append(lines, c...)
	return []Explanation{{
		Code: Unknown,
		Message: fmt.Sprintf("%d join(s) the path manager made closed or failed, and without its events this side cannot see why; "+
			"compare the counters of both ends (nstat -az | grep MPJoin) and check the server's limits (ip mptcp limits show)", gone),
		Evidence:  lines,
		Inference: true,
	}}
}
