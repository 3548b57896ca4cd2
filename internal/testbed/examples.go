//go:build linux

package testbed

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// examplesTimeout bounds one run of a package's examples.
const examplesTimeout = 2 * time.Minute

// examplePass and exampleFail match the verdict lines of go test -v.
var (
	examplePass = regexp.MustCompile(`(?m)^--- PASS: (Example\S*)`)
	exampleFail = regexp.MustCompile(`(?m)^--- FAIL: (Example\S*)`)
)

// RunExamples runs the examples of the running test binary, those with an
// Output comment, again in a child process: once in a fresh network
// namespace with MPTCP on and once in one with net.mptcp.enabled=0, where
// every MPTCP socket falls back to TCP. It fails t unless every example
// passes in both, so that no example's output depends on whether the
// machine has MPTCP. The namespaces have loopback up and no other link.
func RunExamples(t *testing.T) {
	for _, enabled := range []string{"1", "0"} {
		t.Run("net.mptcp.enabled="+enabled, func(t *testing.T) {
			if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err != nil {
				testenv.SkipOrFail(t, "turning MPTCP on and off needs a kernel with MPTCP: %v", err)
			}
			ns := NewNS(t)
			ns.Sysctl("net.mptcp.enabled", enabled)
			ctx, cancel := context.WithTimeout(context.Background(), examplesTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^Example", "-test.count=1", "-test.v",
				"-test.timeout="+examplesTimeout.String())
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			// Started from a thread inside the namespace, the child lives
			// there.
			err := ns.Do(cmd.Run)
			passed := examplePass.FindAllSubmatch(out.Bytes(), -1)
			failed := exampleFail.FindAllSubmatch(out.Bytes(), -1)
			switch {
			case err != nil || len(failed) > 0:
				t.Fatalf("examples with net.mptcp.enabled=%s: %v\n%s", enabled, err, out.Bytes())
			case len(passed) == 0:
				t.Fatalf("no example ran:\n%s", out.Bytes())
			}
			names := make([]string, len(passed))
			for i, m := range passed {
				names[i] = string(m[1])
			}
			t.Logf("%d examples passed: %v", len(names), names)
		})
	}
}
