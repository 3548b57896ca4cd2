// Package netns runs code inside another network namespace, for the
// packages that open sockets or read interfaces there: internal/sockdiag
// and pm. It is built on golang.org/x/sys alone.
package netns

import (
	"fmt"
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
