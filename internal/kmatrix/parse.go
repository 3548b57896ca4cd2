package main

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// vmResult is what a virtual machine's serial console said.
type vmResult struct {
	Booted   bool              // the init printed KMATRIX-BOOT
	Release  string            // uname -r inside the machine
	Exit     int               // the first test binary's exit code that is not 0, or 0; -1 if the init never said
	Packages []packageExit     // each test binary's exit code, in the order they ran
	Facts    map[string]string // the KMATRIX line of the kernel tests, nil if none
	Tests    []testResult      // top-level tests, in the order they ended
	InitErrs []string          // KMATRIX-ERROR lines
	Final    string            // the test binary's last verdict line: PASS or FAIL
}

// packageExit is how one package's test binary ended.
type packageExit struct {
	Name    string
	Code    int
	Elapsed time.Duration // how long its tests took; 0 where the init did not say
}

// testResult is one top-level test (or example, or fuzz target). Tests
// of packages other than the root one are named PACKAGE.TestName.
type testResult struct {
	Name   string
	Status string // PASS, FAIL or SKIP; SKIP too for a test all of whose subtests skipped
	Reason string // its last log line: why it skipped or failed

	Leaves, LeavesSkipped int // subtests without subtests of their own, and how many skipped
	// Skips are the reasons it or any of its subtests skipped, each once.
	Skips []string
}

// count returns how many top-level tests ended with status.
func (r *vmResult) count(status string) int {
	n := 0
	for _, t := range r.Tests {
		if t.Status == status {
			n++
		}
	}
	return n
}

// test returns the result of the named top-level test.
func (r *vmResult) test(name string) (testResult, bool) {
	for _, t := range r.Tests {
		if t.Name == name {
			return t, true
		}
	}
	return testResult{}, false
}

var (
	reRun     = regexp.MustCompile(`^=== (?:RUN|NAME|CONT|PAUSE)\s+(\S+)`)
	reVerdict = regexp.MustCompile(`^(\s*)--- (PASS|FAIL|SKIP): (\S+) \(`)
	reLog     = regexp.MustCompile(`^ {4,}\S+\.go:\d+: (.*)$`)
	reFacts   = regexp.MustCompile(`(?:^|\s)KMATRIX((?:\s+[a-z_]+=\S*)+)\s*$`)
	reBoot    = regexp.MustCompile(`KMATRIX-BOOT release=(\S+)`)
	rePackage = regexp.MustCompile(`KMATRIX-PACKAGE name=(\S+)`)
	rePkgExit = regexp.MustCompile(`KMATRIX-PACKAGE-EXIT name=(\S+) code=(-?\d+)(?: elapsed=(\S+))?`)
	reExit    = regexp.MustCompile(`KMATRIX-EXIT code=(-?\d+)`)
	reInitErr = regexp.MustCompile(`KMATRIX-ERROR (.*)$`)
)

// parseConsole reads the serial console output of one machine: the
// init's KMATRIX- lines and the test binary's -test.v output. A test
// that passed only because every one of its subtests skipped counts as
// skipped: the table shows what ran.
func parseConsole(out string) *vmResult {
	r := &vmResult{Exit: -1}
	current := ""                  // the running test, subtest path included
	lastLog := map[string]string{} // by test or subtest name
	subs := map[string]map[string]string{}
	prefix := "" // the running package's, before its tests' names
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := reBoot.FindStringSubmatch(line); m != nil {
			r.Booted, r.Release = true, m[1]
			continue
		}
		if m := rePkgExit.FindStringSubmatch(line); m != nil {
			code, _ := strconv.Atoi(m[2])
			elapsed, _ := time.ParseDuration(m[3])
			r.Packages = append(r.Packages, packageExit{m[1], code, elapsed})
			continue
		}
		if m := rePackage.FindStringSubmatch(line); m != nil {
			prefix = m[1] + "."
			if m[1] == "mptcp" {
				prefix = ""
			}
			continue
		}
		if m := reExit.FindStringSubmatch(line); m != nil {
			r.Exit, _ = strconv.Atoi(m[1])
			continue
		}
		if m := reInitErr.FindStringSubmatch(line); m != nil {
			r.InitErrs = append(r.InitErrs, m[1])
			continue
		}
		if line == "PASS" || line == "FAIL" {
			r.Final = line
			continue
		}
		if m := reRun.FindStringSubmatch(line); m != nil {
			current = prefix + m[1]
			continue
		}
		if m := reVerdict.FindStringSubmatch(line); m != nil {
			status, name := m[2], prefix+m[3]
			if top, _, isSub := strings.Cut(name, "/"); isSub {
				if subs[top] == nil {
					subs[top] = map[string]string{}
				}
				subs[top][name] = status
				continue
			}
			if m[1] == "" {
				t := testResult{Name: name, Status: status, Reason: lastLog[name]}
				if status == "SKIP" {
					t.Skips = []string{t.Reason}
				}
				r.Tests = append(r.Tests, t)
			}
			continue
		}
		if m := reLog.FindStringSubmatch(line); m != nil && current != "" {
			lastLog[current] = m[1]
			top, _, _ := strings.Cut(current, "/")
			lastLog[top] = m[1]
		}
		if m := reFacts.FindStringSubmatch(line); m != nil {
			r.Facts = map[string]string{}
			for _, kv := range strings.Fields(m[1]) {
				k, v, _ := strings.Cut(kv, "=")
				r.Facts[k] = v
			}
		}
	}
	for i := range r.Tests {
		t := &r.Tests[i]
		names := slices.Sorted(maps.Keys(subs[t.Name]))
		skipReason := ""
		for _, name := range names {
			leaf := true
			for _, other := range names {
				if strings.HasPrefix(other, name+"/") {
					leaf = false
					break
				}
			}
			if !leaf {
				continue
			}
			t.Leaves++
			if subs[t.Name][name] == "SKIP" {
				t.LeavesSkipped++
				if skipReason == "" {
					skipReason = lastLog[name]
				}
				if !slices.Contains(t.Skips, lastLog[name]) {
					t.Skips = append(t.Skips, lastLog[name])
				}
			}
		}
		if t.Status != "FAIL" && t.LeavesSkipped > 0 {
			t.Reason = skipReason
		}
		if t.Status == "PASS" && t.Leaves > 0 && t.LeavesSkipped == t.Leaves {
			t.Status = "SKIP"
		}
	}
	return r
}
