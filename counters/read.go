package counters

import (
	"errors"
	"fmt"
	"os"

	"github.com/multipath-go/mptcp/netns"
)

// Config names the network namespace to read: it is [netns.Config], whose
// package says who owns what. Read enters the namespace once, to open
// the file, and keeps nothing of it.
type Config = netns.Config

// errNoMPTCP is Parse's and Read's error on a kernel without MPTCP.
var errNoMPTCP = fmt.Errorf("counters: no MPTcpExt counters: the kernel has no MPTCP: %w", errors.ErrUnsupported)

// Read reads the MPTcpExt counters of the namespace cfg names, or of the
// calling goroutine's when cfg is nil or names none. Errors are
// *os.PathError for the files it opens, or Parse's.
func Read(cfg *Config) (Counters, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.NetNS == "" && cfg.NetNSFD < 0 {
		return nil, &os.PathError{Op: "read", Path: "netns", Err: fmt.Errorf("negative namespace descriptor %d: %w", cfg.NetNSFD, os.ErrInvalid)}
	}
	return read(cfg)
}
