package explain

// Cause is one row of the table of causes: a kernel counter or reset
// reason that marks a fallback or a failed path, and what mptcpcheck's
// why says of it. The table is the reference that docs/causes.md is
// generated from and checked against, so that the documentation, the
// rules and the code cannot drift apart.
type Cause struct {
	// Code is the Explanation code why gives for this cause (one of the
	// constants of this package).
	Code string
	// Counters are the MPTcpExt counters that move with this cause, by
	// their kernel names; ResetReasons the MP_TCPRST reasons (as
	// pm.ResetReason's String gives them) and Sysctls the net.mptcp
	// sysctls that are evidence of it, as "net.mptcp.NAME" or "NAME"
	// (the table and MissingEvidence give them in full either way).
	Counters, ResetReasons, Sysctls []string
	// Events are the path manager events (as pm.EventType's String gives
	// them: "sub_closed", "announced") that are evidence of the cause.
	Events []string
	// Evidence says, in words, what else why needs to tell this cause
	// from others: a capture of the handshake, the socket diagnostics'
	// fallback flag, mptcp_info, the limits of this side.
	Evidence string
	// Since is the first kernel version with the counters (or sysctls)
	// the cause rests on, as "6.17"; "" when every kernel with MPTCP has
	// them. On an older kernel why says that the evidence is missing
	// rather than give another cause (MissingEvidence).
	Since string
	// Side is where the cause shows: "client", "server" or "both".
	Side string
	// Message says what happened; Fix what to change.
	Message, Fix string
	// Test names the test that builds the cause in a test bed and checks
	// why's verdict; NotBuilt says why there is none, when Test is "".
	Test, NotBuilt string
}

// Causes returns the table of causes, the fallbacks first, then the
// failed and refused additional subflows.
func Causes() []Cause {
	out := make([]Cause, 0, len(fallbackCauses)+len(joinCauses))
	out = append(out, fallbackCauses...)
	return append(out, joinCauses...)
}
