package testenv

import (
	"os"
	"os/exec"
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
