package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// checkHost reports whether this host can make MPTCP connections, and
// why not.
func checkHost() hostReport {
	h := hostReport{OS: "Linux", PathManager: "in-kernel"}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		h.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	enabled, err := os.ReadFile("/proc/sys/net/mptcp/enabled")
	switch {
	case errors.Is(err, os.ErrNotExist):
		h.Problems = append(h.Problems, "the kernel has no MPTCP (no /proc/sys/net/mptcp): it needs CONFIG_MPTCP, Linux 5.6 or newer")
	case err != nil:
		h.Problems = append(h.Problems, fmt.Sprintf("cannot read net.mptcp.enabled: %v", err))
	case strings.TrimSpace(string(enabled)) != "1":
		h.Problems = append(h.Problems, "MPTCP is disabled: run sysctl -w net.mptcp.enabled=1")
	}
	if pm, err := os.ReadFile("/proc/sys/net/mptcp/pm_type"); err == nil && strings.TrimSpace(string(pm)) == "1" {
		h.PathManager = "userspace"
		h.Notes = append(h.Notes, "the path manager is the userspace one: extra subflows need a daemon such as mptcpd")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if err != nil {
		h.Problems = append(h.Problems, fmt.Sprintf("cannot create an MPTCP socket: %v", err))
	} else {
		unix.Close(fd)
	}
	return h
}
