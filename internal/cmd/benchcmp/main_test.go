package main

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

// output is what the test binary prints with -test.v: results, a second
// measurement of a side (#01), and a sub-benchmark and a benchmark that
// skip, their message before their SKIP line.
const output = `goos: linux
goarch: amd64
pkg: github.com/multipath-go/mptcp
cpu: Intel(R) Xeon(R) Processor
BenchmarkSubflows
BenchmarkSubflows/n=1
BenchmarkSubflows/n=1/floor
BenchmarkSubflows/n=1/floor-2   	 1000000	       700 ns/op	       0 B/op	       0 allocs/op
BenchmarkSubflows/n=1/AppendSubflows
BenchmarkSubflows/n=1/AppendSubflows-2         	 1000000	       780 ns/op	       0 B/op	       0 allocs/op
BenchmarkSubflows/n=1/AppendSubflows#01
BenchmarkSubflows/n=1/AppendSubflows#01-2      	 1000000	       800 ns/op	       0 B/op	       0 allocs/op
BenchmarkSubflows/n=1/floor#01
BenchmarkSubflows/n=1/floor#01-2               	 1000000	       720 ns/op	       0 B/op	       0 allocs/op
BenchmarkSubflows/n=2
    bench_test.go:281: the test bed needs root to create network namespaces
--- SKIP: BenchmarkSubflows/n=2
BenchmarkBulk
BenchmarkBulk/stdlib
BenchmarkBulk/stdlib-2 	    1000	   1000000 ns/op	1048.58 MB/s	      1100 flow-MB/s	         0.5000 stalls/s	       0 B/op	       0 allocs/op
BenchmarkTwoPaths
    testbed_bench_linux_test.go:125: the test bed needs root to create network namespaces
--- SKIP: BenchmarkTwoPaths
PASS
`

func TestParseOutput(t *testing.T) {
	var echo bytes.Buffer
	all, skipped := parseOutput(strings.NewReader(output), &echo)
	if got := len(all["BenchmarkSubflows/n=1/AppendSubflows"]); got != 2 {
		t.Errorf("AppendSubflows: %d results, want 2 (the #01 one included)", got)
	}
	if r := combine(all["BenchmarkSubflows/n=1/AppendSubflows"]); r["ns/op"] != 780 || r["B/op"] != 0 {
		t.Errorf("combined AppendSubflows = %v, want 780 ns/op (the least) and 0 B/op", r)
	}
	if r := all["BenchmarkBulk/stdlib"]; len(r) != 1 || r[0]["flow-MB/s"] != 1100 || r[0]["MB/s"] != 1048.58 || r[0]["stalls/s"] != 0.5 {
		t.Errorf("BenchmarkBulk/stdlib = %v", r)
	}
	for name, want := range map[string]string{
		"BenchmarkSubflows/n=2": "skip: the test bed needs root to create network namespaces",
		"BenchmarkTwoPaths":     "skip: the test bed needs root to create network namespaces",
	} {
		if skipped[name] != want {
			t.Errorf("skipped[%q] = %q, want %q", name, skipped[name], want)
		}
	}
	if len(skipped) != 2 {
		t.Errorf("skipped = %v, want two", skipped)
	}
	if n := strings.Count(echo.String(), "\n"); n != 5 {
		t.Errorf("echoed %d lines, want the 5 results:\n%s", n, echo.String())
	}
	// The 2-subflow rows have no data, and say why.
	if got := noteFor(skipped, "BenchmarkSubflows/n=2/AppendSubflows"); !strings.Contains(got, "needs root") {
		t.Errorf("noteFor(n=2/AppendSubflows) = %q", got)
	}
}

func TestCenter(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{1, 3}, 2},
		{[]float64{5, 1, 3}, 3},
		{[]float64{1, 2, 3, 4}, 2.5},
		{[]float64{100, 1, 2, 3, 0}, 2},          // without the highest and the lowest
		{[]float64{1, 1, 2, 2, 3, 3, 1000}, 2.2}, // mean of 1 2 2 3 3
	} {
		if got := center(c.v); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("center(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	if !math.IsNaN(center(nil)) {
		t.Error("center(nil) is not NaN")
	}
}

func TestTableVerdicts(t *testing.T) {
	run := func(pkg, base result) map[string]result {
		return map[string]result{"BenchmarkX/pkg": pkg, "BenchmarkX/base": base, controlBench: {"reads/MiB": 32, "writes/MiB": 32}}
	}
	mk := func(kind int, limit float64) row {
		return row{id: "r", what: "x", pkg: "BenchmarkX/pkg", base: "BenchmarkX/base", unit: "u", kind: kind, limit: limit}
	}
	for _, c := range []struct {
		name  string
		row   row
		runs  []map[string]result
		holds bool
	}{
		{"at most, holds", mk(atMost, 1.15), []map[string]result{run(result{"u": 110}, result{"u": 100})}, true},
		{"at most, fails", mk(atMost, 1.15), []map[string]result{run(result{"u": 120}, result{"u": 100})}, false},
		{"at least, holds", mk(atLeast, 0.97), []map[string]result{run(result{"u": 98}, result{"u": 100})}, true},
		{"at least, fails", mk(atLeast, 0.97), []map[string]result{run(result{"u": 96}, result{"u": 100})}, false},
		{"extra bytes, holds", mk(extra, 64), []map[string]result{run(result{"u": 660}, result{"u": 600})}, true},
		{"extra bytes, fails", mk(extra, 64), []map[string]result{run(result{"u": 680}, result{"u": 600})}, false},
		{"no data", mk(atMost, 1.15), []map[string]result{{}}, false},
		{"report only, no data", mk(report, 0), []map[string]result{{}}, true},
		{"allocates", func() row { r := mk(atMost, 1.15); r.zeroAlloc = true; return r }(),
			[]map[string]result{run(result{"u": 100, "allocs/op": 1}, result{"u": 100})}, false},
		{"does not splice", func() row { r := mk(atLeast, 0.97); r.splice = true; return r }(),
			[]map[string]result{run(result{"u": 100, "reads/MiB": 32, "writes/MiB": 32}, result{"u": 100, "reads/MiB": 0, "writes/MiB": 0})}, false},
		{"stalls no more than chance", func() row { r := mk(atLeast, 0.97); r.stalls = true; return r }(),
			[]map[string]result{run(result{"u": 100, "stalls": 12}, result{"u": 100, "stalls": 9})}, true},
		{"stalls more", func() row { r := mk(atLeast, 0.97); r.stalls = true; return r }(),
			[]map[string]result{run(result{"u": 100, "stalls": 20}, result{"u": 100, "stalls": 3})}, false},
		{"paired, holds", row{id: "r", pkg: "BenchmarkP/paired", base: "BenchmarkP/paired", unit: "ns/call", pkgUnit: "pkg-ns/call", baseUnit: "floor-ns/call", allocs: "BenchmarkP/pkg", kind: atMost, limit: 1.15, zeroAlloc: true},
			[]map[string]result{{"BenchmarkP/paired": {"pkg-ns/call": 110, "floor-ns/call": 100}, "BenchmarkP/pkg": {"allocs/op": 0}}}, true},
		{"paired, fails", row{id: "r", pkg: "BenchmarkP/paired", base: "BenchmarkP/paired", unit: "ns/call", pkgUnit: "pkg-ns/call", baseUnit: "floor-ns/call", allocs: "BenchmarkP/pkg", kind: atMost, limit: 1.15, zeroAlloc: true},
			[]map[string]result{{"BenchmarkP/paired": {"pkg-ns/call": 120, "floor-ns/call": 100}, "BenchmarkP/pkg": {"allocs/op": 0}}}, false},
		{"paired, allocates", row{id: "r", pkg: "BenchmarkP/paired", base: "BenchmarkP/paired", unit: "ns/call", pkgUnit: "pkg-ns/call", baseUnit: "floor-ns/call", allocs: "BenchmarkP/pkg", kind: atMost, limit: 1.15, zeroAlloc: true},
			[]map[string]result{{"BenchmarkP/paired": {"pkg-ns/call": 110, "floor-ns/call": 100}, "BenchmarkP/pkg": {"allocs/op": 1}}}, false},
		{"splices", func() row { r := mk(atLeast, 0.97); r.splice = true; return r }(),
			[]map[string]result{run(result{"u": 100, "reads/MiB": 0, "writes/MiB": 0}, result{"u": 100, "reads/MiB": 0, "writes/MiB": 0})}, true},
	} {
		var out bytes.Buffer
		code := table(&out, []row{c.row}, c.runs, map[string]string{})
		if got := code == 0; got != c.holds {
			t.Errorf("%s: exit code %d, want the goal to hold: %v\n%s", c.name, code, c.holds, out.String())
		}
		if lines := strings.Count(out.String(), "\n"); lines != 3 {
			t.Errorf("%s: %d lines, want the header, the rule and one row:\n%s", c.name, lines, out.String())
		}
	}
}

// rowByID returns the row of the table with that id.
func rowByID(t *testing.T, id string) row {
	t.Helper()
	i := slices.IndexFunc(rows, func(rw row) bool { return rw.id == id })
	if i < 0 {
		t.Fatalf("no row %s", id)
	}
	return rows[i]
}

// ratioRuns makes one run per ratio for rw: the package's side at 100
// times the ratio, the baseline's at 100, with nothing else against the
// row (no allocations, no stalls, splice on both sides); edit, if set,
// changes each run.
func ratioRuns(rw row, ratios []float64, edit func(map[string]result)) []map[string]result {
	var runs []map[string]result
	for _, ratio := range ratios {
		r := map[string]result{controlBench: {"reads/MiB": 32, "writes/MiB": 32}}
		put := func(name, unit string, v float64) {
			if r[name] == nil {
				r[name] = result{}
			}
			r[name][unit] = v
		}
		pu, bu := rw.units()
		put(rw.pkg, pu, 100*ratio)
		put(rw.base, bu, 100)
		put(rw.allocBench(), "allocs/op", 0)
		for _, name := range []string{rw.pkg, rw.base} {
			put(name, "reads/MiB", 0)
			put(name, "writes/MiB", 0)
			put(name, "stalls", 0)
		}
		if edit != nil {
			edit(r)
		}
		runs = append(runs, r)
	}
	return runs
}

// Rows 3 to 5 are judged by their confidence interval: they hold while
// it reaches 0.97, even with a center below, and fail once all of it
// lies below; rows 2b and 2c are judged by their center against 1.20 and
// must not allocate.
func TestRules(t *testing.T) {
	// Center 0.960 (the mean of the middle four), CI 0.935 – 0.985.
	reaching := []float64{0.93, 0.99, 0.95, 0.97, 0.94, 0.98}
	// Center 0.925, CI 0.905 – 0.945.
	below := []float64{0.90, 0.95, 0.91, 0.94, 0.92, 0.93}
	allocates := func(rw row) func(map[string]result) {
		return func(r map[string]result) { r[rw.allocBench()]["allocs/op"] = 1 }
	}
	copies := func(rw row) func(map[string]result) {
		return func(r map[string]result) { r[rw.pkg]["reads/MiB"], r[rw.pkg]["writes/MiB"] = 32, 32 }
	}
	type check struct {
		name   string
		row    row
		runs   []map[string]result
		holds  bool
		phrase string // in the row's line
	}
	var checks []check
	for _, id := range []string{"3", "4", "5a", "5b"} {
		rw := rowByID(t, id)
		if rw.kind != atLeast || rw.limit != 0.97 || !rw.byCI {
			t.Errorf("row %s: kind %d, limit %v, byCI %v; want at least 0.97 by the CI", id, rw.kind, rw.limit, rw.byCI)
		}
		checks = append(checks,
			check{"row " + id + ", center below 0.97, CI reaches it", rw, ratioRuns(rw, reaching, nil), true, "| yes: CI reaches 0.97 |"},
			check{"row " + id + ", CI wholly below 0.97", rw, ratioRuns(rw, below, nil), false, "| **no**: CI wholly below 0.97 |"},
			check{"row " + id + ", one run below 0.97", rw, ratioRuns(rw, []float64{0.96}, nil), false, "| **no**: center < 0.97 |"},
		)
		if rw.splice {
			checks = append(checks, check{"row " + id + ", CI reaches 0.97, not spliced", rw, ratioRuns(rw, reaching, copies(rw)), false, "| **no**: not spliced on both sides |"})
		}
	}
	// The same runs under the center's rule fail.
	centered := rowByID(t, "3")
	centered.byCI = false
	checks = append(checks, check{"center rule, center below 0.97", centered, ratioRuns(centered, reaching, nil), false, "| **no**: center < 0.97 |"})
	for _, id := range []string{"2b", "2c"} {
		rw := rowByID(t, id)
		if rw.kind != atMost || rw.limit != 1.20 || rw.byCI || !rw.zeroAlloc {
			t.Errorf("row %s: kind %d, limit %v, byCI %v, zeroAlloc %v; want at most 1.20 by the center, no allocations", id, rw.kind, rw.limit, rw.byCI, rw.zeroAlloc)
		}
		checks = append(checks,
			check{"row " + id + " at 1.19", rw, ratioRuns(rw, []float64{1.19, 1.18, 1.20, 1.19, 1.19, 1.19}, nil), true, "| yes: center ≤ 1.20 |"},
			check{"row " + id + " at 1.21", rw, ratioRuns(rw, []float64{1.21, 1.20, 1.22, 1.21, 1.21, 1.21}, nil), false, "| **no**: center > 1.20 |"},
			// A CI that reaches 1.20 does not save a row judged by its center.
			check{"row " + id + " at 1.21, CI reaching 1.20", rw, ratioRuns(rw, []float64{1.10, 1.30, 1.21, 1.21}, nil), false, "| **no**: center > 1.20 |"},
			check{"row " + id + " at 1.10, allocates", rw, ratioRuns(rw, []float64{1.10, 1.10, 1.10}, allocates(rw)), false, "| **no**: 1 allocs/op |"},
			check{"row " + id + " at 1.21, allocates", rw, ratioRuns(rw, []float64{1.21, 1.21, 1.21}, allocates(rw)), false, "| **no**: center > 1.20; 1 allocs/op |"},
		)
	}
	for _, c := range checks {
		var out bytes.Buffer
		code := table(&out, []row{c.row}, c.runs, map[string]string{})
		if got := code == 0; got != c.holds {
			t.Errorf("%s: exit code %d, want the goal to hold: %v\n%s", c.name, code, c.holds, out.String())
		}
		if !strings.Contains(out.String(), c.phrase) {
			t.Errorf("%s: no %q in\n%s", c.name, c.phrase, out.String())
		}
	}
}

// Row 8 compares times (the lesser of a run's two measurements) against
// 0.5; row 9 the difference of two peaks against 1 MiB, in bytes, and
// only row 7 tells of its client ends.
func TestListRows(t *testing.T) {
	r8 := rowByID(t, "8")
	if r8.kind != atMost || r8.limit != 0.5 || r8.byCI || r8.unit != "ns/op" {
		t.Errorf("row 8: kind %d, limit %v, byCI %v, unit %q; want at most 0.5 ns/op by the center", r8.kind, r8.limit, r8.byCI, r8.unit)
	}
	r9 := rowByID(t, "9")
	if r9.kind != extra || r9.limit != 1<<20 || r9.byCI || r9.unit != "peak-B" {
		t.Errorf("row 9: kind %d, limit %v, byCI %v, unit %q; want at most 1 MiB more peak-B by the center", r9.kind, r9.limit, r9.byCI, r9.unit)
	}
	// peaks makes runs of row 9: 200 kB over 1,000 connections, and
	// that plus each difference over 10,000.
	peaks := func(diffs ...float64) []map[string]result {
		var runs []map[string]result
		for _, d := range diffs {
			runs = append(runs, map[string]result{r9.base: {"peak-B": 200e3}, r9.pkg: {"peak-B": 200e3 + d}})
		}
		return runs
	}
	times := func(rs []result) []map[string]result {
		// Each side measured twice (A B B A): the lesser time counts.
		return []map[string]result{{r8.pkg: combine(rs[:2]), r8.base: combine(rs[2:])}}
	}
	r7 := rowByID(t, "7")
	for _, c := range []struct {
		name   string
		row    row
		runs   []map[string]result
		holds  bool
		phrase string
	}{
		{"row 8 at 0.45", r8, ratioRuns(r8, []float64{0.45, 0.44, 0.46}, nil), true, "| yes: center ≤ 0.50 |"},
		{"row 8 at 0.55", r8, ratioRuns(r8, []float64{0.55, 0.54, 0.56}, nil), false, "| **no**: center > 0.50 |"},
		{"row 8, the lesser times", r8, times([]result{{"ns/op": 150e6}, {"ns/op": 90e6}, {"ns/op": 200e6}, {"ns/op": 210e6}}), true, "| 0.450 |"},
		{"row 9 at +0.9 MiB", r9, peaks(0.9*(1<<20), 0.8*(1<<20), 1.0*(1<<20)), true, "| yes: center ≤ +1 MiB |"},
		{"row 9 at +1.1 MiB", r9, peaks(1.1*(1<<20), 1.2*(1<<20), 1.1*(1<<20)), false, "| **no**: center > +1 MiB |"},
		{"row 9, no client ends", r9, peaks(1000, 2000, 3000), true, "| +2000.0 B (1.010) |"},
		{"row 7, its client ends", r7, []map[string]result{{r7.pkg: {"B/conn": 620, "client-B/conn": 310}, r7.base: {"B/conn": 590, "client-B/conn": 295}}}, true, "client end alone: 310 vs 295 B"},
	} {
		var out bytes.Buffer
		code := table(&out, []row{c.row}, c.runs, map[string]string{})
		if got := code == 0; got != c.holds {
			t.Errorf("%s: exit code %d, want the goal to hold: %v\n%s", c.name, code, c.holds, out.String())
		}
		if !strings.Contains(out.String(), c.phrase) {
			t.Errorf("%s: no %q in\n%s", c.name, c.phrase, out.String())
		}
		if c.row.id == "9" && strings.Contains(out.String(), "client end") {
			t.Errorf("%s: row 9 tells of client ends:\n%s", c.name, out.String())
		}
	}
}

// Row 10 compares a scrape's time with its listing's against 2; row 11
// the difference of a scrape's two peaks against 1 MiB, as row 9.
func TestScrapeRows(t *testing.T) {
	r10 := rowByID(t, "10")
	if r10.kind != atMost || r10.limit != 2 || r10.byCI || r10.unit != "ns/op" || r10.pkg != "BenchmarkScrape/scrape" || r10.base != "BenchmarkScrape/list" {
		t.Errorf("row 10: %+v; want BenchmarkScrape/scrape at most 2 times BenchmarkScrape/list, ns/op by the center", r10)
	}
	r11 := rowByID(t, "11")
	if r11.kind != extra || r11.limit != 1<<20 || r11.byCI || r11.unit != "peak-B" || r11.pkg != "BenchmarkScrapeHeap/conns=10000" || r11.base != "BenchmarkScrapeHeap/conns=1000" {
		t.Errorf("row 11: %+v; want at most 1 MiB more peak-B over 10,000 connections than over 1,000, by the center", r11)
	}
	for _, c := range []struct {
		name   string
		row    row
		runs   []map[string]result
		holds  bool
		phrase string
	}{
		{"row 10 at 1.5", r10, ratioRuns(r10, []float64{1.5, 1.4, 1.6}, nil), true, "| yes: center ≤ 2.00 |"},
		{"row 10 at 2.2", r10, ratioRuns(r10, []float64{2.2, 2.1, 2.3}, nil), false, "| **no**: center > 2.00 |"},
		{"row 11 at +2000 B", r11, []map[string]result{{r11.base: {"peak-B": 1e5}, r11.pkg: {"peak-B": 1e5 + 2000}}}, true, "| yes: center ≤ +1 MiB |"},
	} {
		var out bytes.Buffer
		code := table(&out, []row{c.row}, c.runs, map[string]string{})
		if got := code == 0; got != c.holds {
			t.Errorf("%s: exit code %d, want the goal to hold: %v\n%s", c.name, code, c.holds, out.String())
		}
		if !strings.Contains(out.String(), c.phrase) {
			t.Errorf("%s: no %q in\n%s", c.name, c.phrase, out.String())
		}
	}
}

// The table names each row's goal and rule.
func TestGoalAndRule(t *testing.T) {
	for _, c := range []struct{ id, goal, rule string }{
		{"1", "≤ 1.00", "center meets the goal; 0 allocs/op"},
		{"2a", "≤ 1.15", "center meets the goal; 0 allocs/op"},
		{"2b", "≤ 1.20", "center meets the goal; 0 allocs/op"},
		{"2c", "≤ 1.20", "center meets the goal; 0 allocs/op"},
		{"2d", "none", "none"},
		{"3", "≥ 0.97", "95% CI reaches the goal (fails only if wholly beyond)"},
		{"4", "≥ 0.97", "95% CI reaches the goal (fails only if wholly beyond); stalls no more than chance explains"},
		{"5a", "≥ 0.97", "95% CI reaches the goal (fails only if wholly beyond); splice on both sides; stalls no more than chance explains"},
		{"5b", "≥ 0.97", "95% CI reaches the goal (fails only if wholly beyond); splice on both sides; stalls no more than chance explains"},
		{"6", "≥ 1.90", "center meets the goal"},
		{"7", "≤ +64 B", "center meets the goal"},
		{"8", "≤ 0.50", "center meets the goal"},
		{"9", "≤ +1 MiB", "center meets the goal"},
		{"10", "≤ 2.00", "center meets the goal"},
		{"11", "≤ +1 MiB", "center meets the goal"},
	} {
		rw := rowByID(t, c.id)
		if g, r := goal(rw), rule(rw); g != c.goal || r != c.rule {
			t.Errorf("row %s: goal %q, rule %q; want %q, %q", c.id, g, r, c.goal, c.rule)
		}
		var out bytes.Buffer
		table(&out, []row{rw}, nil, map[string]string{})
		if want := "| " + c.goal + " | " + c.rule + " |"; !strings.Contains(out.String(), want) {
			t.Errorf("row %s without data: no %q in\n%s", c.id, want, out.String())
		}
	}
}

func TestInterval(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{
		{[]float64{1, 1, 1}, 0},
		{[]float64{0.9, 1.1}, 12.706 * math.Sqrt(0.02) / math.Sqrt(2)},
		{[]float64{1, 2, 3, 4, 5, 6}, 2.571 * math.Sqrt(3.5) / math.Sqrt(6)},
	} {
		if got := interval(c.v); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("interval(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	if !math.IsNaN(interval([]float64{1})) {
		t.Error("interval of one value is not NaN")
	}
}

func TestUnsettled(t *testing.T) {
	rows := []row{
		{id: "a", pkg: "BenchmarkA/pkg", base: "BenchmarkA/base", unit: "u", kind: atLeast, limit: 0.97},
		{id: "b", pkg: "BenchmarkB/x/pkg", base: "BenchmarkB/x/base", unit: "u", kind: atLeast, limit: 0.97},
		{id: "c", pkg: "BenchmarkC/pkg", base: "BenchmarkC/base", unit: "u", kind: report},
	}
	var runs []map[string]result
	// A's ratios straddle its goal; B's sit well above it; C has no goal.
	for i, a := range []float64{0.95, 0.99, 0.96, 0.98} {
		runs = append(runs, map[string]result{
			"BenchmarkA/pkg": {"u": 100 * a}, "BenchmarkA/base": {"u": 100},
			"BenchmarkB/x/pkg": {"u": 100 + float64(i%2)}, "BenchmarkB/x/base": {"u": 100},
			"BenchmarkC/pkg": {"u": 97}, "BenchmarkC/base": {"u": 100},
		})
	}
	all := []string{"BenchmarkA", "BenchmarkB", "BenchmarkC"}
	if got := unsettled(rows, runs, all); !slices.Equal(got, []string{"BenchmarkA"}) {
		t.Errorf("unsettled = %v, want [BenchmarkA]", got)
	}
	if got := unsettled(rows, runs, []string{"BenchmarkB"}); len(got) != 0 {
		t.Errorf("unsettled among B alone = %v, want none", got)
	}
	if got := unsettled(rows, runs[:1], all); len(got) != 0 {
		t.Errorf("unsettled after one run = %v, want none: one run has no interval", got)
	}
}

func TestBinomialTail(t *testing.T) {
	for _, c := range []struct {
		k, n int
		want float64
	}{
		{0, 0, 1},
		{0, 5, 1},
		{1, 1, 0.5},
		{2, 2, 0.25},
		{5, 10, 638.0 / 1024},
		{10, 10, 1.0 / 1024},
		{20, 23, 2048.0 / (1 << 23)}, // 1771 + 253 + 23 + 1 ways of 2^23
	} {
		if got := binomialTail(c.k, c.n); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("binomialTail(%d, %d) = %v, want %v", c.k, c.n, got, c.want)
		}
	}
}

func TestCombine(t *testing.T) {
	m := combine([]result{{"MB/s": 100, "stalls": 2, "ns/op": 900}, {"MB/s": 200, "stalls": 1, "ns/op": 800}})
	if m["MB/s"] != 150 || m["stalls"] != 3 || m["ns/op"] != 800 {
		t.Errorf("combine = %v, want 150 MB/s (the mean), 3 stalls (the sum), 800 ns/op (the least)", m)
	}
}
