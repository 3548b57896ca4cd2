package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
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

// newNS returns a new network namespace, held until the test ends by a
// thread that stays in it, or skips the test.
func newNS(t *testing.T) *os.File {
	t.Helper()
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
	t.Cleanup(func() { close(release) })
	if ns == nil {
		testenv.SkipOrFail(t, "cannot create a network namespace")
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// Do runs f inside the namespace it is given, returns f's error, and
// leaves no thread of the process there.
func TestDo(t *testing.T) {
	ns := newNS(t)
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

// ReadFile reads a per-namespace file as a thread inside the namespace
// sees it: a new namespace has no interface but lo.
func TestReadFile(t *testing.T) {
	ns := newNS(t)
	var inside []byte
	if err := Do(ns, func() (err error) {
		inside, err = ReadFile("/proc/thread-self/net/dev", 1<<16)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(inside), ":"); n != 1 || !strings.Contains(string(inside), "lo:") {
		t.Errorf("the new namespace's /proc/thread-self/net/dev lists %d interfaces, want lo alone:\n%s", n, inside)
	}
	here, err := ReadFile("/proc/thread-self/net/dev", 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if string(here) == string(inside) {
		t.Error("the caller's namespace and the new one read the same")
	}
	short, err := ReadFile("/proc/thread-self/net/dev", 10)
	if err != nil || len(short) != 10 {
		t.Errorf("ReadFile with limit 10: %d bytes, %v", len(short), err)
	}
	if _, err := ReadFile("/nonexistent", 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want os.ErrNotExist", err)
	}
}

// Run enters the namespace a path or a descriptor names once, uses the
// caller's descriptor without copying or closing it, and runs on the
// calling thread for neither.
func TestRun(t *testing.T) {
	ns := newNS(t)
	var want unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &want); err != nil {
		t.Fatal(err)
	}
	here := nsIno(t)
	path := fmt.Sprintf("/proc/self/fd/%d", ns.Fd())
	for _, tc := range []struct {
		name string
		path string
		fd   int
		ino  uint64
	}{
		{"path", path, 0, want.Ino},
		{"descriptor", "", int(ns.Fd()), want.Ino},
		{"neither", "", 0, here},
	} {
		entered0, dups0 := Counts()
		var inside uint64
		if err := Run(tc.path, tc.fd, func() error { inside = nsIno(t); return nil }); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		entered, dups := Counts()
		wantEntries := uint64(1)
		if tc.ino == here {
			wantEntries = 0
		}
		if inside != tc.ino || entered-entered0 != wantEntries || dups != dups0 {
			t.Errorf("%s: ran in namespace %d (want %d), entered %d times (want %d), duplicated %d descriptors (want 0)",
				tc.name, inside, tc.ino, entered-entered0, wantEntries, dups-dups0)
		}
	}
	if _, err := unix.FcntlInt(ns.Fd(), unix.F_GETFD, 0); err != nil {
		t.Errorf("Run closed the caller's descriptor: %v", err)
	}
	if err := Run("", -1, func() error { return nil }); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("Run with descriptor -1: %v, want os.ErrInvalid", err)
	}
	if err := Run("/nonexistent/netns", 0, func() error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Run with a missing path: %v, want os.ErrNotExist", err)
	}
}

// Open opens a path, copies a descriptor above 2 leaving the caller's
// open, and returns nil for neither.
func TestOpen(t *testing.T) {
	if f, err := Open("", 0); f != nil || err != nil {
		t.Errorf("Open of nothing: %v, %v; want nil, nil", f, err)
	}
	if _, err := Open("/nonexistent/netns", 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing path: %v, want os.ErrNotExist", err)
	}
	if _, err := Open("", -1); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("Open of descriptor -1: %v, want os.ErrInvalid", err)
	}
	if _, err := Open("", 1<<20); !errors.Is(err, unix.EBADF) {
		t.Errorf("Open of a closed descriptor: %v, want EBADF", err)
	}
	mine, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	f, err := Open("", int(mine.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if f.Fd() <= 2 || f.Fd() == mine.Fd() {
		t.Errorf("the copy is descriptor %d (the caller's %d), want a new one above 2", f.Fd(), mine.Fd())
	}
	f.Close()
	if _, err := unix.FcntlInt(mine.Fd(), unix.F_GETFD, 0); err != nil {
		t.Errorf("closing the copy closed the caller's descriptor: %v", err)
	}
}
