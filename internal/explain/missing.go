package explain

import (
	"fmt"
	"slices"
	"strings"
)

// PMEvents names the path manager's events in the missing evidence: the
// generic netlink group mptcp_pm_events, which Linux 5.12 added and the
// rows' Events rest on.
const PMEvents = "mptcp_pm_events"

// MissingEvidence returns the evidence that causes of the table rest on
// and that a kernel lacks, in the table's order: MPTcpExt counters by
// name, sysctls as "net.mptcp.NAME" and the path manager's events as
// PMEvents, each once. have reports whether the kernel has one of them,
// given in the same form (read from /proc/net/netstat and
// /proc/sys/net/mptcp, and the mptcp_pm family's groups). The result goes
// into Evidence.Missing; the kernel matrix's tests use it to know which
// causes a kernel cannot show.
func MissingEvidence(have func(name string) bool) []string {
	var out []string
	for _, c := range Causes() {
		names := slices.Clone(c.Counters)
		for _, s := range c.Sysctls {
			names = append(names, sysctlName(s))
		}
		if len(c.Events) > 0 {
			names = append(names, PMEvents)
		}
		for _, name := range names {
			if !slices.Contains(out, name) && !have(name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// sysctlName gives a sysctl of a row as "net.mptcp.NAME", whether the row
// has the prefix or not.
func sysctlName(s string) string {
	if strings.HasPrefix(s, "net.") {
		return s
	}
	return "net.mptcp." + s
}

// missingLine is the evidence line why gives for a counter or sysctl
// this kernel lacks, naming the causes it would show.
func missingLine(name string, codes []string) string {
	return fmt.Sprintf("%s %s does not exist on this kernel: it is the evidence of %s, which this kernel cannot show", evidenceKind(name), name, strings.Join(codes, ", "))
}

// evidenceKind says what kind of evidence name is: "counter", "sysctl",
// or the path manager's event group.
func evidenceKind(name string) string {
	switch {
	case name == PMEvents:
		return "the path manager's event group"
	case strings.HasPrefix(name, "net."):
		return "sysctl"
	}
	return "counter"
}

// withMissing adds to each explanation that found no cause (an Unknown
// inference) the evidence this kernel lacks for the causes of that kind:
// a connection that is not MPTCP gets the fallbacks', one with a single
// subflow the joins'. What cannot be seen is named, not guessed at.
func withMissing(ev Evidence, exps []Explanation) []Explanation {
	if len(ev.Missing) == 0 {
		return exps
	}
	table := joinCauses
	if !ev.MPTCP {
		table = fallbackCauses
	}
	var lines []string
	for _, name := range ev.Missing {
		if codes := codesResting(table, name); len(codes) > 0 {
			lines = append(lines, missingLine(name, codes))
		}
	}
	if len(lines) == 0 {
		return exps
	}
	for i, e := range exps {
		// An Unknown that is no inference is sure of what it says (a
		// plain TCP socket, which no MPTCP counter concerns).
		if e.Code != Unknown || !e.Inference {
			continue
		}
		e.Message += "; this kernel lacks evidence that some causes need (listed below), so one of those may be the reason"
		e.Evidence = append(slices.Clip(e.Evidence), lines...)
		exps[i] = e
	}
	return exps
}

// codesResting lists the codes of the rows of table that rest on name, a
// counter or a sysctl as "net.mptcp.NAME", each once.
func codesResting(table []Cause, name string) []string {
	var codes []string
	for _, c := range table {
		if (slices.Contains(c.Counters, name) || slices.ContainsFunc(c.Sysctls, func(s string) bool { return sysctlName(s) == name }) ||
			(name == PMEvents && len(c.Events) > 0)) &&
			!slices.Contains(codes, c.Code) {
			codes = append(codes, c.Code)
		}
	}
	return codes
}

// MissingNote says, for doctor, what evidence of the table a kernel
// lacks (missing, as MissingEvidence gives it) and which causes it
// would show, or "" when it lacks none: on a fleet of mixed kernels, the
// hosts where why can tell fewer causes apart.
func MissingNote(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	var items []string
	for _, name := range missing {
		items = append(items, evidenceKind(name)+" "+name+" ("+strings.Join(codesResting(Causes(), name), ", ")+")")
	}
	return "this kernel lacks evidence that mptcpcheck why needs for some causes, which it names instead when it cannot explain a connection: " +
		strings.Join(items, "; ")
}
