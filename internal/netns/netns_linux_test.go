package netns

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// nsIno returns the inode of the calling thread's network namespace.
func nsIno(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// Do runs f inside the namespace it is given, returns f's error, and
// leaves no thread of the process there.
func TestDo(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.SkipOrFail(t, "entering a network namespace needs root")
	}
	// A namespace of its own: a thread unshared, held by a goroutine.
	other := make(chan *os.File)
	release := make(chan struct{})
	go func() {
		// This thread stays in the new namespace and ends locked.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			other <- nil
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			other <- nil
			return
		}
		other <- f
		<-release
	}()
	ns := <-other
	defer close(release)
	if ns == nil {
		testenv.SkipOrFail(t, "cannot create a network namespace")
	}
	defer ns.Close()
	var want unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &want); err != nil {
		t.Fatal(err)
	}
	here := nsIno(t)
	sentinel := errors.New("from f")
	var inside uint64
	err := Do(ns, func() error {
		inside = nsIno(t)
		return sentinel
	})
	if err != sentinel {
		t.Errorf("Do returned %v, want f's error", err)
	}
	if inside != want.Ino || inside == here {
		t.Errorf("f ran in namespace %d, want %d (the caller is in %d)", inside, want.Ino, here)
	}
	for range 20 { // threads that ran f are back, or gone
		if got := nsIno(t); got != here {
			t.Fatalf("a thread of the process was left in namespace %d", got)
		}
	}
	if err := Do(os.Stdin, func() error { return nil }); err == nil {
		t.Errorf("Do with a file that is no namespace: no error")
	}
}
