package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	mib "github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/internal/netns"
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
	counters, err := mib.Read(nil)
	if err == nil {
		if n := explain.MissingNote(missingEvidence(counters)); n != "" {
			h.Notes = append(h.Notes, n)
		}
	}
	bh := readBlackhole(counters)
	h.blackhole = bh
	if e, ok := explain.HostBlackhole(bh); ok {
		h.Problems = append(h.Problems, e.Message)
	} else if bh != nil && bh.Detections > 0 && bh.ActiveKnown {
		h.Notes = append(h.Notes, fmt.Sprintf("the kernel's MPTCP blackhole detection tripped %d times in this network namespace (SYNs with the MPTCP option dropped on a path); outgoing connections offer MPTCP again now", bh.Detections))
	}
	return h
}

// isMPTCPSocket reports whether c's socket was made as an MPTCP socket
// (SO_PROTOCOL 262), fallen back since or not.
func isMPTCPSocket(c syscall.Conn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var proto int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		proto, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	}); err != nil || serr != nil {
		return false
	}
	return proto == unix.IPPROTO_MPTCP
}

// inNetNS runs f on a thread in the network namespace -netns names (see
// netnsPath), or on the calling goroutine for "". What f reads through
// files (sysctls, /proc/thread-self/net) and the sockets it makes are
// that namespace's.
func inNetNS(name string, f func()) error {
	if name == "" {
		f()
		return nil
	}
	path := netnsPath(name)
	ns, err := netns.Open(path, 0)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer ns.Close()
	err = netns.Do(ns, func() error { f(); return nil })
	if errors.Is(err, syscall.EINVAL) {
		// setns refuses a file that is not a network namespace.
		return fmt.Errorf("%s is not a network namespace: %w", path, err)
	}
	return err
}
