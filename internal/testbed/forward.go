package testbed

import (
	"testing"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// RequireEnv and SkipOrFail forward to package testenv, which holds the
// skip rule. Only the root package's tests still use them here; they move
// to testenv.SkipOrFail, and then these two are to be deleted. (Not marked
// Deprecated: staticcheck, which .ci/run runs, would fail on those tests
// until they move.)

// RequireEnv is testenv.RequireEnv: use that.
const RequireEnv = testenv.RequireEnv

// SkipOrFail is testenv.SkipOrFail: use that.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.SkipOrFail(t, format, args...)
}
