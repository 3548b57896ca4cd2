package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
)

// skipRule is a reason a test may skip in the machines.
type skipRule struct {
	// Reason matches the skip's message (its first line).
	Reason *regexp.Regexp
	// Kernels are the kernels (their MPTCP_KMATRIX_EXPECT: "nomptcp",
	// "5.10-mptcp", "6.1"...) where the rule holds; empty: every one.
	Kernels []string
	// Holds, when set, must also accept the kernel's release and the
	// submatches of Reason.
	Holds func(release string, m []string) bool
	// Why is what the table says of the tests skipped by the rule.
	Why string
}

// allowedSkips are the only reasons a test may skip in the matrix: a tool
// the machines lack on purpose, or a feature the kernel lacks. Any other
// skip fails the kernel's row: a skip is not a pass, and a skip nobody
// chose hides a test that should have run there (a module or a tool the
// machines were meant to have, a test that needs something new).
var allowedSkips = []skipRule{
	{
		// exec.LookPath's error, which every test that looks a tool up
		// reports (testenv.SkipOrFail).
		Reason: regexp.MustCompile(`exec: "(go|git|curl|mptcpize|chromium|promtool|prometheus|systemd-analyze)": executable file not found in \$PATH`),
		Why: "a tool the machines lack on purpose (vmTools): the toolchain, and the independent clients and servers; " +
			"these tests check user space, not the kernel, and run on the host",
	},
	{
		// testenv.SkipKernelLacks: a counter, an event, a sysctl that
		// Linux added after this kernel. The machine's own release must
		// be the one the message names, and older than the feature.
		Reason: regexp.MustCompile(`^kernel (\S+) lacks .+ \(Linux (\d+)\.(\d+) and later have it\)$`),
		Holds: func(release string, m []string) bool {
			major, _ := strconv.Atoi(m[2])
			minor, _ := strconv.Atoi(m[3])
			return m[1] == release && !releaseAtLeast(release, major, minor)
		},
		Why: "a feature Linux added after this kernel (testenv.SkipKernelLacks)",
	},
	{
		Reason: regexp.MustCompile(`^this kernel creates MPTCP sockets: TestKernelMPTCPLoopback covers it$`),
		Why:    "the kernel has MPTCP: the test of a kernel without it has nothing to check",
	},
	{
		Reason: regexp.MustCompile(`cannot create MPTCP sockets|cannot set the MPTCP limits of a new namespace|` +
			`this host cannot do MPTCP|no MPTCP on this kernel|the kernel has no MPTCP|needs a kernel with MPTCP|` +
			`this kernel makes no MPTCP listening sockets`),
		Kernels: []string{"nomptcp"},
		Why:     "the kernel has no MPTCP (Debian 11's own 5.10; the 5.10-mptcp row has it)",
	},
}

// skipRuleFor returns the rule that allows a skip with reason on the
// kernel release whose tests run with expect, or nil.
func skipRuleFor(expect, release, reason string) *skipRule {
	for i, r := range allowedSkips {
		if len(r.Kernels) > 0 && !slices.Contains(r.Kernels, expect) {
			continue
		}
		m := r.Reason.FindStringSubmatch(reason)
		if m != nil && (r.Holds == nil || r.Holds(release, m)) {
			return &allowedSkips[i]
		}
	}
	return nil
}

// releaseAtLeast reports whether a kernel release ("6.1.0-50-cloud-amd64")
// is major.minor or later.
func releaseAtLeast(release string, major, minor int) bool {
	var maj, min int
	if _, err := fmt.Sscanf(release, "%d.%d", &maj, &min); err != nil {
		return false
	}
	return maj > major || (maj == major && min >= minor)
}
