// Package testenv holds the rule every test of this module follows when
// the machine lacks what a test needs (MPTCP, root, network namespaces,
// a tool): the test skips with the reason, unless the environment
// variable [RequireEnv] is set, as .ci/run does, and then it fails.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// RequireEnv, when set, turns every skip for a missing environment into
// a failure, so that CI always runs these tests.
const RequireEnv = "MPTCP_TEST_REQUIRE_ENV"

// SkipOrFail skips t because the machine lacks what it needs, or fails it
// when RequireEnv is set.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s (%s is set: this environment must provide it)", msg, RequireEnv)
	}
	t.Skip(msg)
}
