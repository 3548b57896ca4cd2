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
	defer f.Close()
	// A copy checked as dupNS checks one, above the standard descriptors.
	return dupNS(int(f.Fd()), path)
}

// dupNS duplicates fd, names the copy name (for errors), and checks that it is a network namespace: the
// kernel's answer to NS_GET_NSTYPE (4.11+), or, before, at least a file
// of the nsfs file system that holds namespaces.
func dupNS(fd int, name string) (*os.File, error) {
	// Above 2: the packages the collector calls take descriptor 0 for
	// "no namespace".
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(nfd), name)
	typ, err := unix.IoctlRetInt(nfd, unix.NS_GET_NSTYPE)
	switch {
	case err == nil && typ == unix.CLONE_NEWNET:
		return f, nil
	case err == nil:
		err = fmt.Errorf("not a network namespace (type %#x): %w", typ, os.ErrInvalid)
	case err == unix.ENOTTY || err == unix.EINVAL:
		var st unix.Statfs_t
		if unix.Fstatfs(nfd, &st) == nil && st.Type == unix.NSFS_MAGIC {
			return f, nil
		}
		err = fmt.Errorf("not a namespace: %w", os.ErrInvalid)
	default:
		err = os.NewSyscallError("ioctl NS_GET_NSTYPE", err)
	}
	f.Close()
	return nil, err
}

// checkEnter checks that this process may enter the namespace ns, by
// entering it, on a thread of its own that then comes back: the kernel
// asks for CAP_SYS_ADMIN over the namespace's owner and over the
// process's own user namespace, which no look at the process's
// capabilities alone can tell.
func checkEnter(ns *os.File) error {
	err := netns.Do(ns, func() error { return nil })
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (entering a network namespace needs CAP_SYS_ADMIN)", err)
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

// readEnabled reads net.mptcp.enabled in ns, or in the calling thread's
// namespace when ns is nil.
func readEnabled(ns *os.File) (string, error) {
	text, err := netns.ReadFile(ns, enabledFile, 64)
	return string(text), err
}
