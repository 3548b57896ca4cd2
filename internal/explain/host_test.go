package explain

import (
	"fmt"
	"testing"
	"time"
)

// Each verdict about the host is the same from doctor (ExplainHost) and
// from why (Explain, for a connection of that host that shows it): the
// same codes, in the same order.
func TestHostAndConnectionAgree(t *testing.T) {
	ready := func() Host { return mptcpOK().Host }
	oneSubflow := func(h Host) Evidence {
		ev := mptcpOK()
		ev.Host, ev.Info.Subflows = h, 0
		ev.Events = []Event{{Type: "created"}, {Type: "established"}}
		if h.Limits != nil && h.Limits.Subflows == 0 {
			ev.Info.SubflowsMax = 0
		}
		return ev
	}
	plain := func(h Host) Evidence {
		ev := fallback()
		ev.Host, ev.Counters, ev.Socket = h, map[string]uint64{}, SocketEarlyFallback
		return ev
	}
	for _, tc := range []struct {
		name  string
		host  func() Host
		conn  func(Host) Evidence
		codes []string
	}{
		{"two subflows, no accepted addresses", func() Host {
			h := ready()
			h.Limits.AddAddrAccepted = 0
			return h
		}, func(h Host) Evidence { ev := mptcpOK(); ev.Host = h; return ev }, nil},
		{"not linux", func() Host { return Host{OS: "darwin"} }, plain, []string{Unsupported}},
		{"disabled", func() Host {
			h := ready()
			h.Enabled = false
			return h
		}, plain, []string{MPTCPDisabled}},
		{"blackhole", func() Host {
			h := ready()
			h.Blackhole = &Blackhole{Active: true, ActiveKnown: true, Timeout: time.Hour, Detections: 1}
			return h
		}, plain, []string{BlackholeDetected}},
		{"userspace path manager", func() Host {
			h := ready()
			h.Userspace = true
			return h
		}, oneSubflow, []string{NoEndpoint}},
		{"path manager unreadable", func() Host {
			h := ready()
			h.Limits, h.Endpoints, h.PathManagerError = nil, nil, "operation not permitted"
			return h
		}, oneSubflow, []string{NoEndpoint}},
		{"subflow limit", func() Host {
			h := ready()
			h.Limits.Subflows = 0
			return h
		}, oneSubflow, []string{SubflowLimit}},
		{"no endpoint", func() Host {
			h := ready()
			h.Endpoints = nil
			return h
		}, oneSubflow, []string{NoEndpoint}},
		{"subflow limit and no endpoint", func() Host {
			h := ready()
			h.Limits.Subflows, h.Endpoints = 0, nil
			return h
		}, oneSubflow, []string{SubflowLimit, NoEndpoint}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := ExplainHost(tc.host())
			conn := Explain(tc.conn(tc.host()))
			if c := codes(host); c != fmt.Sprint(tc.codes) {
				t.Errorf("ExplainHost: %s, want %v\n%+v", c, tc.codes, host)
			}
			if c := codes(conn); c != fmt.Sprint(tc.codes) {
				t.Errorf("Explain: %s, want %v\n%+v", c, tc.codes, conn)
			}
			for _, e := range host {
				if e.Message == "" || len(e.Evidence) == 0 {
					t.Errorf("ExplainHost %s: no message or no evidence", e.Code)
				}
			}
		})
	}
}

func codes(exps []Explanation) string {
	var c []string
	for _, e := range exps {
		c = append(c, e.Code)
	}
	return fmt.Sprint(c)
}
