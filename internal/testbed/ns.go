//go:build linux

package testbed

import (
	"fmt"
	"os"
	"testing"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// NewNS makes a network namespace of its own, with lo up and no link,
// its MPTCP limits at their defaults, and deletes it when the test ends
// if it is still there. Its Delete and Add remove and make again the
// namespace of the same name, for tests of programs that follow a name.
func NewNS(t testing.TB) *NS {
	t.Helper()
	Require(t)
	n := &NS{Name: fmt.Sprintf("mptcptb-%d-%d-ns", os.Getpid(), counter.Add(1)), t: t}
	n.Add()
	t.Cleanup(func() {
		if _, err := os.Stat(n.Path()); err != nil {
			return // deleted by the test
		}
		if _, err := run("ip", "netns", "delete", n.Name); err != nil {
			t.Errorf("testbed cleanup: %v", err)
		}
	})
	return n
}

// Add runs "ip netns add" for the namespace's name and sets lo up: a new
// namespace, whatever the name named before.
func (n *NS) Add() {
	n.t.Helper()
	if _, err := run("ip", "netns", "add", n.Name); err != nil {
		testenv.SkipOrFail(n.t, "cannot create a network namespace: %v", err)
	}
	n.IP("link", "set", "lo", "up")
}

// Delete runs "ip netns delete" for the namespace's name. The namespace
// lives on while a process holds it open.
func (n *NS) Delete() {
	n.t.Helper()
	if _, err := run("ip", "netns", "delete", n.Name); err != nil {
		n.t.Fatalf("testbed: %v", err)
	}
}
