//go:build !linux

package testbed

import (
	"testing"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// RequireMPTCP skips or fails t: MPTCP sockets exist on Linux only.
func RequireMPTCP(t testing.TB) {
	t.Helper()
	testenv.SkipOrFail(t, "MPTCP sockets exist on Linux only")
}
