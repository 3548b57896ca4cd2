//go:build linux

package testbed

import (
	"os"
	"testing"
	"time"
)

// OpenFDs counts this process's open file descriptors, for tests that
// check that nothing is left open.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// WaitFDs waits, at most 5 s, for the descriptor count to fall back to
// want, and fails the test if it does not: peers close their ends
// asynchronously, and the test's own accept loops close theirs after it.
func WaitFDs(t testing.TB, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for OpenFDs(t) > want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := OpenFDs(t); got > want {
		t.Errorf("%d file descriptors left open", got-want)
	}
}
