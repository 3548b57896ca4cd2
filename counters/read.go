package counters

import (
	"errors"
	"fmt"
	"os"
)

// Config selects the network namespace to read.
type Config struct {
	// NetNS is the path of a network namespace file, such as
	// /run/netns/NAME (made by "ip netns add NAME") or /proc/PID/ns/net.
	// Entering a namespace needs CAP_SYS_ADMIN.
	NetNS string

	// NetNSFD is an open file descriptor of a network namespace, used
	// when NetNS is empty; 0 means none. Read does not close it.
	NetNSFD int
}

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
