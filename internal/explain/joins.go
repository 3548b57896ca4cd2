package explain

import (
	"fmt"
	"slices"
	"strings"
)

// resetReasons says what each MP_TCPRST reason (RFC 8684, section 3.6,
// as pm.ResetReason's String names it) means when it closes a subflow,
// and what to check. The kernel sends them on its own: "MPTCP-specific
// error" for a bad HMAC or option, "administratively prohibited" for a
// join its path manager refuses, "middlebox interference" after a
// failed data checksum; the others come from other implementations.
var resetReasons = []struct{ reason, meaning, fix string }{
	{"unspecified error", "the peer gave no reason",
		"compare the MPTcpExt counters of both ends (nstat -az | grep MPTcp)"},
	{"MPTCP-specific error", "the peer found an MPTCP protocol error on the subflow (a wrong HMAC in the join, a missing or altered option)",
		"a middlebox on that path may rewrite TCP options; compare both ends' counters (MPJoinAckHMacFailure, DSSNotMatching)"},
	{"lack of resources", "the peer had no room for another subflow",
		"check the peer's path manager limits (ip mptcp limits show) and memory"},
	{"administratively prohibited", "the peer's policy refuses the subflow: its path manager's subflow limit, or joins to its first address (net.mptcp.allow_join_initial_addr_port=0)",
		"raise the peer's limit (ip mptcp limits set subflows 2) or let it accept joins to its first address (sysctl -w net.mptcp.allow_join_initial_addr_port=1)"},
	{"too much outstanding data", "the peer closed the subflow because too much data waited on it to be acknowledged",
		"the path is too slow or lossy for the peer: look at its RTT and retransmissions (ss -ti)"},
	{"unacceptable performance", "the peer closed the subflow for its poor performance",
		"the path is too slow or lossy for the peer: look at its RTT and retransmissions (ss -ti)"},
	{"middlebox interference", "the peer saw the subflow's data or options changed on the way (a failed data checksum, net.mptcp.checksum_enabled): a device on that path rewrites them",
		"remove or bypass the device on that path, or the endpoint that uses it (ip mptcp endpoint delete id ID)"},
}

// ResetReasons names the MP_TCPRST reasons the rules know, in the
// order of their codes, for the table of causes.
func ResetReasons() []string {
	names := make([]string, len(resetReasons))
	for i, r := range resetReasons {
		names[i] = r.reason
	}
	return names
}

// resetFix is what to check for reason.
func resetFix(reason string) string {
	for _, r := range resetReasons {
		if r.reason == reason {
			return r.fix
		}
	}
	return ""
}

// resetMeaning is what the reason means and what to check, as one
// clause, or "" for a reason the rules do not know.
func resetMeaning(reason string) string {
	for _, r := range resetReasons {
		if r.reason == reason {
			return r.meaning + "; " + r.fix
		}
	}
	return ""
}

// serverSide reports evidence gathered on the side that accepted the
// connection: its joins come from the peer.
func serverSide(ev Evidence) bool {
	return slices.ContainsFunc(ev.Events, func(e Event) bool { return e.ServerSide })
}

// joinEnds names a subflow's ends as the join went, from the side that
// opened it.
func joinEnds(ev Evidence, e Event) (from, to string) {
	if serverSide(ev) {
		return host(e.Remote), host(e.Local)
	}
	return host(e.Local), host(e.Remote)
}

// explainRejected explains a join that came up and was closed at once,
// with no error and no reset reason. From the client, that is what a
// join refused by the server after its handshake looks like: the server
// answers the join's third ACK with a reset (reason "administratively
// prohibited", counted in its MPJoinRejected), but a join is not fully
// established until the server acknowledges that ACK, and the kernel
// resets such a subflow itself on any other segment, the reset included,
// before it reads the reason (so MPRstTx moves here, not MPRstRx).
func explainRejected(ev Evidence, e Event) Explanation {
	from, to := joinEnds(ev, e)
	lines := []string{
		fmt.Sprintf("path manager events for this connection's token: sub_established, then sub_closed with no error and no reset reason: %s -> %s", e.Local, e.Remote),
	}
	c, _ := counterLines(ev, "MPRstTx", "MPJoinSynAckRx", "MPJoinRejected")
	return Explanation{
		Code: JoinRejected,
		Message: fmt.Sprintf("the join from %s to %s was closed as soon as it came up: the server refused it after its handshake, most often because its limit of subflows is reached "+
			"(check on the server: ip mptcp limits show, and its counter MPJoinRejected; raise it there with: ip mptcp limits set subflows 2); the first path carries everything", from, to),
		Evidence:  append(lines, c...),
		Inference: true,
	}
}

// checksumCounters are the MPTcpExt counters of a data checksum failure
// on this side.
var checksumCounters = []string{"DataCsumErr", "DSSCorruptionReset", "MPFailTx"}

// explainClosed explains the subflows the kernel lists as closed at the
// end of the wait that no sub_closed event reported: the kernel reports
// a subflow it reset on its own only once its worker disposes of it.
func explainClosed(ev Evidence, last map[string]Event) []Explanation {
	var out []Explanation
	for _, s := range ev.Closed {
		l, r, _ := strings.Cut(s, " -> ")
		if last[l+" "+r].Type == "sub_closed" {
			continue
		}
		lines := []string{fmt.Sprintf("subflow %s in state CLOSE, its close not reported by the path manager yet", s)}
		c, csum := counterLines(ev, checksumCounters...)
		lines = append(lines, c...)
		msg := fmt.Sprintf("the subflow from %s to %s is closed and the path manager did not say why by the end of the wait", host(l), host(r))
		if csum {
			rst, _ := counterLines(ev, "MPRstTx")
			lines = append(lines, rst...)
			msg = fmt.Sprintf("the subflow from %s to %s was reset by this side after a data checksum failure: a device on that path changes the payload "+
				"(the checksum, net.mptcp.checksum_enabled, caught it; the peer is told \"middlebox interference\"); %s", host(l), host(r), resetFix("middlebox interference"))
		}
		out = append(out, Explanation{Code: JoinFailed, Message: msg, Evidence: lines, Inference: true})
	}
	return out
}

// explainInitialDenied explains a connection with one subflow whose
// server refuses joins to its first address and announced no other that
// this side accepted: the subflow endpoints of this side have nothing to
// join. An announcement dropped by this side's limit is explained
// beside it (subflow-limit).
func explainInitialDenied(ev Evidence) (Explanation, bool) {
	i := slices.IndexFunc(ev.Events, func(e Event) bool { return e.DenyJoinInitial })
	eps := subflowEndpoints(ev)
	announced := slices.ContainsFunc(ev.Events, func(e Event) bool { return e.Type == "announced" })
	if i < 0 || len(eps) == 0 || (announced && ev.Info.AddAddrAccepted < ev.Info.AddAddrAcceptedMax) {
		return Explanation{}, false
	}
	lines := []string{fmt.Sprintf("path manager event %s for this connection's token: flag deny_join_id0 (the server refuses subflows to its first address)", ev.Events[i].Type)}
	if announced {
		lines = append(lines, "path manager events: the server announced addresses, which this side's limit of accepted addresses dropped")
	} else {
		lines = append(lines, "path manager events: no address announced by the server")
	}
	for _, e := range eps {
		lines = append(lines, "path manager endpoint (it joins the server's first address only): "+e.Text)
	}
	return Explanation{
		Code:     JoinInitialDenied,
		Message:  "one subflow: the server refuses subflows to the address this connection started on, and announced no other; " + initialDeniedFix,
		Evidence: lines,
	}, true
}

// initialDeniedFix is what the server's operator changes, one wording
// for doctor and why.
const initialDeniedFix = "on the server, either allow them with: sysctl -w net.mptcp.allow_join_initial_addr_port=1, or announce a second address with: ip mptcp endpoint add ADDR dev DEV signal"

// hostInitialDenied is the host's verdict when it refuses joins to the
// first address of the connections it accepts and announces none.
func hostInitialDenied(h Host) (Explanation, bool) {
	if !h.DenyJoinInitial || slices.ContainsFunc(h.Endpoints, func(e Endpoint) bool { return e.Signal }) {
		return Explanation{}, false
	}
	return Explanation{
		Code: JoinInitialDenied,
		Message: "connections this host accepts get one subflow: it refuses subflows to the address a connection started on and announces no other; " +
			strings.TrimPrefix(initialDeniedFix, "on the server, "),
		Evidence: []string{"net.mptcp.allow_join_initial_addr_port = 0", "path manager endpoints: none with the signal flag"},
	}, true
}

// explainBackup says so when every additional subflow that is up is a
// backup: the connection sends on one path at a time, as configured.
// A backup is one the peer asked for (the event's flag) or one opened
// from an endpoint of this side with the backup flag.
func explainBackup(ev Evidence) []Explanation {
	backupEP := map[string]Endpoint{}
	for _, e := range ev.Endpoints {
		if e.Backup {
			backupEP[e.Addr] = e
		}
	}
	if ev.EventsError != "" {
		eps := subflowEndpoints(ev)
		if ev.Info == nil || ev.Info.Subflows == 0 || len(eps) == 0 || slices.ContainsFunc(eps, func(e Endpoint) bool { return !e.Backup }) {
			return nil
		}
		lines := []string{fmt.Sprintf("mptcp_info: subflows %d", ev.Info.Subflows), "path manager events unavailable: " + ev.EventsError}
		for _, e := range eps {
			lines = append(lines, "path manager endpoint with the backup flag: "+e.Text)
		}
		return []Explanation{{Code: BackupPath, Message: "the additional subflows come from endpoints with the backup flag: " + backupFix, Evidence: lines, Inference: true}}
	}
	keys, last, _ := subflowEvents(ev)
	var lines, paths []string
	for _, k := range keys {
		e := last[k]
		if e.Type != "sub_established" || slices.Contains(ev.Closed, e.Local+" -> "+e.Remote) {
			continue
		}
		from, to := joinEnds(ev, e)
		ep, local := backupEP[host(e.Local)]
		switch {
		case local:
			lines = append(lines, fmt.Sprintf("path manager event sub_established: %s -> %s, from the endpoint %s", e.Local, e.Remote, ep.Text))
		case e.Backup:
			lines = append(lines, fmt.Sprintf("path manager event sub_established: %s -> %s, backup (the peer asked for it)", e.Local, e.Remote))
		default:
			return nil // a subflow that carries data: nothing to say
		}
		paths = append(paths, from+" -> "+to)
	}
	if len(paths) == 0 {
		return nil
	}
	return []Explanation{{
		Code:     BackupPath,
		Message:  fmt.Sprintf("every additional subflow is a backup (%s): %s", strings.Join(paths, ", "), backupFix),
		Evidence: lines,
	}}
}

// backupFix says what a backup subflow does and how to change it, one
// wording for doctor and why.
const backupFix = "a backup carries data only when the other paths fail, as the backup flag asks; this is a setting, not a failure. " +
	"To send on every path at once, drop the flag where it is set: ip mptcp endpoint change id ID nobackup"

// hostBackup is the host's verdict when every subflow endpoint has the
// backup flag: the subflows they open carry data only on a failure.
func hostBackup(h Host) (Explanation, bool) {
	var lines []string
	for _, e := range h.Endpoints {
		if !e.Subflow {
			continue
		}
		if !e.Backup {
			return Explanation{}, false
		}
		lines = append(lines, "path manager endpoint with the backup flag: "+e.Text)
	}
	if len(lines) == 0 {
		return Explanation{}, false
	}
	return Explanation{Code: BackupPath, Message: "the subflows this host's endpoints open are backups: " + backupFix, Evidence: lines}, true
}

// explainAnnounceDropped explains a connection with one subflow whose
// server announced addresses this side did not accept: its limit of
// accepted addresses (add_addr_accepted) is reached, 0 by default. The
// kernel then only echoes the announcement (EchoAddTx); it counts
// AddAddrDrop only for one that came while the path manager was busy.
func explainAnnounceDropped(ev Evidence, subflowEPs int) (Explanation, bool) {
	info := ev.Info
	var addrs []string
	for _, e := range ev.Events {
		if e.Type == "announced" && !slices.Contains(addrs, host(e.Remote)) {
			addrs = append(addrs, host(e.Remote))
		}
	}
	if len(addrs) == 0 || subflowEPs > 0 || info.SubflowsMax == 0 || info.AddAddrAccepted < info.AddAddrAcceptedMax {
		return Explanation{}, false
	}
	lines := []string{"path manager events announced for this connection's token: " + strings.Join(addrs, ", "),
		fmt.Sprintf("mptcp_info: add_addr_accepted %d, add_addr_accepted_max %d", info.AddAddrAccepted, info.AddAddrAcceptedMax)}
	c, _ := counterLines(ev, "AddAddr", "EchoAddTx", "AddAddrDrop")
	lines = append(lines, c...)
	msg := "one subflow: the server announced an address, but this side accepts none (limit add_addr_accepted 0); raise it with: ip mptcp limits set add_addr_accepted 2"
	if info.AddAddrAcceptedMax > 0 {
		msg = fmt.Sprintf("one subflow: the server announced %d addresses, and this side accepts at most %d (limit add_addr_accepted), all taken; raise it with: ip mptcp limits set add_addr_accepted %d",
			len(addrs), info.AddAddrAcceptedMax, min(8, int(info.AddAddrAcceptedMax)+len(addrs)))
	}
	return Explanation{Code: SubflowLimit, Message: msg, Evidence: lines}, true
}
