package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CommandsEnv names a directory of prebuilt commands, each file named for
// its package's directory (mptcpcheck, mptcp_exporter). The kernel
// matrix's machines set it: they have no go command to build one with.
const CommandsEnv = "MPTCP_TEST_COMMANDS"

// RequireCommand skips or fails t unless [BuildCommand] can provide the
// command of the package under test: prebuilt in [CommandsEnv]'s
// directory, or built by the go command.
func RequireCommand(t testing.TB) {
	t.Helper()
	if _, err := prebuilt(); err == nil {
		return
	}
	if _, err := exec.LookPath("go"); err != nil {
		SkipOrFail(t, "needs go on the PATH to build the command (or a prebuilt one in $%s): %v", CommandsEnv, err)
	}
}

// BuildCommand puts the command of the package under test (the one in
// the working directory, as go test runs it) at dst: a copy of the
// prebuilt one where [CommandsEnv] names a directory, else built there by
// "go build -o dst .".
func BuildCommand(dst string) error {
	if src, err := prebuilt(); err == nil {
		return copyExecutable(src, dst)
	} else if os.Getenv(CommandsEnv) != "" {
		return err
	}
	out, err := exec.Command("go", "build", "-o", dst, ".").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// Command is [RequireCommand] then [BuildCommand], failing t on an error.
// It returns dst.
func Command(t testing.TB, dst string) string {
	t.Helper()
	RequireCommand(t)
	if err := BuildCommand(dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// prebuilt returns the prebuilt command of the working directory's
// package, or an error saying why there is none.
func prebuilt() (string, error) {
	dir := os.Getenv(CommandsEnv)
	if dir == "" {
		return "", fmt.Errorf("%s is not set", CommandsEnv)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, filepath.Base(wd))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no prebuilt command for %s in $%s: %w", filepath.Base(wd), CommandsEnv, err)
	}
	return p, nil
}

// copyExecutable copies src to dst, executable: each test gets a file of
// its own, to move, chmod or remove.
func copyExecutable(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}
