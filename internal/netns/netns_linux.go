// Package netns runs code inside another network namespace, for the
// packages that open sockets, read interfaces or read per-namespace
// files there: internal/sockdiag, pm, diag, counters and collector. It
// is built on golang.org/x/sys alone.
package netns

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs f on an OS thread moved into the network namespace ns names,
// and moves the thread back before it serves other goroutines. A thread
// that cannot move back is left locked, so that it ends with its
// goroutine. Sockets f creates stay in ns; f must not start goroutines
// that expect to run there.
func Do(ns *os.File, f func() error) error {
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
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("setns %s: %w", ns.Name(), os.NewSyscallError("setns", err))
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

// Open returns the namespace a package's Config names: the file at path,
// or else a copy of the descriptor fd (the caller keeps its own), or nil
// when path is empty and fd is 0. A copy is numbered above 2, so that
// passing its number on to a Config that takes 0 for "none" is safe.
func Open(path string, fd int) (*os.File, error) {
	switch {
	case path != "":
		return os.Open(path)
	case fd != 0:
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
// /proc/sys/net/...), from a thread in ns, or from the calling thread
// when ns is nil.
func ReadFile(ns *os.File, name string, limit int64) ([]byte, error) {
	var text []byte
	read := func() error {
		// The namespace is the one of the thread that opens the file;
		// reading it later from another thread changes nothing.
		runtime.LockOSThread()
		f, err := os.Open(name)
		runtime.UnlockOSThread()
		if err != nil {
			return err
		}
		defer f.Close()
		text, err = io.ReadAll(io.LimitReader(f, limit))
		return err
	}
	var err error
	if ns != nil {
		err = Do(ns, read)
	} else {
		err = read()
	}
	return text, err
}
