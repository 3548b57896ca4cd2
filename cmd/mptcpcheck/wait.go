package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/multipath-go/mptcp"
	mib "github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/pm"
)

// The bounds of the time left, once the expected joins are in, for the
// peer's announcements: they come about a round trip after the
// connection is fully established, and each can start another join.
const (
	announceSettleMin = 100 * time.Millisecond
	// announceSettleBlind is the settle time, from the start of the wait,
	// while the connection is not seen fully established (the path
	// manager's events cannot be read, or it is not yet).
	announceSettleBlind = 500 * time.Millisecond
)

// waitPoll is how often the wait looks at the connection.
const waitPoll = 20 * time.Millisecond

// waitSubflows waits, up to wait, until the joins the path manager will
// make for c have been made or have failed, and returns as soon as that
// is known: why and get both wait here before they report. The joins
// expected are one per subflow endpoint of this side (of the
// connection's family, on another address than the first subflow's) and
// one per address the peer announced, within the connection's limit; a
// join fails when the path manager reports its subflow closed, or, for a
// join that could not even send its SYN (no route from the endpoint's
// address), when a counter of such failures moves. A join still in
// SYN_SENT is waited for. Once the expected joins are in, announcements
// may still come: they are waited for a few round trips after the
// connection became fully established, unless no announced address could
// add a subflow (the subflow limit reached): one dropped by the limit of
// accepted addresses explains a missing subflow. A join to the server's
// first address is not waited for when the server refuses them
// (deny_join_id0). A connection that is not MPTCP is not waited
// for.
func (g *gatherer) waitSubflows(ctx context.Context, c *mptcp.MPTCPConn, wait time.Duration) {
	start := time.Now()
	deadline := start.Add(wait)
	var eps []pm.Endpoint
	if g.pmConn != nil {
		eps, _ = g.pmConn.Endpoints()
	}
	local, _ := netip.ParseAddrPort(c.LocalAddr().String())
	fromEndpoints := 0
	for _, e := range eps {
		if e.Flags&pm.FlagSubflow != 0 && e.Addr.Unmap() != local.Addr().Unmap() && e.Addr.Unmap().Is4() == local.Addr().Unmap().Is4() {
			fromEndpoints++
		}
	}
	var establishedAt time.Time
	for {
		ok, err := c.MultipathTCP()
		if err != nil || !ok {
			return
		}
		info, subs, err := c.Snapshot(nil)
		if err != nil {
			return
		}
		want, failed, established := fromEndpoints, g.joinsNotSent(), false
		announced, denyInitial := 0, false
		for _, ev := range g.eventsOf(info.Token) {
			switch ev.Type {
			case pm.EventAnnounced:
				announced++
			case pm.EventSubflowClosed:
				failed++
			case pm.EventEstablished:
				established = true
			}
			denyInitial = denyInitial || ev.Flags&pm.EventFlagDenyJoinID0 != 0
		}
		if denyInitial {
			// The server refuses joins to its first address, the only
			// one the endpoints' joins go to: none will be made.
			want = 0
		}
		// Announcements beyond the limit of accepted addresses are
		// dropped: they make no join.
		want += min(announced, int(info.AddAddrAcceptedMax))
		if established && establishedAt.IsZero() {
			establishedAt = time.Now()
		}
		want = min(want, int(info.SubflowsMax))
		// mptcp_info counts a join still in SYN_SENT: wait for it too.
		if len(pendingJoins(subs)) == 0 && int(info.Subflows)+failed >= want {
			switch {
			case info.Subflows >= info.SubflowsMax:
				return // no announcement could add a subflow
			case info.AddAddrAccepted >= info.AddAddrAcceptedMax && g.subErr != nil:
				return // nor could one be seen, without the events
			// A limit of accepted addresses that is reached still waits:
			// an announcement it drops is the explanation of a single
			// subflow, which why must not miss (add_addr_accepted is 0
			// by default).
			case establishedAt.IsZero() && time.Since(start) >= min(wait, announceSettleBlind):
				// No events to read, or no sign of the connection
				// becoming fully established, which announcements
				// wait for.
				return
			case !establishedAt.IsZero() && time.Since(establishedAt) >= announceSettle(subs):
				return
			}
		}
		if !time.Now().Before(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(waitPoll, time.Until(deadline))):
		}
	}
}

// announceSettle is how long announcements are waited for once the
// connection is fully established: a few round trips of its first
// subflow, at least announceSettleMin.
func announceSettle(subs []mptcp.Subflow) time.Duration {
	if len(subs) == 0 {
		return announceSettleMin
	}
	return max(announceSettleMin, 4*subs[0].TCP.RTT)
}

// joinsNotSent returns how many joins of the namespace failed before
// sending their SYN since the gatherer started, or 0 when the counters
// cannot be read.
func (g *gatherer) joinsNotSent() int {
	if g.beforeErr != nil {
		return 0
	}
	now, err := mib.Read(nil)
	if err != nil {
		return 0
	}
	n := 0
	diff := now.Sub(g.before)
	for _, name := range explain.JoinNotSentCounters() {
		v, _ := diff.Get(name)
		n += int(v)
	}
	return n
}

// pendingJoins lists the subflows still waiting for their SYN/ACK, as
// "LOCAL -> REMOTE".
func pendingJoins(subs []mptcp.Subflow) []string {
	return subflowsIn(subs, mptcp.StateSynSent)
}

// subflowsIn lists the subflows in state st, as "LOCAL -> REMOTE".
func subflowsIn(subs []mptcp.Subflow, st mptcp.TCPState) []string {
	var p []string
	for _, s := range subs {
		if s.TCP.State == st {
			p = append(p, fmt.Sprintf("%v -> %v", s.Local, s.Remote))
		}
	}
	return p
}
