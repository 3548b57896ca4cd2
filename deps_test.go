package mptcp

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// Packages mptcp, diag and counters import nothing outside the standard
// library and golang.org/x/sys (and package netns, which names their
// namespaces), for every platform CI builds: users who
// want MPTCP from a Dialer, a listing or the counters do not take on
// netlink libraries or Prometheus (package collector, which brings
// Prometheus, is the one meant to).
func TestImportsOnlyXSys(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.SkipOrFail(t, "needs the go command: %v", err)
	}
	for _, goos := range []string{"linux", "darwin", "windows", "freebsd"} {
		cmd := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".", "./diag", "./counters")
		cmd.Env = append(cmd.Environ(), "GOOS="+goos)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list (GOOS=%s): %v", goos, err)
		}
		for _, p := range strings.Fields(string(out)) {
			switch {
			case p == "github.com/multipath-go/mptcp", p == "github.com/multipath-go/mptcp/diag", p == "github.com/multipath-go/mptcp/counters",
				p == "github.com/multipath-go/mptcp/netns",
				strings.HasPrefix(p, "github.com/multipath-go/mptcp/internal/"),
				strings.HasPrefix(p, "golang.org/x/sys/"):
			default:
				t.Errorf("GOOS=%s: mptcp, diag or counters depends on %s", goos, p)
			}
		}
	}
}
