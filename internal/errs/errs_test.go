package errs

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// Op gives one *net.OpError whatever it wraps, with "closed" as
// net.ErrClosed and errnos reachable.
func TestOp(t *testing.T) {
	if Op("list", "sock_diag", nil) != nil {
		t.Error("Op of nil is not nil")
	}
	err := Op("list", "sock_diag", os.ErrClosed)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "list" || oe.Net != "sock_diag" || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Op of os.ErrClosed: %#v, want an *net.OpError matching net.ErrClosed", err)
	}
	errno := Op("read", "netstat", os.NewSyscallError("open", syscall.EACCES))
	if !errors.Is(errno, syscall.EACCES) || !errors.Is(errno, os.ErrPermission) {
		t.Errorf("Op of EACCES: %v matches neither EACCES nor os.ErrPermission", errno)
	}
	if again := Op("close", "netns", err); again != err {
		t.Errorf("Op of an *net.OpError wrapped it again: %v", again)
	}
	if got := err.Error(); got != "list sock_diag: use of closed network connection" {
		t.Errorf("Error() = %q", got)
	}
}

// A Wrapped error says its own words and matches what it wraps.
func TestNew(t *testing.T) {
	err := New("no MPTCP here", errors.ErrUnsupported, syscall.ENOENT)
	if err.Error() != "no MPTCP here" || !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("New: %q matches ErrUnsupported %v, ENOENT %v", err, errors.Is(err, errors.ErrUnsupported), errors.Is(err, syscall.ENOENT))
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.ENOENT {
		t.Errorf("errors.As through New: %v", errno)
	}
}
