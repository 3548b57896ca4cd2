package explain

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write docs/causes.md from the table of causes")

const causesDoc = "../../docs/causes.md"

// docs/causes.md is the table of causes, written from the code: a change
// to either fails here until the document is written again with
//
//	go test ./internal/explain -run TestCausesDoc -update
func TestCausesDoc(t *testing.T) {
	want := causesMarkdown()
	if *update {
		if err := os.WriteFile(causesDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(causesDoc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/causes.md differs from the table of causes (explain.Causes); write it again with: go test ./internal/explain -run TestCausesDoc -update")
	}
}

// causesMarkdown renders the table of causes.
func causesMarkdown() string {
	var b strings.Builder
	b.WriteString(`# Why a connection is not multipath: the table of causes

Every cause ` + "`mptcpcheck why`" + ` (and ` + "`get`" + `) can give for a connection
that is not MPTCP, or that has fewer subflows than it could, with the kernel's
evidence of it: the ` + "`MPTcpExt`" + ` counters that move (see
[metrics.md](metrics.md) for their metric names), the reset reasons of
MP_TCPRST, the ` + "`net.mptcp`" + ` sysctls and the path manager's events. Each row
gives the code ` + "`why`" + ` prints, what happened, what to change, the side of the
connection where the cause shows (the client, which ` + "`why`" + ` is, the server,
or both), and the test that builds the cause in a test bed of network
namespaces and checks ` + "`why`" + `'s verdict, or why it cannot be built.

This page is written from the code (` + "`explain.Causes`" + ` in
` + "`internal/explain`" + `), and a test fails when the two differ; regenerate it
with ` + "`go test ./internal/explain -run TestCausesDoc -update`" + `. Another
test fails when a kernel counter of a fallback or a failed path, or a reset
reason, is in no row.

"Since" is the first kernel with the counters a row rests on (from the
kernel's history). On an older kernel ` + "`why`" + ` does not guess: where it
finds no cause, it names each counter or sysctl the kernel lacks, and the
path manager's events before 5.12 (the event group mptcp_pm_events), with
the causes that would have shown there ("counter SimultConnectFallback does
not exist on this kernel: it is the evidence of simultaneous-connect, which
this kernel cannot show"). A join that kernel made and lost is named the
same way: ` + "`unknown`" + `, with the events it would take to tell why.
`)
	for _, part := range []struct {
		title string
		rows  []Cause
	}{
		{"Not MPTCP at all: fallbacks to TCP", fallbackCauses},
		{"Fewer subflows: joins refused, failed or not tried", joinCauses},
	} {
		fmt.Fprintf(&b, "\n## %s\n\n", part.title)
		if len(part.rows) == 0 {
			b.WriteString("None yet.\n")
			continue
		}
		b.WriteString("| code | kernel evidence | side | what happened | fix | other evidence | built by |\n")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, c := range part.rows {
			var ev []string
			for _, n := range c.Counters {
				ev = append(ev, "`"+n+"`")
			}
			for _, r := range c.ResetReasons {
				ev = append(ev, "reset reason \""+r+"\"")
			}
			for _, s := range c.Sysctls {
				ev = append(ev, "`"+sysctlName(s)+"`")
			}
			for _, e := range c.Events {
				ev = append(ev, "event `"+e+"`")
			}
			since := ""
			if c.Since != "" {
				since = "; since " + c.Since
			}
			built := "`" + c.Test + "`"
			if c.Test == "" {
				built = "not built: " + c.NotBuilt
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n",
				c.Code, cell(strings.Join(ev, ", ")+since), c.Side, cell(c.Message), cell(c.Fix), cell(c.Evidence), cell(built))
		}
	}
	b.WriteString("\n## Counters that are no cause\n\n" +
		"The other `MPTcpExt` counters count traffic, successes or memory pressure, not a fallback or a path\n" +
		"that failed or was refused, or a failure that leaves why no connection to explain:\n\n")
	var names []string
	for n := range notCauses {
		if !slices.ContainsFunc(Causes(), func(c Cause) bool { return slices.Contains(c.Counters, n) }) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "- `%s`: %s\n", n, notCauses[n])
	}
	return b.String()
}

// cell makes text fit a table cell: no pipes, no line breaks.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
