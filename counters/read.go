package counters

import (
	"errors"

	"github.com/multipath-go/mptcp/internal/errs"
	"github.com/multipath-go/mptcp/netns"
)

// Config names the network namespace to read: it is [netns.Config], whose
// package says who owns what. Read enters the namespace once, to open
// the file, and keeps nothing of it.
type Config = netns.Config

// errNoMPTCP is Parse's and Read's cause on a kernel without MPTCP.
var errNoMPTCP = errs.New("no MPTcpExt counters: the kernel has no MPTCP", errors.ErrUnsupported)

// opError is the error of every call of this package: a *net.OpError
// whose Op is "read" or "parse" and whose Net is "netstat", the file the
// counters come from.
func opError(op string, err error) error { return errs.Op(op, "netstat", err) }

// Read reads the MPTcpExt counters of the namespace cfg names, or of the
// calling goroutine's when cfg is nil or names none. Its errors are
// *net.OpError values whose Op is "read" (or Parse's): errors.Is matches
// os.ErrNotExist and os.ErrPermission for a namespace path that is
// missing or may not be entered, os.ErrInvalid for a negative NetNSFD,
// syscall.EINVAL for a file that is no network namespace, syscall.EBADF
// for a descriptor that is not open, and errors.ErrUnsupported for a
// kernel without MPTCP, or off Linux.
func Read(cfg *Config) (Counters, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c, err := read(cfg)
	if err != nil {
		return nil, opError("read", err)
	}
	return c, nil
}
