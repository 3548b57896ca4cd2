package mptcp

import (
	"strings"
	"testing"
)

// Every TCP state the kernel reports has a constant, named as ss names
// it, so that callers never compare with bare numbers.
func TestTCPStatesAllNamed(t *testing.T) {
	states := map[TCPState]string{
		StateEstablished: "ESTABLISHED", StateSynSent: "SYN_SENT", StateSynRecv: "SYN_RECV",
		StateFinWait1: "FIN_WAIT1", StateFinWait2: "FIN_WAIT2", StateTimeWait: "TIME_WAIT",
		StateClose: "CLOSE", StateCloseWait: "CLOSE_WAIT", StateLastAck: "LAST_ACK",
		StateListen: "LISTEN", StateClosing: "CLOSING", StateNewSynRecv: "NEW_SYN_RECV",
		StateBoundInactive: "BOUND_INACTIVE",
	}
	for s := TCPState(1); int(s) < len(tcpStateNames); s++ {
		name, ok := states[s]
		if !ok {
			t.Errorf("state %d (%v) has no constant", s, s)
			continue
		}
		if s.String() != name {
			t.Errorf("state %d: String() = %q, want %q", s, s.String(), name)
		}
	}
	if len(states) != len(tcpStateNames)-1 {
		t.Errorf("%d constants for %d named states", len(states), len(tcpStateNames)-1)
	}
}

// A subflow without an id (kernels before 6.5 have none) shows "-" in
// the table's SUBFLOW column, not a number no subflow has.
func TestSubflowTableMissingID(t *testing.T) {
	table := SubflowTable{{ID: 0}, {ID: 2}}.String()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 3 || strings.Fields(lines[1])[0] != "-" || strings.Fields(lines[2])[0] != "2" {
		t.Errorf("table:\n%s\nwant the first subflow's id as - and the second's as 2", table)
	}
}
