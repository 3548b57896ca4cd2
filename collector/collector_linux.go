package collector

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/netns"
)

// openNS opens the namespace file at path and checks it.
func openNS(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := checkNS(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// dupNS returns the Collector's own copy of the descriptor fd, checked.
func dupNS(fd int) (*os.File, error) {
	f, err := netns.Open("", fd)
	if err != nil {
		return nil, err
	}
	if err := checkNS(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkNS checks that f is a network namespace: the kernel's answer to
// NS_GET_NSTYPE (4.11+), or, before, at least a file of the nsfs file
// system that holds namespaces.
func checkNS(f *os.File) error {
	fd := int(f.Fd())
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	switch {
	case err == nil && typ == unix.CLONE_NEWNET:
		return nil
	case err == nil:
		return fmt.Errorf("not a network namespace (type %#x): %w", typ, os.ErrInvalid)
	case err == unix.ENOTTY || err == unix.EINVAL:
		var st unix.Statfs_t
		if unix.Fstatfs(fd, &st) == nil && st.Type == unix.NSFS_MAGIC {
			return nil
		}
		return fmt.Errorf("not a namespace: %w", os.ErrInvalid)
	}
	return os.NewSyscallError("ioctl NS_GET_NSTYPE", err)
}

// enter runs f inside ns: a scrape's one entry into its namespace.
func enter(ns *os.File, f func() error) error { return netns.Do(ns, f) }

// checkEnter checks that this process may enter the namespace ns, by
// entering it, on a thread of its own that then comes back: the kernel
// asks for CAP_SYS_ADMIN over the namespace's owner and over the
// process's own user namespace, which no look at the process's
// capabilities alone can tell.
func checkEnter(ns *os.File) error {
	err := netns.Do(ns, func() error { return nil })
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w (entering a network namespace needs CAP_SYS_ADMIN)", err)
	case errors.Is(err, unix.EINVAL):
		// Where the kernel does not answer NS_GET_NSTYPE (before 4.11,
		// and to 32-bit programs on 6.1), dupNS lets any namespace
		// through: setns refuses one of another kind with EINVAL.
		return fmt.Errorf("%w (not a network namespace: %w)", err, os.ErrInvalid)
	}
	return err
}

// nsID identifies a namespace: the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

// idOf returns the namespace's nsID, and false when fstat fails.
func idOf(ns *os.File) (nsID, bool) {
	var st unix.Stat_t
	if unix.Fstat(int(ns.Fd()), &st) != nil {
		return nsID{}, false
	}
	return nsID{uint64(st.Dev), st.Ino}, true
}

// enabledFile is net.mptcp.enabled. The files of /proc/sys/net show the
// namespace of the thread that opens them.
const enabledFile = "/proc/sys/net/mptcp/enabled"

// readEnabled reads net.mptcp.enabled in the calling thread's namespace:
// inside a scrape's, when it has one.
func readEnabled() (string, error) {
	text, err := netns.ReadFile(enabledFile, 64)
	return string(text), err
}
