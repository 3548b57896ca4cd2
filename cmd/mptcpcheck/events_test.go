package main

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/multipath-go/mptcp/pm"
)

// A listener's events have no token and no remote end: monitor prints
// them as the listening address alone, in text and in JSON, and a
// connection's events keep their token and both ends.
func TestMonitorListenerEvents(t *testing.T) {
	local := netip.MustParseAddrPort("127.0.0.1:39405")
	for _, tc := range []struct {
		ev       pm.Event
		text     string
		jsonKeys []string
	}{
		{pm.Event{Type: pm.EventListenerCreated, Local: local}, "listener_created 127.0.0.1:39405", []string{"type", "local"}},
		{pm.Event{Type: pm.EventListenerClosed, Local: local}, "listener_closed  127.0.0.1:39405", []string{"type", "local"}},
		{
			pm.Event{Type: pm.EventEstablished, Token: 0x5a3c1e2f, Local: local, Remote: netip.MustParseAddrPort("127.0.0.1:80")},
			"established      token=5a3c1e2f 127.0.0.1:39405 -> 127.0.0.1:80",
			[]string{"type", "token", "local", "remote"},
		},
	} {
		if got := eventText(tc.ev); got != tc.text {
			t.Errorf("text of %v: %q, want %q", tc.ev.Type, got, tc.text)
		}
		if strings.Contains(eventText(tc.ev), "->") != (len(tc.jsonKeys) == 4) {
			t.Errorf("text of %v: %q, an arrow where there is no remote end or none where there is", tc.ev.Type, eventText(tc.ev))
		}
		data, err := json.Marshal(eventJSON(tc.ev))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != len(tc.jsonKeys) {
			t.Errorf("JSON of %v: %s, want the keys %q only", tc.ev.Type, data, tc.jsonKeys)
		}
		for _, k := range tc.jsonKeys {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON of %v: %s, lacks %q", tc.ev.Type, data, k)
			}
		}
	}
}
