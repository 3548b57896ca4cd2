package main

import (
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strings"

	mib "github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/pm"
)

// readHost reads what is known of the calling thread's network namespace
// apart from any connection, the evidence doctor and why share: MPTCP
// support, net.mptcp.enabled, the path manager's type, limits and
// endpoints. c is a path manager connection, or nil with pmErr saying
// why there is none. The blackhole detection's state is the caller's
// to add: reading it moves counters (see readBlackhole).
func readHost(c *pm.Conn, pmErr error) explain.Host {
	h := explain.Host{Supported: runtime.GOOS == "linux", OS: runtime.GOOS}
	b, err := os.ReadFile("/proc/sys/net/mptcp/enabled")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.Supported = false
	case err == nil:
		h.Enabled, h.EnabledKnown = strings.TrimSpace(string(b)) != "0", true
	}
	if b, err := os.ReadFile("/proc/sys/net/mptcp/pm_type"); err == nil && strings.TrimSpace(string(b)) == "1" {
		h.Userspace = true
	}
	if b, err := os.ReadFile("/proc/sys/net/mptcp/allow_join_initial_addr_port"); err == nil && strings.TrimSpace(string(b)) == "0" {
		h.DenyJoinInitial = true
	}
	if c == nil {
		if pmErr != nil {
			h.PathManagerError = pmErr.Error()
		}
		return h
	}
	if l, err := c.Limits(); err == nil {
		h.Limits = &explain.Limits{Subflows: l.Subflows, AddAddrAccepted: l.AddAddrAccepted}
	} else {
		h.PathManagerError = err.Error()
	}
	eps, err := c.Endpoints()
	if err != nil && h.PathManagerError == "" {
		h.PathManagerError = err.Error()
	}
	for _, e := range eps {
		h.Endpoints = append(h.Endpoints, explain.Endpoint{
			Addr: e.Addr.String(), IPv6: !e.Addr.Unmap().Is4(),
			Subflow: e.Flags&pm.FlagSubflow != 0, Signal: e.Flags&pm.FlagSignal != 0, Backup: e.Flags&pm.FlagBackup != 0,
			Text: e.String(),
		})
	}
	return h
}

// missingEvidence names the counters, sysctls and events that causes of
// the table rest on and that the calling thread's kernel lacks, given
// its MPTcpExt counters as read (explain.MissingEvidence): a counter is
// missing when the kernel does not list it, a sysctl when
// /proc/sys/net/mptcp has no file for it, the events when the mptcp_pm
// family has no events group (pmEventsMissing).
func missingEvidence(counters mib.Counters) []string {
	return explain.MissingEvidence(func(name string) bool {
		if sysctl, ok := strings.CutPrefix(name, "net.mptcp."); ok {
			_, err := os.Stat("/proc/sys/net/mptcp/" + sysctl)
			return err == nil
		}
		if name == explain.PMEvents {
			return !pmEventsMissing()
		}
		_, ok := counters.Get(name)
		return ok
	})
}

// pmEventsMissing reports whether the kernel's path manager has no
// events to subscribe to (before Linux 5.12). Any other failure (no
// CAP_NET_ADMIN, no mptcp_pm family) says nothing of the kernel's
// events, and is not counted as their lack.
func pmEventsMissing() bool {
	c, err := pm.Dial(nil)
	if err != nil {
		return false
	}
	defer c.Close()
	sub, err := c.Subscribe()
	if err == nil {
		sub.Close()
	}
	return errors.Is(err, errors.ErrUnsupported)
}
