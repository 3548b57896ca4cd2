package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
)

func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.SkipOrFail(t, "needs %s on the PATH: %v", name, err)
	}
	return path
}

// One target, the host's when it is Linux: both commands are built as
// static binaries, SHA256SUMS passes "sha256sum -c" (and fails once a
// binary changes), and each binary prints the version, revision and
// date it was given.
func TestReleaseOneTarget(t *testing.T) {
	lookTool(t, "go")
	sha256sum := lookTool(t, "sha256sum")
	git := lookTool(t, "git")
	head, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		testenv.SkipOrFail(t, "not in a git checkout: %v", err)
	}
	goarch := "amd64"
	if runtime.GOOS == "linux" {
		goarch = runtime.GOARCH
	}
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	const date = "2023-11-14T22:13:20Z"
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if code := run(ctx, []string{"-version", "v9.8.7-test", "-targets", "linux/" + goarch, "-o", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	want := []string{"SHA256SUMS", "mptcp_exporter-v9.8.7-test-linux-" + goarch, "mptcpcheck-v9.8.7-test-linux-" + goarch}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files %q, want %q", names, want)
	}

	check := exec.Command(sha256sum, "-c", "SHA256SUMS")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil || strings.Count(string(out), ": OK\n") != 2 {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}

	for _, name := range want[1:] {
		path := filepath.Join(dir, name)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has a program interpreter: not static", name)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs the shared libraries %v", name, libs)
		}
		f.Close()
		bi, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" || settings["GOARCH"] != goarch {
			t.Errorf("%s: built with %v, want CGO_ENABLED=0, -trimpath, GOARCH=%s", name, bi.Settings, goarch)
		}
	}

	if runtime.GOOS != "linux" {
		return // the binaries are Linux's
	}
	rev := strings.TrimSpace(string(head))
	for _, tc := range []struct {
		name, arg string
		want      []string
	}{
		{want[2], "version", []string{"mptcpcheck v9.8.7-test\n", "  revision:    " + rev, "  build time:  " + date + "\n"}},
		{want[1], "--version", []string{"mptcp_exporter, version v9.8.7-test (branch: ", "revision: " + rev, "  build date:       " + date + "\n"}},
	} {
		out, err := exec.Command(filepath.Join(dir, tc.name), tc.arg).CombinedOutput()
		if err != nil {
			t.Errorf("%s %s: %v\n%s", tc.name, tc.arg, err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s %s: output lacks %q:\n%s", tc.name, tc.arg, w, out)
			}
		}
	}

	// The checksums are of these binaries: a changed one fails the check.
	f, err := os.OpenFile(filepath.Join(dir, want[1]), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	check = exec.Command(sha256sum, "-c", "SHA256SUMS")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err == nil {
		t.Errorf("sha256sum -c passes a changed binary:\n%s", out)
	}
}

// Bad flags are usage errors, found before anything is built.
func TestReleaseUsageErrors(t *testing.T) {
	lookTool(t, "go")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-targets", "linux"},
		{"-targets", "linux/amd64,"},
		{"-version", "v1 2"},
		{"-version", "../v1"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		args = append(args, "-o", dir)
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%q: exit status %d, stderr %q; want 2 and why", args, code, stderr.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("usage errors wrote %v", entries)
	}
}
