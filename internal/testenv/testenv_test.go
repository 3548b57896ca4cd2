package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// childEnv makes TestSkipOrFail, in a child process, call SkipOrFail.
const childEnv = "TESTENV_TEST_CHILD"

// SkipOrFail skips without RequireEnv and fails with it, with the reason
// in both cases. The call runs in a child process, which is where its
// verdict shows.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		SkipOrFail(t, "no %s here", "widget")
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		require bool
		verdict string
	}{{false, "--- SKIP: TestSkipOrFail"}, {true, "--- FAIL: TestSkipOrFail"}} {
		cmd := exec.Command(exe, "-test.run=^TestSkipOrFail$", "-test.v", "-test.count=1")
		env := []string{childEnv + "=1"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, RequireEnv+"=") {
				env = append(env, kv)
			}
		}
		if tc.require {
			env = append(env, RequireEnv+"=1")
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if tc.require == (err == nil) {
			t.Errorf("%s set: %v, child exit error %v\n%s", RequireEnv, tc.require, err, out)
		}
		if !strings.Contains(string(out), tc.verdict) || !strings.Contains(string(out), "no widget here") {
			t.Errorf("%s set: %v: want %q with the reason:\n%s", RequireEnv, tc.require, tc.verdict, out)
		}
	}
}

// BuildCommand copies the prebuilt command named for the working
// directory where CommandsEnv is set, and fails, not builds, when that
// directory lacks it: a machine without the go command must not skip.
func TestBuildCommandPrebuilt(t *testing.T) {
	dir := t.TempDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(wd) // testenv
	t.Setenv(CommandsEnv, dir)
	dst := filepath.Join(t.TempDir(), "cmd")
	if err := BuildCommand(dst); err == nil || !strings.Contains(err.Error(), "no prebuilt command for "+name) {
		t.Fatalf("no prebuilt command: got %v, want an error naming %s", err, name)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Command(t, dst); got != dst {
		t.Fatalf("Command returned %s, want %s", got, dst)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "#!/bin/true\n" || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("copy: %q, mode %v; want the prebuilt file, executable", b, fi.Mode())
	}
}

func TestKernelAtLeast(t *testing.T) {
	rel := KernelRelease()
	var maj, min int
	if _, err := fmt.Sscanf(rel, "%d.%d", &maj, &min); err != nil {
		SkipOrFail(t, "no Linux kernel release here (%q)", rel)
	}
	for _, tc := range []struct {
		major, minor int
		want         bool
	}{
		{maj, min, true}, {maj, min + 1, false}, {maj - 1, 99, true}, {maj + 1, 0, false}, {maj, min - 1, true},
	} {
		if got := KernelAtLeast(tc.major, tc.minor); got != tc.want {
			t.Errorf("kernel %s: KernelAtLeast(%d, %d) = %v, want %v", rel, tc.major, tc.minor, got, tc.want)
		}
	}
}

// SkipKernelLacks skips on a kernel older than the feature, in the words
// the kernel matrix allows, and fails on one that should have it.
func TestSkipKernelLacks(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		SkipKernelLacks(t, "the counter X", os.Getenv(childEnv))
		return
	}
	var maj, min int
	if _, err := fmt.Sscanf(KernelRelease(), "%d.%d", &maj, &min); err != nil {
		SkipOrFail(t, "no Linux kernel release here (%q)", KernelRelease())
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ since, verdict, says string }{
		{fmt.Sprintf("%d.%d", maj+1, 0), "--- SKIP: TestSkipKernelLacks", fmt.Sprintf("kernel %s lacks the counter X (Linux %d.0 and later have it)", KernelRelease(), maj+1)},
		{fmt.Sprintf("%d.%d", maj, min), "--- FAIL: TestSkipKernelLacks", "which Linux has since"},
	} {
		cmd := exec.Command(exe, "-test.run=^TestSkipKernelLacks$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+tc.since)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.verdict) || !strings.Contains(string(out), tc.says) {
			t.Errorf("since %s: want %q saying %q:\n%s", tc.since, tc.verdict, tc.says, out)
		}
	}
}
