package explain

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/pm"
)

// kernelCounters returns the MPTcpExt counter names of 6.18, recorded in
// the counters package's test data, and those of the running kernel
// where it can be read, so that a newer kernel's counters count too.
func kernelCounters(t *testing.T) []string {
	t.Helper()
	text, err := os.ReadFile("../../counters/testdata/netstat-6.18.txt")
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := counters.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	live, _ := counters.Read(nil) // none off Linux or without MPTCP
	var names []string
	for _, c := range slices.Concat(recorded, live) {
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	if len(names) < 70 {
		t.Fatalf("%d MPTcpExt counters in the test data; want the 6.18 list", len(names))
	}
	return names
}

// Every counter of a fallback or a failed path, and every reset reason,
// has a row, so that the table (and docs/causes.md) covers them all.
func TestCausesCoverCounters(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range Causes() {
		for _, n := range c.Counters {
			listed[n] = true
		}
	}
	names := kernelCounters(t)
	for _, name := range names {
		_, known := counters.Describe(name)
		// A counter of no cause may still be evidence in a row.
		if !listed[name] && notCauses[name] == "" {
			t.Errorf("counter %s (known to package counters: %v) is in no row of the table of causes", name, known)
		}
	}
	for name := range listed {
		if _, ok := counters.Describe(name); !ok {
			t.Errorf("a row lists the counter %s, which package counters does not know", name)
		}
		// A kernel with every counter lacks none of the table's.
		if !slices.Contains(names, name) {
			t.Errorf("a row lists the counter %s, which neither 6.18 nor this kernel has", name)
		}
	}
}

func TestCausesCoverResetReasons(t *testing.T) {
	// pm names the reasons of RFC 8684, section 3.6, and no others.
	for i := pm.ResetReason(0); !strings.HasPrefix(i.String(), "reason("); i++ {
		r := i.String()
		if !slices.ContainsFunc(Causes(), func(c Cause) bool { return slices.Contains(c.ResetReasons, r) }) {
			t.Errorf("reset reason %q is in no row of the table of causes", r)
		}
	}
}
