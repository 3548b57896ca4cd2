package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testbed"
	mptcpnetns "github.com/multipath-go/mptcp/netns"
)

// --netns NAME follows the name, as "ip netns" users mean it: once the
// namespace is deleted, every scrape fails in every part and shows none
// of its last values; once the name is made again with other limits,
// the scrapes show the new ones.
func TestNetNSFollowsName(t *testing.T) {
	testbed.RequireMPTCP(t)
	ns := testbed.NewNS(t)
	ns.IP("mptcp", "limits", "set", "subflows", "3")
	e := startExporter(t, "--netns", ns.Name)

	s := scrapeText(t, e.addr)
	wantParts(t, "before", s, 1)
	if got := s["mptcp_limit_subflows"]; got != 3 {
		t.Errorf("before: mptcp_limit_subflows %v, want 3", got)
	}

	ns.Delete()
	for i := range 2 { // the second scrape too: nothing comes back
		s = scrapeText(t, e.addr)
		wantParts(t, "deleted", s, 0)
		for k := range s {
			// The collector's series, not the exporter's own nor Go's.
			if !strings.HasPrefix(k, "mptcp_") || strings.HasPrefix(k, "mptcp_exporter_") {
				continue
			}
			if !strings.HasPrefix(k, "mptcp_scrape_collector_") {
				t.Errorf("deleted, scrape %d: it still shows %s %v", i+1, k, s[k])
			}
		}
	}

	ns.Add()
	ns.IP("mptcp", "limits", "set", "subflows", "5")
	s = scrapeText(t, e.addr)
	wantParts(t, "made again", s, 1)
	if got := s["mptcp_limit_subflows"]; got != 5 {
		t.Errorf("made again: mptcp_limit_subflows %v, want 5", got)
	}
}

// Run by a user without CAP_SYS_ADMIN (nobody), the exporter refuses a
// --netns it could open but never enter: usage status, a message naming
// the capability, and no listener.
func TestNetNSWithoutPrivilege(t *testing.T) {
	ns := testbed.NewNS(t)
	bin := exporterBinary(t)
	// The test build's directory is the test's user's alone.
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, netns := range []string{ns.Name, ns.Path(), "/proc/self/ns/net"} {
		t.Run(netns, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, "--web.listen-address=127.0.0.1:0", "--netns", netns)
			cmd.Stderr = &stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
				t.Fatalf("exit: %v, want status %d\nstderr:\n%s", err, exitUsage, stderr.String())
			}
			msg := stderr.String()
			for _, w := range []string{"--netns", mptcpnetns.Path(netns), "operation not permitted", "CAP_SYS_ADMIN"} {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "Listening on") {
				t.Errorf("it listened before failing:\n%s", msg)
			}
		})
	}
}
