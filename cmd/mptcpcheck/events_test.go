package main

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"syscall"
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
			"established      token=5a3c1e2f 127.0.0.1:39405 -> 127.0.0.1:80 local_addr_id=0 remote_addr_id=0",
			[]string{"type", "token", "local", "remote", "local_addr_id", "remote_addr_id"},
		},
	} {
		if got := eventText(tc.ev); got != tc.text {
			t.Errorf("text of %v: %q, want %q", tc.ev.Type, got, tc.text)
		}
		if strings.Contains(eventText(tc.ev), "->") != slices.Contains(tc.jsonKeys, "remote") {
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

// A subflow's events carry what ip mptcp monitor prints of them: backup
// (false included), the interface, the error and the MP_TCPRST's reason
// and flags; a connection's, its flags.
func TestMonitorSubflowFields(t *testing.T) {
	local, remote := netip.MustParseAddrPort("10.0.2.2:40001"), netip.MustParseAddrPort("10.0.1.1:80")
	for _, tc := range []struct {
		ev   pm.Event
		text string
		json string
	}{
		{
			pm.Event{Type: pm.EventSubflowEstablished, Token: 1, Local: local, Remote: remote, LocalID: 1, Ifindex: 3},
			"sub_established  token=00000001 10.0.2.2:40001 -> 10.0.1.1:80 local_addr_id=1 remote_addr_id=0 backup=false ifindex=3",
			`{"type":"sub_established","token":"00000001","local":"10.0.2.2:40001","remote":"10.0.1.1:80","local_addr_id":1,"remote_addr_id":0,"backup":false,"ifindex":3}`,
		},
		{
			pm.Event{Type: pm.EventSubflowClosed, Token: 1, Local: local, Remote: remote, LocalID: 1, Backup: true,
				Error: syscall.ECONNRESET, ResetReason: 3, ResetFlags: pm.ResetTransient},
			`sub_closed       token=00000001 10.0.2.2:40001 -> 10.0.1.1:80 local_addr_id=1 remote_addr_id=0 backup=true error="connection reset by peer" reset_reason="administratively prohibited" reset_flags=transient`,
			`{"type":"sub_closed","token":"00000001","local":"10.0.2.2:40001","remote":"10.0.1.1:80","local_addr_id":1,"remote_addr_id":0,"backup":true,"error":"connection reset by peer","reset_reason":"administratively prohibited","reset_flags":["transient"]}`,
		},
		{
			pm.Event{Type: pm.EventCreated, Token: 1, Local: remote, Remote: local, ServerSide: true, Flags: pm.EventFlagServerSide | pm.EventFlagDenyJoinID0},
			"created          token=00000001 10.0.1.1:80 -> 10.0.2.2:40001 local_addr_id=0 remote_addr_id=0 server_side flags=deny_join_id0|server_side",
			`{"type":"created","token":"00000001","local":"10.0.1.1:80","remote":"10.0.2.2:40001","local_addr_id":0,"remote_addr_id":0,"server_side":true,"flags":["deny_join_id0","server_side"]}`,
		},
	} {
		if got := eventText(tc.ev); got != tc.text {
			t.Errorf("text:\n%s\nwant\n%s", got, tc.text)
		}
		if got, err := json.Marshal(eventJSON(tc.ev)); err != nil || string(got) != tc.json {
			t.Errorf("JSON:\n%s\nwant\n%s", got, tc.json)
		}
	}
}
