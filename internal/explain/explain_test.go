package explain

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// mptcpOK is the evidence of an MPTCP connection with one subflow, a
// subflow endpoint and room for more: each case changes what it needs.
func mptcpOK() Evidence {
	return Evidence{
		Host: Host{
			Supported: true, OS: "linux", Enabled: true, EnabledKnown: true,
			Limits:    &Limits{Subflows: 8, AddAddrAccepted: 8},
			Endpoints: []Endpoint{{Addr: "10.0.2.2", Subflow: true, Text: "10.0.2.2 id 1 subflow dev c2"}},
		},
		MPTCP:    true,
		Info:     &Info{Token: 0x1234, Subflows: 1, SubflowsMax: 8, AddAddrAcceptedMax: 8},
		Counters: map[string]uint64{"MPCapableSYNTX": 1, "MPCapableSYNACKRX": 1, "MPJoinSynTx": 1},
		Local:    "10.0.1.2:40000", Remote: "10.0.1.1:80",
	}
}

func fallback() Evidence {
	ev := mptcpOK()
	ev.MPTCP, ev.Info = false, nil
	ev.Counters = map[string]uint64{"MPCapableSYNTX": 1, "MPCapableFallbackSYNACK": 1}
	return ev
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ev        func() Evidence
		codes     []string
		inference []bool
		says      string // in the first message
	}{
		{"two subflows", mptcpOK, nil, nil, ""},
		{"not linux", func() Evidence { return Evidence{Host: Host{OS: "darwin"}} }, []string{Unsupported}, []bool{false}, "darwin"},
		{"disabled", func() Evidence {
			ev := fallback()
			ev.Enabled, ev.Counters = false, map[string]uint64{}
			return ev
		}, []string{MPTCPDisabled}, []bool{false}, "sysctl -w net.mptcp.enabled=1"},
		{"fallback without capture", func() Evidence {
			ev := fallback()
			ev.HandshakeError = "operation not permitted"
			return ev
		}, []string{ServerNoMPTCP, OptionStripped}, []bool{true, true}, "run as root"},
		// A server without MPTCP and a SYN stripped on its way in look the
		// same from the client: both causes, each an inference.
		{"server without MPTCP, or stripped on the way in", func() Evidence {
			ev := fallback()
			ev.Handshake = &Handshake{SYN: true, SYNMPCapable: true, SYNACK: true, SYNACKNops: 1}
			return ev
		}, []string{ServerNoMPTCP, OptionStripped}, []bool{true, true}, "either it does not speak MPTCP"},
		{"stripped on this host", func() Evidence {
			ev := fallback()
			ev.Handshake = &Handshake{SYN: true, SYNNops: 12, SYNACK: true, SYNACKNops: 1}
			return ev
		}, []string{OptionStripped}, []bool{false}, "firewall rule on this host"},
		{"stripped on the way back", func() Evidence {
			ev := fallback()
			ev.Handshake = &Handshake{SYN: true, SYNMPCapable: true, SYNACK: true, SYNACKNops: 12}
			return ev
		}, []string{OptionStripped}, []bool{true}, "middlebox"},
		{"SYNs with the option dropped", func() Evidence {
			ev := fallback()
			ev.Counters = map[string]uint64{"MPCapableSYNTXDrop": 1}
			return ev
		}, []string{OptionStripped}, []bool{true}, "dropped"},
		{"SYNs dropped, blackhole detection tripped", func() Evidence {
			ev := fallback()
			ev.Counters = map[string]uint64{"MPCapableSYNTX": 1, "MPCapableSYNTXDrop": 1, "Blackhole": 1}
			ev.Socket = SocketFallback
			ev.Blackhole = &Blackhole{Active: true, ActiveKnown: true, Timeout: time.Hour, Detections: 1}
			return ev
		}, []string{OptionStripped, BlackholeDetected}, []bool{true, false}, "dropped"},
		{"blackhole: MPTCP not offered", func() Evidence {
			ev := fallback()
			ev.Counters = map[string]uint64{"MPCapableSYNTXDisabled": 1}
			ev.Socket = SocketEarlyFallback
			ev.Handshake = &Handshake{SYN: true, SYNACK: true}
			ev.Blackhole = &Blackhole{Active: true, ActiveKnown: true, Timeout: time.Hour, Detections: 1}
			return ev
		}, []string{BlackholeDetected}, []bool{false}, "for 1h0m0s after it tripped (net.mptcp.blackhole_timeout = 3600)"},
		{"blackhole on, but this connection offered MPTCP", func() Evidence {
			ev := fallback()
			ev.Counters["MPCapableSYNTXDisabled"] = 1
			ev.Handshake = &Handshake{SYN: true, SYNMPCapable: true, SYNACK: true}
			ev.Blackhole = &Blackhole{Active: true, ActiveKnown: true, Timeout: time.Hour, Detections: 1}
			return ev
		}, []string{ServerNoMPTCP, OptionStripped}, []bool{true, true}, "either it does not speak MPTCP"},
		{"blackhole: counter alone", func() Evidence {
			ev := fallback()
			ev.Counters = map[string]uint64{"MPCapableSYNTXDisabled": 1}
			ev.HandshakeError = "operation not permitted"
			return ev
		}, []string{BlackholeDetected}, []bool{true}, "net.mptcp.blackhole_timeout=0"},
		{"plain TCP socket", func() Evidence {
			ev := fallback()
			ev.Counters, ev.Socket = map[string]uint64{}, SocketPlain
			return ev
		}, []string{Unknown}, []bool{false}, "plain TCP socket"},
		{"fell back, by socket diagnostics", func() Evidence {
			ev := fallback()
			ev.Socket = SocketFallback
			return ev
		}, []string{ServerNoMPTCP, OptionStripped}, []bool{true, true}, "either it does not speak MPTCP"},
		{"plain TCP, nothing moved", func() Evidence {
			ev := fallback()
			ev.Counters = map[string]uint64{}
			return ev
		}, []string{Unknown}, []bool{true}, "does not say why"},
		{"no endpoint", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Endpoints = 0, nil
			return ev
		}, []string{NoEndpoint}, []bool{false}, "ip mptcp endpoint add ADDR dev DEV subflow"},
		{"endpoint of the other family", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Endpoints[0].IPv6 = true
			return ev
		}, []string{NoEndpoint}, []bool{false}, "no subflow endpoint"},
		{"announced address, no join yet", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Endpoints = 0, nil
			ev.Events = []Event{{Type: "established"}, {Type: "announced", Remote: "10.0.2.1:0"}}
			return ev
		}, []string{Unknown}, []bool{true}, "-wait"},
		{"announced address ignored", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Info.AddAddrAcceptedMax, ev.Endpoints = 0, 0, nil
			ev.Events = []Event{{Type: "established"}, {Type: "announced", Remote: "10.0.2.1:0"}}
			return ev
		}, []string{SubflowLimit}, []bool{false}, "ip mptcp limits set add_addr_accepted"},
		{"endpoint on the connection's own address", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Endpoints[0].Addr = "10.0.1.2"
			return ev
		}, []string{NoEndpoint}, []bool{false}, "no subflow endpoint"},
		{"endpoint, never established", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Events = []Event{{Type: "created"}}
			return ev
		}, []string{NotEstablished}, []bool{false}, "fully established"},
		{"endpoint, no events", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.EventsError = 0, "operation not permitted"
			return ev
		}, []string{Unknown}, []bool{true}, "no join was seen"},
		{"subflow limit", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Info.SubflowsMax = 0, 0
			ev.Limits.Subflows = 0
			return ev
		}, []string{SubflowLimit}, []bool{false}, "ip mptcp limits set subflows"},
		{"subflow limit and no endpoint", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Info.SubflowsMax, ev.Endpoints = 0, 0, nil
			ev.Limits.Subflows = 0
			return ev
		}, []string{SubflowLimit, NoEndpoint}, []bool{false, false}, "limit"},
		{"userspace path manager", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Userspace = 0, true
			return ev
		}, []string{NoEndpoint}, []bool{true}, "mptcpd"},
		{"path manager unreadable", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Limits, ev.Endpoints, ev.PathManagerError = 0, nil, nil, "not supported"
			return ev
		}, []string{NoEndpoint}, []bool{true}, "cannot be read"},
		{"join timed out", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Events = []Event{
				{Type: "created"}, {Type: "established"},
				{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80", Error: "connection timed out"},
			}
			return ev
		}, []string{JoinFailed}, []bool{false}, "the join from 10.0.2.2 to 10.0.1.1 failed (error connection timed out)"},
		{"join not sent: no route", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Counters["MPJoinSynTxConnectErr"] = 1
			ev.Events = []Event{{Type: "created"}, {Type: "established"}}
			return ev
		}, []string{JoinFailed}, []bool{true}, "the join from 10.0.2.2 could not be sent: connecting its subflow failed at once, most often because the endpoint's address has no route to the server; check the route with: ip route get 10.0.1.1 from 10.0.2.2"},
		{"join not sent by another connection", func() Evidence {
			ev := mptcpOK()
			ev.Counters["MPJoinSynTxConnectErr"] = 1
			ev.Events = []Event{{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"}}
			return ev
		}, nil, nil, ""},
		{"join not sent, another came up", func() Evidence {
			ev := mptcpOK()
			ev.Counters["MPJoinSynTxBindErr"] = 1
			ev.Endpoints = append(ev.Endpoints, Endpoint{Addr: "10.0.3.2", Subflow: true, Text: "10.0.3.2 id 2 subflow"})
			ev.Events = []Event{{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"}}
			return ev
		}, []string{JoinFailed}, []bool{true}, "the join from 10.0.3.2 could not be sent: binding"},
		{"join reset", func() Evidence {
			ev := mptcpOK()
			ev.Events = []Event{
				{Type: "sub_closed", Local: "[fd00:0:0:2::2]:41000", Remote: "[fd00:0:0:1::1]:80", ResetReason: "administratively prohibited"},
			}
			return ev
		}, []string{JoinFailed}, []bool{false}, "from fd00:0:0:2::2 to fd00:0:0:1::1 failed (reset reason administratively prohibited)"},
		{"join failed, then came up", func() Evidence {
			ev := mptcpOK()
			ev.Events = []Event{
				{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80", Error: "connection refused"},
				{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"},
			}
			return ev
		}, nil, nil, ""},
		{"subflow closed without error", func() Evidence {
			ev := mptcpOK()
			ev.Events = []Event{{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"}}
			return ev
		}, nil, nil, ""},
		{"join pending", func() Evidence {
			ev := mptcpOK()
			ev.Pending = []string{"10.0.2.2:41000 -> 10.0.1.1:80"}
			return ev
		}, []string{JoinPending}, []bool{true}, "no answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantExplained(t, Explain(tc.ev()), tc.codes, tc.inference, tc.says)
		})
	}
}

// Socket diagnostics tie the fallback to this connection.
func TestSocketEvidence(t *testing.T) {
	ev := fallback()
	ev.Socket = SocketFallback
	got := Explain(ev)
	if len(got) == 0 || !strings.Contains(strings.Join(got[0].Evidence, "\n"), "an MPTCP socket with the fallback flag") {
		t.Errorf("evidence: %+v", got)
	}
}

// Namespace-wide counters are marked as such in the evidence.
func TestCountersAreMarkedShared(t *testing.T) {
	got := Explain(fallback())
	if len(got) == 0 || !strings.Contains(strings.Join(got[0].Evidence, "\n"), "MPCapableFallbackSYNACK +1 across the dial (shared by every connection of the namespace)") {
		t.Errorf("evidence: %+v", got)
	}
}

// The JSON form: snake_case names, [] for no evidence.
func TestExplanationJSON(t *testing.T) {
	b, err := json.Marshal([]Explanation{{Code: "no-endpoint", Message: "m", Evidence: []string{"e"}, Inference: true}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"code":"no-endpoint","message":"m","evidence":["e"],"inference":true}]`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	if b, _ := json.Marshal(Explain(mptcpOK())); string(b) != "[]" {
		t.Errorf("nothing to explain: JSON %s, want []", b)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []byte
		mpc  bool
		nops int
	}{
		// Linux's SYN: MSS, SACK_PERM, timestamps, NOP, window scale,
		// then MP_CAPABLE (version 1, 4 bytes in a SYN).
		{"linux SYN with MP_CAPABLE", []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 30, 4, 0x01, 0x81}, true, 1},
		{"same, stripped", []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 1, 1, 1, 1}, false, 4},
		{"MP_JOIN is not MP_CAPABLE", []byte{30, 12, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, 0},
		{"no options", nil, false, 0},
		{"end of options stops", []byte{0, 30, 4, 0, 0}, false, 0},
		{"truncated", []byte{2, 4, 5}, false, 0},
		{"bad length", []byte{1, 8, 0, 30, 4, 0}, false, 1},
	} {
		mpc, nops := options(tc.opts)
		if mpc != tc.mpc || nops != tc.nops {
			t.Errorf("%s: MP_CAPABLE %v, NOP run %d; want %v, %d", tc.name, mpc, nops, tc.mpc, tc.nops)
		}
	}
}

func TestTCPSegment(t *testing.T) {
	v4 := make([]byte, 40)
	v4[0], v4[9] = 0x45, 6
	copy(v4[12:], []byte{10, 0, 1, 2, 10, 0, 1, 1})
	src, dst, tcp, ok := tcpSegment(v4)
	if !ok || src != netip.MustParseAddr("10.0.1.2") || dst != netip.MustParseAddr("10.0.1.1") || len(tcp) != 20 {
		t.Errorf("IPv4: %v %v %d bytes %v", src, dst, len(tcp), ok)
	}
	v6 := make([]byte, 60)
	v6[0], v6[6] = 0x60, 6
	v6[23], v6[39] = 2, 1
	if src, dst, tcp, ok := tcpSegment(v6); !ok || src.String() != "::2" || dst.String() != "::1" || len(tcp) != 20 {
		t.Errorf("IPv6: %v %v %d bytes %v", src, dst, len(tcp), ok)
	}
	v4[9] = 17 // UDP
	if _, _, _, ok := tcpSegment(v4); ok {
		t.Error("UDP taken for TCP")
	}
	if _, _, _, ok := tcpSegment([]byte{0x45}); ok {
		t.Error("a truncated packet taken for TCP")
	}
}

// The blackhole detection as doctor reports it: how long it lasts from
// the detections counted, and nothing when the probe says MPTCP is
// offered.
func TestHostBlackhole(t *testing.T) {
	if _, ok := HostBlackhole(nil); ok {
		t.Error("no blackhole state: want nothing")
	}
	if _, ok := HostBlackhole(&Blackhole{ActiveKnown: true, Timeout: time.Hour, Detections: 3}); ok {
		t.Error("not active: want nothing")
	}
	for _, tc := range []struct {
		detections uint64
		says       string
	}{
		{1, "for 1h0m0s after it tripped (net.mptcp.blackhole_timeout = 3600)"},
		{3, "with the 3 detections this namespace counted, at most 4h0m0s"},
		{50, "at most 64h0m0s"},
	} {
		e, ok := HostBlackhole(&Blackhole{Active: true, ActiveKnown: true, Timeout: time.Hour, Detections: tc.detections})
		if !ok || e.Code != BlackholeDetected || e.Inference || !strings.Contains(e.Message, tc.says) ||
			!strings.Contains(e.Message, "sysctl -w net.mptcp.blackhole_timeout=3600") || len(e.Evidence) == 0 {
			t.Errorf("%d detections: %v %+v; want %q and the sysctl", tc.detections, ok, e, tc.says)
		}
	}
}
