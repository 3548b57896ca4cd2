package explain

import (
	"fmt"
	"runtime"
)

// Host is what is known of a network namespace apart from any
// connection: what mptcpcheck doctor reads, and what why reads around
// its connection. ExplainHost judges it alone, Explain with a
// connection, with the same rules and words, so that the two commands
// agree. Every source may be missing: its error field then says why.
type Host struct {
	// Supported is false where the system has no MPTCP at all (not Linux,
	// or a Linux kernel without MPTCP): there are no counters, path
	// manager or mptcp_info to read.
	Supported bool
	// OS names the system, for the message when Supported is false.
	OS string

	// Enabled is net.mptcp.enabled of the namespace; EnabledKnown says
	// whether it could be read.
	Enabled, EnabledKnown bool

	// Limits and Endpoints are the in-kernel path manager's settings;
	// Limits is nil when they could not be read, with PathManagerError
	// saying why. Userspace is true when the namespace uses the userspace
	// path manager (net.mptcp.pm_type=1).
	Limits           *Limits
	Endpoints        []Endpoint
	PathManagerError string
	Userspace        bool

	// DenyJoinInitial is true when net.mptcp.allow_join_initial_addr_port
	// is 0: peers may not join the address their connection to this host
	// started on, only addresses this host announces (signal endpoints).
	// False where the kernel has no such sysctl (before 5.14), which
	// always allowed them.
	DenyJoinInitial bool

	// Blackhole is the state of the kernel's blackhole detection, or nil
	// where the kernel has none (before 6.12) or it was not read.
	Blackhole *Blackhole
}

// Unusable reports whether code says that MPTCP cannot be used at all
// from the host (not only that it gets one subflow): doctor's failing
// verdicts.
func Unusable(code string) bool {
	return code == Unsupported || code == MPTCPDisabled || code == BlackholeDetected
}

// The fixes the host's explanations name, one wording for doctor and
// why.
const (
	enableFix       = "enable it with: sysctl -w net.mptcp.enabled=1"
	userspaceFix    = "the namespace uses the userspace path manager (net.mptcp.pm_type=1), which opens subflows only when a daemon such as mptcpd asks; run one, or switch back with sysctl -w net.mptcp.pm_type=0"
	subflowLimitFix = "the limit of additional subflows is 0; raise it with: ip mptcp limits set subflows 2 add_addr_accepted 2"
	addEndpointFix  = "add one for a second interface with: ip mptcp endpoint add ADDR dev DEV subflow"
	pmUnreadableFix = "the path manager's endpoints and limits cannot be read; check them with: ip mptcp endpoint show; ip mptcp limits show"
)

// hostUnusable explains a host where no MPTCP socket can be made; what
// names what is plain TCP ("the connection is", "connections are").
func hostUnusable(h Host, what string, lines []string) (Explanation, bool) {
	if !h.Supported {
		system := h.OS
		if system == "" {
			system = "this system"
		}
		return Explanation{
			Code:     Unsupported,
			Message:  fmt.Sprintf("MPTCP needs Linux with an MPTCP kernel; on %s there are no MPTCP sockets, counters or path manager, so %s plain TCP", system, what),
			Evidence: []string{"system: " + system},
		}, true
	}
	if h.EnabledKnown && !h.Enabled {
		return Explanation{
			Code:     MPTCPDisabled,
			Message:  fmt.Sprintf("MPTCP is disabled on this host, so %s plain TCP; %s", what, enableFix),
			Evidence: append([]string{"net.mptcp.enabled = 0 in this network namespace"}, lines...),
		}, true
	}
	return Explanation{}, false
}

// ExplainHost returns what stops connections made from the namespace
// from using MPTCP, or from getting more than one subflow, most
// fundamental first; none (an empty, non-nil slice) when nothing does.
// It is the verdict doctor gives; Explain gives the same codes for a
// connection of such a host. A host is ready for more subflows with a
// subflow endpoint (as a client) or a signal endpoint (as a server),
// and a limit of additional subflows above 0; a limit of accepted
// addresses of 0 only matters for servers that announce one, which a
// host alone cannot know.
func ExplainHost(h Host) []Explanation {
	out := []Explanation{}
	if h.OS == "" && !h.Supported {
		h.OS = runtime.GOOS
	}
	if e, ok := hostUnusable(h, "connections are", nil); ok {
		return append(out, e)
	}
	if e, ok := HostBlackhole(h.Blackhole); ok {
		return append(out, e)
	}
	if h.Userspace {
		return append(out, Explanation{
			Code:      NoEndpoint,
			Message:   "connections get one subflow unless a daemon adds more: " + userspaceFix,
			Evidence:  []string{"net.mptcp.pm_type = 1"},
			Inference: true,
		})
	}
	if h.Limits == nil {
		return append(out, Explanation{
			Code:      NoEndpoint,
			Message:   "whether connections get more than one subflow is unknown: " + pmUnreadableFix,
			Evidence:  []string{"path manager: " + h.PathManagerError},
			Inference: true,
		})
	}
	limits := fmt.Sprintf("path manager limits: subflows %d add_addr_accepted %d", h.Limits.Subflows, h.Limits.AddAddrAccepted)
	if h.Limits.Subflows == 0 {
		out = append(out, Explanation{
			Code:     SubflowLimit,
			Message:  "connections get one subflow because " + subflowLimitFix,
			Evidence: []string{limits},
		})
	}
	var subflow, signal bool
	for _, e := range h.Endpoints {
		subflow = subflow || e.Subflow
		signal = signal || e.Signal
	}
	if !subflow && !signal {
		out = append(out, Explanation{
			Code: NoEndpoint,
			Message: "connections get one subflow unless the server announces an address, since this host has no endpoint: " +
				addEndpointFix + " (on a server with a second address: ip mptcp endpoint add ADDR dev DEV signal)",
			Evidence: []string{"path manager endpoints: none with the subflow or signal flag", limits},
		})
	}
	if e, ok := hostInitialDenied(h); ok {
		out = append(out, e)
	}
	if e, ok := hostBackup(h); ok {
		out = append(out, e)
	}
	return out
}
