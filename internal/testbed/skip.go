package testbed

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
