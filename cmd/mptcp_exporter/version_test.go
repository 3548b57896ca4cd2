package main

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/common/version"
)

// --version, from a binary built without -ldflags, prints no empty field:
// what Go's build information lacks says unknown.
func TestVersionHasNoEmptyField(t *testing.T) {
	out, err := exec.Command(exporterBinary(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, empty := range []string{"version  ", "(branch: ,", "revision: )", "build user:       \n", "build date:       \n"} {
		if strings.Contains(string(out), empty) {
			t.Errorf("--version prints an empty field (%q):\n%s", empty, out)
		}
	}
}

// fillVersion takes the version and revision from the build information,
// says unknown for what it lacks, and keeps what -ldflags -X set.
func TestFillVersion(t *testing.T) {
	saved := [...]string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
	t.Cleanup(func() {
		version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate =
			saved[0], saved[1], saved[2], saved[3], saved[4]
	})
	reset := func(v, rev, branch, user, date string) {
		version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate = v, rev, branch, user, date
	}
	stamped := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/multipath-go/mptcp", Version: "v0.1.1-0.20261207182120-c9e569ba112d+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "c9e569ba112d702cd9f423070a4b137ea119f475"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name string
		set  [5]string // as -ldflags -X left them
		bi   *debug.BuildInfo
		want [5]string
	}{
		{"go build in a checkout", [5]string{}, stamped,
			[5]string{stamped.Main.Version, "c9e569ba112d702cd9f423070a4b137ea119f475-modified", "unknown", "unknown", "unknown"}},
		{"go run", [5]string{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			[5]string{"(devel)", "unknown", "unknown", "unknown", "unknown"}},
		{"no build information", [5]string{}, nil,
			[5]string{"unknown", "unknown", "unknown", "unknown", "unknown"}},
		{"release build", [5]string{"v0.2.0", "abc", "main", "ci@builder", "2026-12-07T18:00:00Z"}, stamped,
			[5]string{"v0.2.0", "abc", "main", "ci@builder", "2026-12-07T18:00:00Z"}},
	} {
		reset(tc.set[0], tc.set[1], tc.set[2], tc.set[3], tc.set[4])
		fillVersion(tc.bi)
		got := [5]string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
		if got != tc.want {
			t.Errorf("%s: version, revision, branch, user, date = %q, want %q", tc.name, got, tc.want)
		}
	}
}
