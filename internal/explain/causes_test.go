package explain

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/multipath-go/mptcp/counters"
)

// notCauses are the MPTcpExt counters that count traffic, successes or
// memory pressure, not a fallback or a path that failed or was refused:
// no row of the table needs them. Every other counter must be in a row,
// so that a counter a new kernel adds fails TestCausesCoverCounters until
// it is either explained or put here with its reason.
var notCauses = map[string]string{
	"MPCapableSYNRX": "handshakes", "MPCapableSYNTX": "handshakes", "MPCapableSYNACKRX": "handshakes",
	"MPCapableACKRX": "handshakes", "MPTCPRetrans": "retransmissions",
	"MPJoinSynRx": "joins", "MPJoinSynBackupRx": "joins", "MPJoinSynAckRx": "joins",
	"MPJoinSynAckBackupRx": "joins", "MPJoinAckRx": "joins", "MPJoinSynTx": "joins",
	"MPJoinPortSynRx": "joins", "MPJoinPortSynAckRx": "joins", "MPJoinPortAckRx": "joins",
	"OFOQueueTail": "reordering", "OFOQueue": "reordering", "OFOMerge": "reordering",
	"NoDSSInWindow": "data outside the window, dropped and sent again", "DuplicateData": "data sent on two subflows",
	"AddAddr": "announcements", "AddAddrTx": "announcements", "EchoAdd": "announcements", "EchoAddTx": "announcements",
	"PortAdd": "announcements", "RmAddr": "withdrawals", "RmAddrTx": "withdrawals", "RmSubflow": "subflows closed",
	"MPPrioTx": "backup flag changes", "MPPrioRx": "backup flag changes",
	"MPFastcloseTx": "connections closed", "MPFastcloseRx": "connections closed",
	"SubflowRecover": "stale subflows that recovered",
	"SndWndShared":   "windows", "RcvWndShared": "windows", "RcvWndConflictUpdate": "windows", "RcvWndConflict": "windows",
	"MPCurrEstab": "a gauge of connections", "WinProbe": "zero window probes",
	"RcvPruned": "memory pressure", "OFOPruned": "memory pressure", "BacklogDrop": "memory pressure",
	// Signalling that waits or repeats: no subflow is lost to it.
	"EchoAddTxDrop": "an announcement's echo not sent yet (no room): the peer announces the address again after net.mptcp.add_addr_timeout, " +
		"and the join that follows, or its failure, is what why explains",
	"RmAddrDrop":   "a withdrawal ignored while another was pending: subflows stay, not fewer",
	"RmAddrTxDrop": "a withdrawal not sent while another was pending: subflows stay, not fewer",
	"SubflowStale": "a subflow that made no progress while others did, which the scheduler avoids until it recovers (SubflowRecover): " +
		"the connection keeps its subflows, and why, which explains missing ones, has no code for a slow path",
	// Measured on 6.18: the server refuses both the MPTCP attempt and the
	// plain retry, so the dial fails and why has nothing to explain.
	"MPCapableEndpAttempt": "connections opened to a port that an endpoint of the server reserves for joins " +
		"(ip mptcp endpoint add ADDR port P): the server refuses them, MPTCP or not, so the connection fails rather than falls back",
}

// Each row is complete: a code why gives, a side, words for the message
// and the fix, and either the test that builds it or why none can.
func TestCausesRows(t *testing.T) {
	codes := Codes()
	for i, c := range Causes() {
		if !slices.Contains(codes, c.Code) {
			t.Errorf("row %d: code %q is not one why gives (Codes)", i, c.Code)
		}
		if c.Side != "client" && c.Side != "server" && c.Side != "both" {
			t.Errorf("row %d (%s): side %q", i, c.Code, c.Side)
		}
		if c.Message == "" || c.Fix == "" {
			t.Errorf("row %d (%s): no message or no fix", i, c.Code)
		}
		if (c.Test == "") == (c.NotBuilt == "") {
			t.Errorf("row %d (%s): want a test or a reason it is not built, not both: %q, %q", i, c.Code, c.Test, c.NotBuilt)
		}
		// The side that counts a fallback, as package counters records it,
		// is the row's side.
		for _, n := range c.Counters {
			d, ok := counters.Describe(n)
			if !ok || d.Fallback == counters.SideNone {
				continue
			}
			want := map[counters.Side]string{counters.SideClient: "client", counters.SideServer: "server", counters.SideEither: "both"}[d.Fallback]
			if c.Side != want {
				t.Errorf("row %d (%s): side %q, but package counters says %s counts on the %s side", i, c.Code, c.Side, n, d.Fallback)
			}
		}
	}
}

// Codes lists exactly the code constants of explain.go.
func TestCodesAreTheConstants(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "explain.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	ast.Inspect(f, func(n ast.Node) bool {
		d, ok := n.(*ast.GenDecl)
		if !ok || d.Tok != token.CONST {
			return true
		}
		var block []string
		for _, s := range d.Specs {
			for _, v := range s.(*ast.ValueSpec).Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					block = append(block, s)
				}
			}
		}
		if slices.Contains(block, Unknown) {
			consts = block
		}
		return false
	})
	if !slices.Equal(consts, Codes()) {
		t.Errorf("Codes() = %v\nthe constants: %v", Codes(), consts)
	}
}

// Each fallback row's code is what Explain gives when one of the row's
// counters moved on a connection that fell back, with nothing else
// known: the table and the rules agree.
func TestFallbackRowsAreExplained(t *testing.T) {
	for i, c := range fallbackCauses {
		if len(c.Counters) == 0 {
			continue // a sysctl, or the system
		}
		var got [][]string
		// A fallback at the handshake or after it, or before the SYN, or a
		// plain TCP socket.
		ok := slices.ContainsFunc(c.Counters, func(n string) bool {
			return slices.ContainsFunc([]string{SocketFallback, SocketEarlyFallback, SocketPlain}, func(socket string) bool {
				ev := fallback()
				ev.Counters, ev.Socket = map[string]uint64{n: 1}, socket
				var codes []string
				for _, e := range Explain(ev) {
					codes = append(codes, e.Code)
				}
				got = append(got, codes)
				return slices.Contains(codes, c.Code)
			})
		})
		if !ok {
			t.Errorf("row %d: none of %v alone gives %s: %v", i, c.Counters, c.Code, got)
		}
	}
}

func TestExplainCounted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		counters  map[string]uint64
		socket    string
		want      string
		says      string
		handshake *Handshake
	}{
		// The namespace's counters moved for another connection: this
		// one's own handshake rules them out.
		{"data fallback of another connection", map[string]uint64{"DssFallback": 1, "MPCapableFallbackSYNACK": 1}, SocketFallback,
			ServerNoMPTCP, "either it does not speak MPTCP", &Handshake{SYN: true, SYNMPCapable: true, SYNACK: true}},
		{"checksum failure of another connection", map[string]uint64{"DataCsumErr": 1, "DssFallback": 1}, SocketEarlyFallback,
			Unknown, "does not say why", nil},
		{"MD5 fallback of another connection", map[string]uint64{"MD5SigFallback": 1, "MPCapableFallbackSYNACK": 1}, SocketFallback,
			ServerNoMPTCP, "either it does not speak MPTCP", &Handshake{SYN: true, SYNMPCapable: true, SYNACK: true}},
		{"checksum, 6.17 and later", map[string]uint64{"DataCsumErr": 1, "DssFallback": 1}, SocketFallback, ChecksumFailed, "changed the payload", nil},
		{"checksum, older kernel, fallback flag", map[string]uint64{"DataCsumErr": 1}, SocketFallback, ChecksumFailed, "checksum_enabled=1", nil},
		{"checksum, infinite mapping", map[string]uint64{"DataCsumErr": 2, "InfiniteMapRx": 1}, "", ChecksumFailed, "changed the payload", nil},
		// A checksum failure with no fallback known is another
		// connection's: the counters of the namespace alone say nothing.
		{"checksum of another connection", map[string]uint64{"DataCsumErr": 1}, "", Unknown, "does not say why", nil},
		{"options lost on data", map[string]uint64{"MPCapableDataFallback": 1}, SocketFallback, DataFallback, "option 30 through on every packet", nil},
		{"bad DSS", map[string]uint64{"DssFallback": 1}, SocketFallback, DataFallback, "packets other than SYNs", nil},
		{"simultaneous connect", map[string]uint64{"SimultConnectFallback": 1}, SocketFallback, SimultaneousConnect, "one end listen", nil},
		{"MD5", map[string]uint64{"MD5SigFallback": 1}, SocketEarlyFallback, MD5Signature, "TCP_MD5SIG", nil},
		{"token", map[string]uint64{"MPFallbackTokenInit": 1}, SocketEarlyFallback, NoToken, "dmesg", nil},
		{"fallback failed", map[string]uint64{"FallbackFailed": 1}, "", FallbackFailed, "reset", nil},
		{"MPTCP SYN refused, plain TCP retried", map[string]uint64{"MPCapableSYNTX": 1}, SocketPlain, OptionStripped, "was refused (reset) on the path", nil},
		{"third ACK without the option, on the server", map[string]uint64{"MPCapableFallbackACK": 1}, SocketFallback, DataFallback, "third ACK", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := fallback()
			ev.Counters, ev.Socket, ev.Handshake = tc.counters, tc.socket, tc.handshake
			got := Explain(ev)
			if tc.want == ServerNoMPTCP {
				if len(got) != 2 || got[0].Code != tc.want || got[1].Code != OptionStripped {
					t.Fatalf("got %+v\nwant server-no-mptcp and option-stripped", got)
				}
				return
			}
			if len(got) != 1 || got[0].Code != tc.want || !strings.Contains(got[0].Message, tc.says) || !got[0].Inference {
				t.Fatalf("got %+v\nwant one inference %s saying %q", got, tc.want, tc.says)
			}
			for n := range tc.counters {
				if tc.want != Unknown && !strings.Contains(strings.Join(got[0].Evidence, "\n"), "counter "+n+" +") {
					t.Errorf("evidence lacks the counter %s: %q", n, got[0].Evidence)
				}
			}
		})
	}
}

// What a kernel lacks is named, as evidence of the causes it would show,
// where no cause was found; not where one was, and not for a plain TCP
// socket, which no MPTCP counter concerns.
func TestMissingEvidence(t *testing.T) {
	have := func(name string) bool { return name != "SimultConnectFallback" && name != "net.mptcp.checksum_enabled" }
	missing := MissingEvidence(have)
	if !slices.Equal(missing, []string{"net.mptcp.checksum_enabled", "SimultConnectFallback"}) &&
		!slices.Equal(missing, []string{"SimultConnectFallback", "net.mptcp.checksum_enabled"}) {
		t.Fatalf("MissingEvidence = %v", missing)
	}
	if m := MissingEvidence(func(string) bool { return true }); m != nil {
		t.Errorf("MissingEvidence with everything there = %v, want nil", m)
	}

	// A simultaneous connect on a kernel without its counter: the
	// connection fell back, and nothing moved.
	ev := fallback()
	ev.Counters, ev.Socket, ev.Missing = map[string]uint64{}, SocketFallback, missing
	got := Explain(ev)
	if len(got) != 1 || got[0].Code != Unknown || !got[0].Inference {
		t.Fatalf("got %+v, want one unknown inference", got)
	}
	ev0 := strings.Join(got[0].Evidence, "\n")
	for _, want := range []string{
		"counter SimultConnectFallback does not exist on this kernel: it is the evidence of simultaneous-connect, which this kernel cannot show",
		"sysctl net.mptcp.checksum_enabled does not exist on this kernel: it is the evidence of checksum-failed",
	} {
		if !strings.Contains(ev0, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev0)
		}
	}
	if !strings.Contains(got[0].Message, "this kernel lacks evidence") {
		t.Errorf("message does not say evidence is missing: %s", got[0].Message)
	}

	// A cause found is given as without the missing evidence.
	ev.Counters = map[string]uint64{"MPCapableDataFallback": 1}
	if got := Explain(ev); len(got) != 1 || got[0].Code != DataFallback || strings.Contains(strings.Join(got[0].Evidence, "\n"), "does not exist") {
		t.Errorf("a data fallback on a kernel that lacks another counter: %+v", got)
	}
	ev.Counters, ev.Socket = map[string]uint64{}, SocketPlain
	if got := Explain(ev); len(got) != 1 || strings.Contains(strings.Join(got[0].Evidence, "\n"), "does not exist") {
		t.Errorf("a plain TCP socket names missing MPTCP evidence: %+v", got)
	}
	// An MPTCP connection is judged by the joins' rows, not the
	// fallbacks'.
	mp := mptcpOK()
	mp.Missing = []string{"SimultConnectFallback"}
	mp.Info.Subflows, mp.EventsError = 0, "operation not permitted"
	if got := Explain(mp); len(got) != 1 || strings.Contains(strings.Join(got[0].Evidence, "\n"), "SimultConnectFallback") {
		t.Errorf("a one-subflow connection names a fallback's missing counter: %+v", got)
	}
}

// A row may name a sysctl with or without its net.mptcp prefix; the
// missing evidence names it in full either way.
func TestSysctlName(t *testing.T) {
	for _, s := range []string{"checksum_enabled", "net.mptcp.checksum_enabled"} {
		if got := sysctlName(s); got != "net.mptcp.checksum_enabled" {
			t.Errorf("sysctlName(%q) = %q", s, got)
		}
	}
}

// doctor's note of the missing evidence names each item with the causes
// it would show, and is empty where nothing is missing.
func TestMissingNote(t *testing.T) {
	if n := MissingNote(nil); n != "" {
		t.Errorf("MissingNote(nil) = %q", n)
	}
	n := MissingNote([]string{"SimultConnectFallback", "net.mptcp.checksum_enabled"})
	for _, want := range []string{"counter SimultConnectFallback (simultaneous-connect)", "sysctl net.mptcp.checksum_enabled (checksum-failed"} {
		if !strings.Contains(n, want) {
			t.Errorf("MissingNote lacks %q: %s", want, n)
		}
	}
}

// The test a row names exists, among mptcpcheck's tests, where the test
// bed's causes are built: a renamed test cannot leave the table pointing
// at nothing.
func TestCausesTestsExist(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "cmd", "mptcpcheck", "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("mptcpcheck's tests: %v, %v", files, err)
	}
	var src strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	for i, c := range Causes() {
		if c.Test != "" && !strings.Contains(src.String(), "\nfunc "+c.Test+"(t *testing.T) {") {
			t.Errorf("row %d (%s): no test %s in cmd/mptcpcheck", i, c.Code, c.Test)
		}
	}
}

// A kernel without the path manager's events (before 5.12) lacks the
// evidence of every row that rests on them: why names the event group
// where it finds no cause for a connection with one subflow, and doctor's
// note names it with the causes it would show.
func TestMissingEvents(t *testing.T) {
	missing := MissingEvidence(func(name string) bool { return name != PMEvents })
	if !slices.Equal(missing, []string{PMEvents}) {
		t.Fatalf("MissingEvidence = %v, want [%s]", missing, PMEvents)
	}
	ev := mptcpOK()
	ev.Info.Subflows, ev.EventsError, ev.Missing = 0, "no events group", missing
	got := Explain(ev)
	if len(got) != 1 || got[0].Code != Unknown ||
		!strings.Contains(strings.Join(got[0].Evidence, "\n"), "the path manager's event group mptcp_pm_events does not exist on this kernel: it is the evidence of no-endpoint, not-established, ") {
		t.Errorf("want unknown naming the missing event group: %+v", got)
	}
	if n := MissingNote(missing); !strings.Contains(n, "the path manager's event group mptcp_pm_events (no-endpoint, not-established, ") {
		t.Errorf("MissingNote lacks the event group: %s", n)
	}
}
