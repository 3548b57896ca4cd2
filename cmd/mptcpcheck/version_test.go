package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// -version, --version and the mode version print the report and exit 0,
// on stdout alone; anything after them is a usage error.
func TestVersionModes(t *testing.T) {
	for _, args := range [][]string{{"-version"}, {"--version"}, {"version"}} {
		code, out, errs := runCmd(t, args...)
		if code != exitOK || errs != "" {
			t.Errorf("%q: exit status %d, stderr %q", args, code, errs)
		}
		for _, want := range []string{"mptcpcheck ", "\n  revision:    ", "\n  go version:  " + runtime.Version() + " "} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: output lacks %q:\n%s", args, want, out)
			}
		}
	}
	if code, out, errs := runCmd(t, "version", "now"); code != exitUsage || out != "" || !strings.Contains(errs, `"now"`) {
		t.Errorf("version now: exit status %d, stdout %q, stderr %q; want a usage error naming the argument", code, out, errs)
	}
	if code, out, _ := runCmd(t, "-h"); code != exitOK || !strings.Contains(out, "mptcpcheck version") {
		t.Errorf("-h: exit status %d, the usage does not list the mode version:\n%s", code, out)
	}
}

// The report says what the build information holds and, for what it
// lacks (go run, test binaries, -buildvcs=false, no build information
// at all), says it is unknown instead of printing nothing.
func TestVersionText(t *testing.T) {
	full := &debug.BuildInfo{
		GoVersion: "go1.26.3",
		Main:      debug.Module{Path: "github.com/multipath-go/mptcp", Version: "v0.1.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "01392a09a78d58e321147d01c2da0b66f86ce28d"},
			{Key: "vcs.time", Value: "2026-12-01T04:21:56Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	devel := &debug.BuildInfo{GoVersion: "go1.26.3", Main: debug.Module{Path: "github.com/multipath-go/mptcp", Version: "(devel)"}}
	for _, tc := range []struct {
		name               string
		bi                 *debug.BuildInfo
		release, rev, date string
		want               []string
	}{
		{"stamped", full, "", "", "", []string{
			"mptcpcheck v0.1.0\n",
			"module:      github.com/multipath-go/mptcp v0.1.0\n",
			"revision:    01392a09a78d58e321147d01c2da0b66f86ce28d (modified)\n",
			"commit time: 2026-12-01T04:21:56Z\n",
			"build time:  unknown (set by the release build)\n",
			"go version:  go1.26.3 ",
		}},
		{"release build", full, "v0.2.0", "0123abc", "2026-12-07T18:00:00Z", []string{
			"mptcpcheck v0.2.0\n",
			"revision:    01392a09a78d58e321147d01c2da0b66f86ce28d (modified)\n",
			"build time:  2026-12-07T18:00:00Z\n",
		}},
		{"release build without VCS information", devel, "v0.2.0", "0123abc-modified", "2026-12-07T18:00:00Z", []string{
			"mptcpcheck v0.2.0\n",
			"revision:    0123abc-modified\n",
		}},
		{"no VCS", devel, "", "", "", []string{
			"mptcpcheck (devel)\n",
			"module:      github.com/multipath-go/mptcp (devel)\n",
			"revision:    unknown (no VCS information in this build)\n",
			"commit time: unknown\n",
		}},
		{"no build information", nil, "", "", "", []string{
			"mptcpcheck (devel)\n",
			"module:      unknown\n",
			"revision:    unknown (no VCS information in this build)\n",
			"go version:  " + runtime.Version() + " ",
		}},
	} {
		out := versionText(tc.bi, tc.release, tc.rev, tc.date)
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, want, out)
			}
		}
		if strings.Contains(out, ":  \n") || strings.Contains(out, ": \n") {
			t.Errorf("%s: an empty value:\n%s", tc.name, out)
		}
	}
	clean := &debug.BuildInfo{Main: full.Main, Settings: full.Settings[:2]}
	if out := versionText(clean, "", "", ""); strings.Contains(out, "modified") {
		t.Errorf("without vcs.modified=true: %s", out)
	}
}

// A binary that go build makes in a git checkout reports the checkout's
// HEAD as its revision, and (modified) exactly when go version -m says
// the build had uncommitted changes.
func TestVersionOfBuiltBinary(t *testing.T) {
	goCmd := requireTool(t, "go")
	git := requireTool(t, "git")
	top, err := exec.Command(git, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		testenv.SkipOrFail(t, "not in a git checkout: %v", err)
	}
	root := strings.TrimSpace(string(top))
	// Go stamps VCS information only where .git is a directory: not in a
	// worktree made by "git worktree add", whose .git is a file.
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		testenv.SkipOrFail(t, "%s/.git is not a directory (a git worktree?): go build stamps no VCS information there", root)
	}
	head, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "mptcpcheck")
	// -buildvcs=true overrides a GOFLAGS=-buildvcs=false of the machine.
	if out, err := exec.Command(goCmd, "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("mptcpcheck -version: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^  revision:    ([0-9a-f]{40})( \(modified\))?$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no revision in:\n%s", out)
	}
	if want := strings.TrimSpace(string(head)); m[1] != want {
		t.Errorf("revision %s, want git rev-parse HEAD, %s", m[1], want)
	}
	info, err := exec.Command(goCmd, "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if modified := strings.Contains(string(info), "vcs.modified=true"); modified != (m[2] != "") {
		t.Errorf("go version -m says vcs.modified=%v, mptcpcheck -version printed:\n%s", modified, out)
	}
	if !strings.Contains(string(out), "\n  module:      github.com/multipath-go/mptcp ") {
		t.Errorf("no module line in:\n%s", out)
	}
}
