package counters

import (
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/netns"
)

// netstat is the calling thread's own view: /proc/self/net would show the
// main thread's namespace, which a goroutine inside another namespace
// (entered with setns on a locked thread) does not share.
const netstat = "/proc/thread-self/net/netstat"

func read(cfg *Config) (Counters, error) {
	var ns *os.File
	switch {
	case cfg.NetNS != "":
		f, err := os.Open(cfg.NetNS)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		ns = f
	case cfg.NetNSFD > 0:
		// A copy, so that the caller's descriptor stays theirs.
		fd, err := unix.FcntlInt(uintptr(cfg.NetNSFD), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: "netns", Err: os.NewSyscallError("fcntl", err)}
		}
		ns = os.NewFile(uintptr(fd), "netns")
		defer ns.Close()
	}
	var text []byte
	open := func() error {
		// The namespace is the one of the thread that opens the file.
		runtime.LockOSThread()
		f, err := os.Open(netstat)
		runtime.UnlockOSThread()
		if err != nil {
			return err
		}
		defer f.Close()
		text, err = io.ReadAll(io.LimitReader(f, maxSize+1))
		return err
	}
	var err error
	if ns != nil {
		err = netns.Do(ns, open)
	} else {
		err = open()
	}
	if err != nil {
		return nil, err
	}
	return Parse(text)
}
