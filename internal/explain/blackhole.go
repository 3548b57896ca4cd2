package explain

import (
	"fmt"
	"time"
)

// Blackhole is the state of the kernel's MPTCP blackhole detection
// (Linux 6.12 and later) in one network namespace. When SYNs carrying
// MP_CAPABLE go unanswered syn_retrans_before_tcp_fallback times (2 by
// default) and the plain TCP retry gets through, the kernel takes the
// path for one that drops MPTCP and stops offering MPTCP on every
// outgoing connection of the namespace: they fall back before their SYN
// is sent. Listening sockets are not affected.
//
// The period is net.mptcp.blackhole_timeout after the detection, doubled
// for each detection since MPTCP was last seen working over loopback or
// the sysctl was last written, up to 64 times (net/mptcp/ctrl.c,
// mptcp_active_should_disable). The kernel shows neither the time of the
// last detection nor that count; the Blackhole counter, which only
// grows, bounds the count.
type Blackhole struct {
	// Active is true when the namespace's outgoing MPTCP connections
	// fall back before their SYN now; ActiveKnown says whether that could
	// be found out (a probe connection, see cmd/mptcpcheck).
	Active, ActiveKnown bool
	// Timeout is net.mptcp.blackhole_timeout, the first period; 0 when
	// the detection is off.
	Timeout time.Duration
	// Detections is the MPTcpExt counter Blackhole: how often the
	// detection tripped since the namespace was made.
	Detections uint64
}

// longest is the longest period the kernel can have set, from the
// detections counted: the timeout doubled for each detection after the
// first, up to 64 times.
func (b *Blackhole) longest() time.Duration {
	if b.Detections <= 1 {
		return b.Timeout
	}
	return b.Timeout << min(b.Detections-1, 6)
}

// lasts says how long the period lasts, as far as the kernel tells;
// trippedNow is true when the detection tripped during the dial.
func (b *Blackhole) lasts(trippedNow bool) string {
	since := "after it tripped"
	if trippedNow {
		since = "from now"
	}
	if b.Timeout == 0 {
		return "for as long as net.mptcp.blackhole_timeout says (it could not be read)"
	}
	if b.Detections <= 1 {
		return fmt.Sprintf("for %v %s (net.mptcp.blackhole_timeout = %d)", b.Timeout, since, int64(b.Timeout/time.Second))
	}
	return fmt.Sprintf("for net.mptcp.blackhole_timeout (%v) %s, doubled for each detection that follows another: "+
		"with the %d detections this namespace counted, at most %v (the kernel does not show when it last tripped)",
		b.Timeout, since, b.Detections, b.longest())
}

// blackholeFix is what to do about a blackhole.
const blackholeFix = "remove what drops SYNs that carry the MPTCP option (a firewall on the path, such as an iptables rule " +
	"matching --tcp-option 30), then turn MPTCP back on at once with sysctl -w net.mptcp.blackhole_timeout=3600 " +
	"(writing the sysctl ends the period), or turn the detection off with net.mptcp.blackhole_timeout=0"

// HostBlackhole returns the explanation for a namespace whose outgoing
// connections do not offer MPTCP now because of the blackhole detection,
// as doctor reports it, and false when b does not say so.
func HostBlackhole(b *Blackhole) (Explanation, bool) {
	if b == nil || !b.Active {
		return Explanation{}, false
	}
	return Explanation{
		Code: BlackholeDetected,
		Message: "the kernel's MPTCP blackhole detection has turned MPTCP off for outgoing connections of this network namespace, " +
			b.lasts(false) + ", after SYNs with the MPTCP option were dropped on a path: new connections are plain TCP; " + blackholeFix,
		Evidence: b.lines(),
	}, true
}

// lines is the evidence of the blackhole detection's state.
func (b *Blackhole) lines() []string {
	var l []string
	if b.ActiveKnown {
		if b.Active {
			l = append(l, "probe: a new MPTCP socket falls back before sending its SYN (the kernel's active MPTCP is disabled)")
		} else {
			l = append(l, "probe: a new MPTCP socket still offers MPTCP")
		}
	}
	l = append(l, fmt.Sprintf("counter Blackhole = %d (its detections since the network namespace was created; for the host's own, since boot)", b.Detections))
	if b.Timeout > 0 {
		l = append(l, fmt.Sprintf("net.mptcp.blackhole_timeout = %d", int64(b.Timeout/time.Second)))
	}
	return l
}

// explainBlackhole explains a connection that is not MPTCP because of the
// blackhole detection, or returns false. Two cases: the detection was
// already on and the kernel never offered MPTCP on this connection, or
// this connection's own MPTCP SYNs were dropped, which also trips it.
func explainBlackhole(ev Evidence, hs *Handshake, ev0 []string) ([]Explanation, bool) {
	b := ev.Blackhole
	if b == nil {
		b = &Blackhole{}
	}
	disabled, disabledMoved := counterLines(ev, "MPCapableSYNTXDisabled")
	drop, dropMoved := counterLines(ev, "MPCapableSYNTXDrop")
	tripped, trippedMoved := counterLines(ev, "Blackhole")
	// A SYN without MP_CAPABLE and without the NOPs of a stripped option
	// was sent so by this host's kernel.
	plainSYN := hs != nil && hs.SYN && !hs.SYNMPCapable && hs.SYNNops < StripNops
	// A socket that fell back before its handshake never offered MPTCP;
	// one the socket diagnostics list with the fallback flag did, and
	// fell back later (its last SYN, a retry, may be plain).
	early := ev.Socket == SocketEarlyFallback
	// This host, now, and this connection: certain. The counters alone are
	// the namespace's, and may come from another connection.
	certain := b.Active && (early || (plainSYN && ev.Socket != SocketFallback))
	// A connection seen offering MPTCP was not the one the detection
	// kept from it, whatever the namespace's counters say.
	offered := (hs != nil && hs.SYN && hs.SYNMPCapable) || ev.Socket == SocketFallback
	switch {
	case dropMoved && !early:
		return explainDrop(b, ev0, drop, tripped, trippedMoved), true
	case (disabledMoved && !offered) || certain:
		lines := append(ev0, disabled...)
		if plainSYN {
			lines = append(lines, "captured SYN: left this host without MP_CAPABLE, and without the NOPs of a stripped option")
		}
		return []Explanation{{
			Code: BlackholeDetected,
			Message: "the kernel did not offer MPTCP on this connection: its blackhole detection has turned MPTCP off for outgoing " +
				"connections of this network namespace, " + b.lasts(false) + ", after SYNs with the MPTCP option were dropped on a path; " +
				blackholeFix,
			Evidence:  append(lines, b.lines()...),
			Inference: !certain,
		}}, true
	}
	return nil, false
}

// explainDrop explains a connection whose SYNs with MP_CAPABLE were
// dropped, and the blackhole detection that this may have tripped.
func explainDrop(b *Blackhole, ev0, drop, tripped []string, trippedMoved bool) []Explanation {
	out := []Explanation{{
		Code: OptionStripped,
		Message: "SYNs carrying the MPTCP option were dropped on the path, and after syn_retrans_before_tcp_fallback " +
			"retransmissions the kernel retried without it: a middlebox or firewall that drops MPTCP; " + causeOf("MPCapableSYNTXDrop").Fix,
		Evidence:  append(ev0, drop...),
		Inference: true,
	}}
	if trippedMoved || b.Active {
		out = append(out, Explanation{
			Code: BlackholeDetected,
			Message: "the drop tripped the kernel's blackhole detection: MPTCP is off for outgoing connections of this network namespace " +
				b.lasts(trippedMoved) + "; " + blackholeFix,
			Evidence:  append(tripped, b.lines()...),
			Inference: !b.Active,
		})
	}
	return out
}
