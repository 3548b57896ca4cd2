package netns_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/collector"
	"github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/netns"
	"github.com/multipath-go/mptcp/pm"
)

// nsEnv holds, in the unprivileged child, the namespace it may not enter.
const nsEnv = "NETNS_TEST_UNPRIVILEGED_NS"

// Every package that takes a Config answers a namespace the process may
// not enter (no CAP_SYS_ADMIN) alike: an *net.OpError that errors.Is
// matches with os.ErrPermission and syscall.EPERM. The test re-runs its
// own binary as user nobody, which holds no capability, against a
// namespace it made.
func TestEveryPackageRefusesWithoutPrivilege(t *testing.T) {
	if path := os.Getenv(nsEnv); path != "" {
		cfg := &netns.Config{NetNS: path}
		_, errCounters := counters.Read(cfg)
		_, errDiag := diag.Dial(cfg)
		_, errPM := pm.Dial(cfg)
		_, errCollector := collector.New(&collector.Config{NetNS: path})
		for _, c := range []struct {
			pkg string
			err error
		}{{"counters", errCounters}, {"diag", errDiag}, {"pm", errPM}, {"collector", errCollector}} {
			var oe *net.OpError
			if !errors.As(c.err, &oe) || !errors.Is(c.err, os.ErrPermission) || !errors.Is(c.err, syscall.EPERM) {
				t.Errorf("%s without CAP_SYS_ADMIN: %v (%T), want an *net.OpError matching os.ErrPermission and EPERM", c.pkg, c.err, c.err)
			}
		}
		return
	}
	ns := testbed.NewNS(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the test binary that user nobody may run: outside
	// t.TempDir, whose parent only root may enter.
	dir, err := os.MkdirTemp("", "netns-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, "netns.test")
	if err := os.WriteFile(copied, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, copied, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), nsEnv+"="+ns.Path())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("unprivileged child: %v\n%s", err, out.String())
	}
}
