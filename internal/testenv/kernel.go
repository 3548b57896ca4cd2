package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// KernelRelease returns the running kernel's release (uname -r), or ""
// where it cannot be read (not Linux).
func KernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// KernelAtLeast reports whether the running kernel's release is major.minor
// or later. Tests use it only where the kernel gives no other sign of a
// feature: a flag it drops silently, a message it words differently.
func KernelAtLeast(major, minor int) bool {
	var maj, min int
	if _, err := fmt.Sscanf(KernelRelease(), "%d.%d", &maj, &min); err != nil {
		return false
	}
	return maj > major || (maj == major && min >= minor)
}

// SkipKernelLacks skips t because the running kernel lacks what (a
// counter, an event, a sysctl), which Linux has since the release since
// ("6.12"). The message is the one the kernel matrix allows, and only on
// kernels older than since; on a kernel that should have it, t fails
// instead: the feature is missing for another reason.
func SkipKernelLacks(t testing.TB, what, since string) {
	t.Helper()
	if kernelHas(t, "SkipKernelLacks", what, since) {
		t.FailNow()
	}
	t.Skip(lacksMessage(what, since))
}

// kernelHas reports whether the running kernel is since or later; then
// it reports the error. fn names the caller, for a bad since.
func kernelHas(t testing.TB, fn, what, since string) bool {
	t.Helper()
	var major, minor int
	if _, err := fmt.Sscanf(since, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("%s(%q, %q): since is not a MAJOR.MINOR release", fn, what, since)
	}
	if KernelAtLeast(major, minor) {
		t.Errorf("kernel %s lacks %s, which Linux has since %s", KernelRelease(), what, since)
		return true
	}
	return false
}

// lacksMessage is what SkipKernelLacks says, in the words the kernel
// matrix allows.
func lacksMessage(what, since string) string {
	return fmt.Sprintf("kernel %s lacks %s (Linux %s and later have it)", KernelRelease(), what, since)
}

// KernelLacks is for a test that found the running kernel without what,
// which Linux has since the release since ("6.8"), and goes on checking
// the rest: on a kernel older than since it logs so and returns true;
// on one that should have it, it fails t and returns false.
func KernelLacks(t testing.TB, what, since string) bool {
	t.Helper()
	if kernelHas(t, "KernelLacks", what, since) {
		return false
	}
	t.Log(lacksMessage(what, since))
	return true
}
