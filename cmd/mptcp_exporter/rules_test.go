package main

import (
	"os/exec"
	"testing"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// The shipped rules are valid for promtool and pass their unit tests
// (rules/mptcp.rules_test.yml): each alert fires in a positive case and
// stays silent in the negative ones, and the recording rules give the
// values computed by hand.
func TestRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.SkipOrFail(t, "no promtool (Debian package prometheus): %v", err)
	}
	for _, args := range [][]string{
		{"check", "rules", "mptcp.rules.yml"},
		{"test", "rules", "mptcp.rules_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "rules" // the test file names the rules relative to itself
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
