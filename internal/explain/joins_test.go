package explain

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The rules of the join-side causes, from evidence as the test bed
// produces it (see cmd/mptcpcheck's why_joins_linux_test.go).
func TestExplainJoinCauses(t *testing.T) {
	established := []Event{{Type: "created"}, {Type: "established"}}
	for _, tc := range []struct {
		name      string
		ev        func() Evidence
		codes     []string
		inference []bool
		says      string // in the first message
		evidence  string // in the first evidence
	}{
		{"server refuses joins to its first address", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Events = []Event{{Type: "created", DenyJoinInitial: true}, {Type: "established", DenyJoinInitial: true}}
			return ev
		}, []string{JoinInitialDenied}, []bool{false}, "net.mptcp.allow_join_initial_addr_port=1", "flag deny_join_id0"},
		// The server announced another address: the refusal is not why
		// the endpoint has no subflow.
		{"refuses joins to its first address, announced another", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Events = []Event{{Type: "established", DenyJoinInitial: true}, {Type: "announced", Remote: "10.0.2.1:80"}}
			return ev
		}, []string{Unknown}, []bool{true}, "no join was seen", ""},
		// The server's other address is dropped by this side's limit:
		// both causes.
		{"refuses joins to its first address, announced another that was dropped", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Info.AddAddrAcceptedMax = 0, 0
			ev.Events = []Event{{Type: "established", DenyJoinInitial: true}, {Type: "announced", Remote: "10.0.2.1:80"}}
			return ev
		}, []string{SubflowLimit, JoinInitialDenied}, []bool{false, false}, "add_addr_accepted", "announced"},
		// This side's own limit of subflows is the cause that matters.
		{"refuses joins to its first address, subflow limit 0 here", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Info.SubflowsMax, ev.Limits.Subflows = 0, 0, 0
			ev.Events = []Event{{Type: "established", DenyJoinInitial: true}}
			return ev
		}, []string{SubflowLimit}, []bool{false}, "ip mptcp limits set subflows", ""},
		// Without an endpoint, nothing would join even an allowed address.
		{"refuses joins, no endpoint", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Endpoints = 0, nil
			ev.Events = []Event{{Type: "established", DenyJoinInitial: true}}
			return ev
		}, []string{NoEndpoint}, []bool{false}, "no subflow endpoint", ""},
		{"announced address dropped by add_addr_accepted 0", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Info.AddAddrAcceptedMax, ev.Endpoints = 0, 0, nil
			ev.Events = append(established, Event{Type: "announced", Remote: "10.0.2.1:80"})
			ev.Counters = map[string]uint64{"AddAddr": 1, "EchoAddTx": 1}
			return ev
		}, []string{SubflowLimit}, []bool{false}, "ip mptcp limits set add_addr_accepted 2", "announced for this connection's token: 10.0.2.1"},
		{"announced addresses beyond the limit", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows, ev.Info.AddAddrAccepted, ev.Info.AddAddrAcceptedMax, ev.Endpoints = 0, 1, 1, nil
			ev.Events = append(established, Event{Type: "announced", Remote: "10.0.2.1:80"}, Event{Type: "announced", Remote: "10.0.3.1:80"})
			return ev
		}, []string{SubflowLimit}, []bool{false}, "accepts at most 1", ""},
		{"join refused after its handshake", func() Evidence {
			ev := mptcpOK()
			ev.Info.Subflows = 0
			ev.Events = append(established,
				Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"},
				Event{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"})
			ev.Counters["MPRstTx"] = 1
			return ev
		}, []string{JoinRejected}, []bool{true}, "ip mptcp limits set subflows", "sub_established, then sub_closed"},
		// The peer withdrew the address: the path manager closed the
		// subflow, no failure.
		{"joined subflow closed after the address was removed", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established,
				Event{Type: "sub_established", Local: "10.0.1.2:41000", Remote: "10.0.2.1:80"},
				Event{Type: "removed"},
				Event{Type: "sub_closed", Local: "10.0.1.2:41000", Remote: "10.0.2.1:80"},
				Event{Type: "sub_established", Local: "10.0.2.2:41001", Remote: "10.0.1.1:80"})
			return ev
		}, nil, nil, "", ""},
		{"joined subflow closed with the connection", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established,
				Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"},
				Event{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"},
				Event{Type: "closed"})
			return ev
		}, nil, nil, "", ""},
		{"join reset by the peer: middlebox", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established,
				Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"},
				Event{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80", Error: "connection reset by peer", ResetReason: "middlebox interference"})
			return ev
		}, []string{JoinFailed}, []bool{false}, "the peer reset it: the peer saw the subflow's data or options changed on the way", "reset reason middlebox interference"},
		{"join reset by the peer: prohibited", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established,
				Event{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80", ResetReason: "administratively prohibited"})
			return ev
		}, []string{JoinFailed}, []bool{false}, "ip mptcp limits set subflows 2", ""},
		{"join reset by an unknown reason", func() Evidence {
			ev := mptcpOK()
			ev.Events = []Event{{Type: "sub_closed", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80", ResetReason: "reason(9)"}}
			return ev
		}, []string{JoinFailed}, []bool{false}, "failed (reset reason reason(9)); the first path", ""},
		// On the accepting side the join goes from the peer's address.
		{"server side: join reset by the client", func() Evidence {
			ev := mptcpOK()
			ev.Local, ev.Remote = "10.0.1.1:80", "10.0.1.2:40000"
			ev.Events = []Event{{Type: "created", ServerSide: true}, {Type: "established", ServerSide: true},
				{Type: "sub_established", Local: "10.0.1.1:80", Remote: "10.0.2.2:41000"},
				{Type: "sub_closed", Local: "10.0.1.1:80", Remote: "10.0.2.2:41000", Error: "connection reset by peer", ResetReason: "middlebox interference"}}
			return ev
		}, []string{JoinFailed}, []bool{false}, "the join from 10.0.2.2 to 10.0.1.1 failed", ""},
		{"subflow reset here after a checksum failure", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established, Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"})
			ev.Closed = []string{"10.0.2.2:41000 -> 10.0.1.1:80"}
			ev.Counters = map[string]uint64{"DataCsumErr": 1, "MPFailTx": 1, "MPRstTx": 1}
			return ev
		}, []string{JoinFailed}, []bool{true}, "data checksum failure", "in state CLOSE"},
		{"subflow closed, no counter says why", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established, Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"})
			ev.Closed = []string{"10.0.2.2:41000 -> 10.0.1.1:80"}
			return ev
		}, []string{JoinFailed}, []bool{true}, "did not say why", ""},
		{"backup endpoint", func() Evidence {
			ev := mptcpOK()
			ev.Endpoints[0].Backup = true
			ev.Events = append(established, Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80"})
			return ev
		}, []string{BackupPath}, []bool{false}, "not a failure", "from the endpoint 10.0.2.2"},
		{"backup asked by the peer", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established, Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80", Backup: true})
			return ev
		}, []string{BackupPath}, []bool{false}, "every additional subflow is a backup (10.0.2.2 -> 10.0.1.1)", "the peer asked for it"},
		// One backup among others that carry data: nothing to say.
		{"backup beside a path that carries data", func() Evidence {
			ev := mptcpOK()
			ev.Events = append(established,
				Event{Type: "sub_established", Local: "10.0.2.2:41000", Remote: "10.0.1.1:80", Backup: true},
				Event{Type: "sub_established", Local: "10.0.3.2:41000", Remote: "10.0.1.1:80"})
			return ev
		}, nil, nil, "", ""},
		{"backup endpoint, no events", func() Evidence {
			ev := mptcpOK()
			ev.Endpoints[0].Backup = true
			ev.EventsError = "operation not permitted"
			return ev
		}, []string{BackupPath}, []bool{true}, "backup flag", "mptcp_info: subflows 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.ev())
			wantExplained(t, got, tc.codes, tc.inference, tc.says)
			if tc.evidence != "" && !strings.Contains(got[0].Evidence[0], tc.evidence) {
				t.Errorf("evidence %q lacks %q", got[0].Evidence[0], tc.evidence)
			}
		})
	}
}

// wantExplained fails unless got is non-nil with exactly codes, each
// with a message and evidence and marked an inference as inference says,
// and its first message says says ("": anything).
func wantExplained(t *testing.T, got []Explanation, codes []string, inference []bool, says string) {
	t.Helper()
	if got == nil {
		t.Fatal("Explain returned nil, want a non-nil slice")
	}
	var gotCodes []string
	var inf []bool
	for _, e := range got {
		gotCodes, inf = append(gotCodes, e.Code), append(inf, e.Inference)
		if e.Message == "" || len(e.Evidence) == 0 {
			t.Errorf("%s: no message or no evidence: %+v", e.Code, e)
		}
	}
	if fmt.Sprint(gotCodes) != fmt.Sprint(codes) || fmt.Sprint(inf) != fmt.Sprint(inference) {
		t.Fatalf("codes %v inference %v, want %v %v\n%+v", gotCodes, inf, codes, inference, got)
	}
	if says != "" && !strings.Contains(got[0].Message, says) {
		t.Errorf("message %q lacks %q", got[0].Message, says)
	}
}

// On a kernel without the path manager's events (before 5.12), or
// without CAP_NET_ADMIN, the join-side causes they show are named as
// missing evidence, not guessed: the same connection as the server that
// refuses joins to its first address gives unknown, as an inference.
func TestJoinEvidenceMissing(t *testing.T) {
	ev := mptcpOK()
	ev.Info.Subflows, ev.EventsError = 0, "no path manager events on this kernel"
	got := Explain(ev)
	ev2 := strings.Join(got[0].Evidence, "\n")
	if len(got) != 1 || got[0].Code != Unknown || !got[0].Inference ||
		!strings.Contains(ev2, "missing evidence: without the events, a connection not fully established yet (not-established)") ||
		!strings.Contains(ev2, "a server that refuses joins to its first address (join-initial-denied)") {
		t.Errorf("want unknown naming the missing events: %+v", got)
	}
}

// Without events, on a kernel that keeps counting a join that is gone
// (5.10), mptcp_info's count above the subflows listed is the only trace
// of a failed join: why says unknown and names what it cannot see, not
// nothing (the count alone looks like a connection with every subflow).
func TestJoinGoneWithoutEvents(t *testing.T) {
	ev := mptcpOK()
	ev.Info.Subflows, ev.Listed, ev.EventsError = 1, 1, "no path manager events on this kernel"
	got := Explain(ev)
	wantExplained(t, got, []string{Unknown}, []bool{true}, "1 join(s) the path manager made closed or failed")
	lines := strings.Join(got[0].Evidence, "\n")
	for _, want := range []string{"mptcp_info: subflows 1", "the kernel lists 1 subflow(s)", "path manager events unavailable",
		"missing evidence", "(join-rejected)", "path manager endpoint: 10.0.2.2"} {
		if !strings.Contains(lines, want) {
			t.Errorf("evidence lacks %q:\n%s", want, lines)
		}
	}
	// Every join counted is listed: nothing to explain. With the events,
	// their sub_closed says it (the other rules); unknown list: nothing.
	for _, tc := range []struct {
		listed int
		err    string
	}{{2, ev.EventsError}, {1, ""}, {0, ev.EventsError}} {
		ev.Listed, ev.EventsError = tc.listed, tc.err
		if got := Explain(ev); len(got) != 0 {
			t.Errorf("listed %d, events error %q: %+v, want nothing", tc.listed, tc.err, got)
		}
	}
}

// Without events, an announcement dropped by add_addr_accepted 0 leaves
// no trace: no-endpoint is then an inference that says so.
func TestNoEndpointWithoutEvents(t *testing.T) {
	ev := mptcpOK()
	ev.Info.Subflows, ev.Info.AddAddrAcceptedMax, ev.Endpoints = 0, 0, nil
	ev.EventsError = "no path manager events on this kernel"
	got := Explain(ev)
	wantExplained(t, got, []string{NoEndpoint}, []bool{true}, "cannot be seen without the path manager's events")
	if !strings.Contains(strings.Join(got[0].Evidence, "\n"), "missing evidence: an address the server announced") {
		t.Errorf("the missing events are not named: %q", got[0].Evidence)
	}
}

// Every MP_TCPRST reason pm knows has a meaning and a fix, and the table
// of causes names each.
func TestResetReasonsExplained(t *testing.T) {
	// pm.ResetReason's names, 0 to 6 (RFC 8684), which explain does not
	// import.
	for _, r := range []string{"unspecified error", "MPTCP-specific error", "lack of resources",
		"administratively prohibited", "too much outstanding data", "unacceptable performance", "middlebox interference"} {
		if resetMeaning(r) == "" {
			t.Errorf("reset reason %q: no meaning", r)
		}
		if !slices.ContainsFunc(Causes(), func(c Cause) bool { return slices.Contains(c.ResetReasons, r) }) {
			t.Errorf("reset reason %q: no row in the table of causes", r)
		}
	}
}

// doctor's verdicts on the host for the join-side causes.
func TestExplainHostJoinCauses(t *testing.T) {
	base := func() Host {
		return Host{Supported: true, OS: "linux", Enabled: true, EnabledKnown: true, Limits: &Limits{Subflows: 2},
			Endpoints: []Endpoint{{Addr: "10.0.2.2", Subflow: true, Text: "10.0.2.2 id 1 subflow"}}}
	}
	for _, tc := range []struct {
		name  string
		host  func() Host
		codes []string
	}{
		{"ready", base, nil},
		{"refuses joins to its first address", func() Host { h := base(); h.DenyJoinInitial = true; return h }, []string{JoinInitialDenied}},
		{"refuses joins to its first address, announces another", func() Host {
			h := base()
			h.DenyJoinInitial = true
			h.Endpoints = append(h.Endpoints, Endpoint{Addr: "10.0.3.1", Signal: true})
			return h
		}, nil},
		{"backup endpoints only", func() Host { h := base(); h.Endpoints[0].Backup = true; return h }, []string{BackupPath}},
		{"a backup beside another endpoint", func() Host {
			h := base()
			h.Endpoints = append(h.Endpoints, Endpoint{Addr: "10.0.3.2", Subflow: true, Backup: true})
			return h
		}, nil},
	} {
		got := ExplainHost(tc.host())
		var codes []string
		for _, e := range got {
			codes = append(codes, e.Code)
		}
		if fmt.Sprint(codes) != fmt.Sprint(tc.codes) {
			t.Errorf("%s: codes %v, want %v\n%+v", tc.name, codes, tc.codes, got)
		}
	}
}
