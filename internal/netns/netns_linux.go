// Package netns runs code inside another network namespace, for the
// packages that open sockets, read interfaces or read per-namespace
// files there: internal/sockdiag, pm, diag, counters and collector. It
// is built on golang.org/x/sys alone. The rules its callers follow (who
// owns a descriptor, when a namespace is entered) are the public
// package netns's.
package netns

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// entries and dups count the namespaces entered and the descriptors
// duplicated, for the tests that hold a scrape to one of each at most.
var entries, dups atomic.Uint64

// Counts returns how many times a thread entered a namespace through Do
// or Run, and how many descriptors Open duplicated, since the process
// started.
func Counts() (entered, duplicated uint64) { return entries.Load(), dups.Load() }

// Do runs f on an OS thread moved into the network namespace ns names,
// and moves the thread back before it serves other goroutines. A thread
// that cannot move back is left locked, so that it ends with its
// goroutine. Sockets f creates stay in ns; f must not start goroutines
// that expect to run there.
func Do(ns *os.File, f func() error) error {
	return do(int(ns.Fd()), ns.Name(), f)
}

func do(fd int, name string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer self.Close()
		entries.Add(1)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("setns %s: %w", name, os.NewSyscallError("setns", err))
			return
		}
		err = f()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// check refuses what names no namespace: a negative descriptor without
// a path.
func check(path string, fd int) error {
	if path == "" && fd < 0 {
		return fmt.Errorf("negative namespace descriptor %d: %w", fd, os.ErrInvalid)
	}
	return nil
}

// Run runs f inside the namespace a Config names, entering it once: the
// file at path, or else the descriptor fd, used as it is (neither copied
// nor closed); or on the calling thread, locked to it, when path is
// empty and fd is 0.
func Run(path string, fd int, f func() error) error {
	if err := check(path, fd); err != nil {
		return err
	}
	switch {
	case path != "":
		ns, err := os.Open(path)
		if err != nil {
			return err
		}
		defer ns.Close()
		return Do(ns, f)
	case fd != 0:
		return do(fd, fmt.Sprintf("netns fd %d", fd), f)
	}
	// The namespace of a file opened or a socket made is the calling
	// thread's: f's calls must all run on one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return f()
}

// Open returns a namespace file of the caller's own for what a Config
// names, to keep beyond the call: the file at path, or else a copy of
// the descriptor fd (the caller keeps its own), or nil when path is
// empty and fd is 0. A copy is numbered above 2, away from the standard
// descriptors.
func Open(path string, fd int) (*os.File, error) {
	if err := check(path, fd); err != nil {
		return nil, err
	}
	switch {
	case path != "":
		return os.Open(path)
	case fd != 0:
		dups.Add(1)
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("network namespace descriptor %d: %w", fd, os.NewSyscallError("fcntl", err))
		}
		return os.NewFile(uintptr(nfd), fmt.Sprintf("netns fd %d", fd)), nil
	}
	return nil, nil
}

// ReadFile reads at most limit bytes of a file whose contents depend on
// the network namespace of the thread that opens it (/proc/thread-self/net/...,
// /proc/sys/net/...), from the calling thread: inside Do or Run, the
// namespace's.
func ReadFile(name string, limit int64) ([]byte, error) {
	// The namespace is the one of the thread that opens the file;
	// reading it later from another thread changes nothing.
	runtime.LockOSThread()
	f, err := os.Open(name)
	runtime.UnlockOSThread()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
