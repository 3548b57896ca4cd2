// Command benchcmp runs the package's side-by-side benchmarks several
// times and prints one table: for each row of BENCHMARKS.md, the
// package's figure, the baseline's (the standard library, or the bare
// system call), their ratio, the goal, and whether it holds. It exits
// with status 1 if a goal fails or a row has no data (a benchmark
// skipped for want of root, MPTCP or network namespaces), 2 on error.
//
// From the module root, as root on Linux with MPTCP:
//
//	go run ./internal/cmd/benchcmp [-count 6] [-maxcount 18] [-benchtime 250ms] [-rounds 1] [-streamtime 1s] [-slowcount 3] [-slowmaxcount 9] [-pathtime 3s] [-listtime 5x] [-bench regexp] [-v]
//
// It builds the package's test binary once and runs it several times,
// every benchmark once per run (-test.count=1), in five sets: the
// micro-benchmarks of rows 1 and 2 (-count runs, -benchtime each, and
// -rounds A B B A rounds a run), the
// loopback connection and stream benchmarks of rows 3 to 5 (-count runs,
// -streamtime), the idle connections of row 7 (-slowcount runs, one
// iteration), the shaped paths of row 6 (-slowcount runs, -pathtime) and
// the listings and scrapes of 10,000 connections of rows 8 to 11
// (-slowcount runs, -listtime).
//
// Within a run, each side-by-side benchmark of rows 1 to 5, 8 and 10
// measures its baseline and its package side back to back, twice, in
// mirrored order (A B B A), and a side's figure for the run is the
// lesser of its two times per operation, or the mean of its two rates;
// the runs alternate which side goes first (MPTCP_BENCH_ORDER=reverse).
// Rows 6 and 7 measure each side once per run; rows 9 and 11 measure
// their two sides once per run, 1,000 connections before 10,000. The table gives,
// over the runs, the mean without the highest and the lowest figure (the
// median under five runs), of each side and of the runs' ratios: a ratio
// is taken within each run, which cancels most of the drift of a shared
// machine. The spread column gives the lowest and the highest of the
// runs' ratios, the next the 95% confidence interval of their center.
//
// A goal inside that interval after -count runs is one the machine's
// noise would decide: the benchmarks of its row run again, one run at a
// time, until the interval leaves the goal or -maxcount (-slowmaxcount)
// runs are done.
//
// A row's verdict follows one of two rules, which the table's rule
// column names. On rows 1, 2a to 2c and 6 to 11 the center must meet the
// goal. On rows 3 to 5, where the package runs the standard library's
// own code, the 95% confidence interval must reach it: such a row fails
// only if the whole interval lies beyond the goal, as this machine's
// noise there is wider than the goal's margin and a center just short
// of the goal says no more than that noise. The extra runs make the
// center more precise where precision decides, and narrow the interval
// before the verdict, so that a row judged by it holds on up to
// -maxcount runs rather than on the -count that left it wide.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// orderEnv is the benchmarks' switch for running the package's side
// first (bench_test.go, benchOrderEnv), roundsEnv their count of A B B A
// rounds (benchRoundsEnv).
const (
	orderEnv  = "MPTCP_BENCH_ORDER"
	roundsEnv = "MPTCP_BENCH_ROUNDS"
)

// goal kinds.
const (
	atMost  = iota // ratio <= limit (time)
	atLeast        // ratio >= limit (rate)
	extra          // package - baseline <= limit (bytes)
	report         // no goal: shown for information
)

// row is one line of the table.
type row struct {
	id, what  string
	pkg, base string // benchmark names without the -GOMAXPROCS suffix
	unit      string // the metric compared
	// pkgUnit and baseUnit, when set, are the metrics of the two sides
	// in place of unit: the paired benchmarks report both sides' figures
	// on one line.
	pkgUnit, baseUnit string
	allocs            string // the benchmark whose allocs/op zeroAlloc checks, if not pkg
	kind              int
	limit             float64
	// byCI judges the goal by the 95% confidence interval of the runs'
	// ratios instead of their center: the row holds if the interval
	// reaches the limit and fails only if it lies wholly beyond it. It
	// is the rule of the rows where the package runs the standard
	// library's own code, whose ratio only the machine's noise moves
	// from 1 and that noise by more than the goal's margin.
	byCI      bool
	zeroAlloc bool // the package's side must not allocate
	splice    bool // show the proxy thread's read and write syscalls; both sides must splice
	sum       bool // show the fraction of the links' summed rate
	stalls    bool // show the plain MB/s and the stalls (loopback streams); the package's must be within chance
	note      string
}

var rows = []row{
	{id: "1", what: "MultipathTCP()", pkg: "BenchmarkMultipathTCP/paired", base: "BenchmarkMultipathTCP/paired", unit: "ns/call", pkgUnit: "mptcp-ns/call", baseUnit: "stdlib-ns/call", allocs: "BenchmarkMultipathTCP/mptcp", kind: atMost, limit: 1.0, zeroAlloc: true},
	{id: "2a", what: "MPTCPInfo()", pkg: "BenchmarkMPTCPInfo/paired", base: "BenchmarkMPTCPInfo/paired", unit: "ns/call", pkgUnit: "mptcp-ns/call", baseUnit: "floor-ns/call", allocs: "BenchmarkMPTCPInfo/mptcp", kind: atMost, limit: 1.15, zeroAlloc: true},
	{id: "2b", what: "AppendSubflows, 1 subflow", pkg: "BenchmarkSubflows/n=1/paired", base: "BenchmarkSubflows/n=1/paired", unit: "ns/call", pkgUnit: "AppendSubflows-ns/call", baseUnit: "floor-ns/call", allocs: "BenchmarkSubflows/n=1/AppendSubflows", kind: atMost, limit: 1.20, zeroAlloc: true},
	{id: "2c", what: "AppendSubflows, 2 subflows", pkg: "BenchmarkSubflows/n=2/paired", base: "BenchmarkSubflows/n=2/paired", unit: "ns/call", pkgUnit: "AppendSubflows-ns/call", baseUnit: "floor-ns/call", allocs: "BenchmarkSubflows/n=2/AppendSubflows", kind: atMost, limit: 1.20, zeroAlloc: true},
	{id: "2d", what: "Subflows(), 1 subflow", pkg: "BenchmarkSubflows/n=1/Subflows", base: "BenchmarkSubflows/n=1/floor", unit: "ns/op", kind: report, note: "allocates the slice it returns, which the floor does not: the 1.20 goal is the filling form's (2b)"},
	{id: "2e", what: "Subflows(), 2 subflows", pkg: "BenchmarkSubflows/n=2/Subflows", base: "BenchmarkSubflows/n=2/floor", unit: "ns/op", kind: report, note: "allocates the slice it returns, which the floor does not: the 1.20 goal is the filling form's (2c)"},
	{id: "3", what: "dial + accept + close", pkg: "BenchmarkDialAcceptClose/mptcp", base: "BenchmarkDialAcceptClose/stdlib", unit: "conns/s", kind: atLeast, limit: 0.97, byCI: true},
	{id: "4", what: "bulk transfer, loopback", pkg: "BenchmarkBulk/mptcp", base: "BenchmarkBulk/stdlib", unit: "flow-MB/s", kind: atLeast, limit: 0.97, byCI: true, stalls: true},
	{id: "5a", what: "proxy, io.Copy", pkg: "BenchmarkProxy/direct/mptcp", base: "BenchmarkProxy/direct/stdlib", unit: "flow-MB/s", kind: atLeast, limit: 0.97, byCI: true, splice: true, stalls: true},
	{id: "5b", what: "proxy, io.Copy via io.LimitReader", pkg: "BenchmarkProxy/limit/mptcp", base: "BenchmarkProxy/limit/stdlib", unit: "flow-MB/s", kind: atLeast, limit: 0.97, byCI: true, splice: true, stalls: true},
	{id: "6", what: "two 20 Mbit/s paths, MPTCP vs one TCP", pkg: "BenchmarkTwoPaths/mptcp", base: "BenchmarkTwoPaths/tcp", unit: "MB/s", kind: atLeast, limit: 1.9, sum: true},
	{id: "7", what: "10,000 idle conns, heap per conn (both ends)", pkg: "BenchmarkIdleConns/mptcp", base: "BenchmarkIdleConns/stdlib", unit: "B/conn", kind: extra, limit: 64},
	{id: "8", what: "list 10,000 conns with subflows: diag vs ss -Mni, ss -tni", pkg: "BenchmarkListConns/diag", base: "BenchmarkListConns/ss", unit: "ns/op", kind: atMost, limit: 0.5},
	{id: "9", what: "streaming list, peak heap: 10,000 conns vs 1,000", pkg: "BenchmarkListHeap/conns=10000", base: "BenchmarkListHeap/conns=1000", unit: "peak-B", kind: extra, limit: 1 << 20},
	{id: "10", what: "Prometheus scrape of 10,000 conns: collector vs its listing", pkg: "BenchmarkScrape/scrape", base: "BenchmarkScrape/list", unit: "ns/op", kind: atMost, limit: 2.0},
	{id: "11", what: "Prometheus scrape, peak heap: 10,000 conns vs 1,000", pkg: "BenchmarkScrapeHeap/conns=10000", base: "BenchmarkScrapeHeap/conns=1000", unit: "peak-B", kind: extra, limit: 1 << 20},
}

// units returns the metrics of the package's side and the baseline's.
func (rw row) units() (pkg, base string) {
	pkg, base = rw.pkgUnit, rw.baseUnit
	if pkg == "" {
		pkg = rw.unit
	}
	if base == "" {
		base = rw.unit
	}
	return pkg, base
}

// allocBench is the benchmark whose allocations count for the row.
func (rw row) allocBench() string {
	if rw.allocs != "" {
		return rw.allocs
	}
	return rw.pkg
}

// controlBench is the proxy's user-space copy, shown next to row 5.
const controlBench = "BenchmarkProxy/control"

// result is one benchmark line: metric unit -> value.
type result map[string]float64

// set is a group of benchmarks run together, count times, and up to
// maxCount times for the benchmarks of a row whose goal the runs have
// not yet settled.
type set struct {
	names     []string // top-level benchmarks
	benchtime string   // -test.benchtime
	count     int
	maxCount  int
	rounds    int // A B B A rounds per run
}

func main() {
	count := flag.Int("count", 6, "runs of the benchmarks of rows 1 to 5")
	maxCount := flag.Int("maxcount", 18, "runs at most of the benchmarks of rows 1 to 5: after -count runs, the benchmarks of a row whose goal lies inside the 95% confidence interval of its ratio run again, one run at a time, until it does not or this many runs are done")
	rounds := flag.Int("rounds", 1, "A B B A rounds per run of the separate sub-benchmarks of rows 1 and 2 (their allocations, and rows 2d and 2e), whose least time per operation counts")
	benchtime := flag.String("benchtime", "250ms", "-test.benchtime of the benchmarks of rows 1 and 2: a duration or Nx")
	streamtime := flag.String("streamtime", "1s", "-test.benchtime of the loopback benchmarks of rows 3 to 5, whose rates swing more over short windows")
	slowcount := flag.Int("slowcount", 3, "runs of the slow benchmarks, which vary little: the shaped paths (row 6), the idle connections (row 7, one iteration each) and the listings and scrapes (rows 8 to 11)")
	slowMaxCount := flag.Int("slowmaxcount", 9, "runs at most of the slow benchmarks, as -maxcount")
	pathtime := flag.String("pathtime", "3s", "-test.benchtime of the shaped paths (row 6), whose rate swings with the reordering between the paths over shorter windows")
	listtime := flag.String("listtime", "5x", "-test.benchtime of the listings and scrapes of 10,000 connections (rows 8 to 11): a count of listings (Nx) or a duration")
	bench := flag.String("bench", ".", "run only the benchmarks whose top-level name matches this regexp")
	verbose := flag.Bool("v", false, "print every benchmark line as it comes")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./internal/cmd/benchcmp [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	filter, err := regexp.Compile(*bench)
	if err != nil || *count < 2 || *rounds < 1 || *maxCount < *count || *slowcount < 0 || *slowMaxCount < *slowcount || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	sets := []set{
		{[]string{"BenchmarkMultipathTCP", "BenchmarkMPTCPInfo", "BenchmarkSubflows"}, *benchtime, *count, *maxCount, *rounds},
		{[]string{"BenchmarkDialAcceptClose", "BenchmarkBulk", "BenchmarkProxy"}, *streamtime, *count, *maxCount, 1},
		{[]string{"BenchmarkIdleConns"}, "1x", *slowcount, *slowMaxCount, 1},
		{[]string{"BenchmarkTwoPaths"}, *pathtime, *slowcount, *slowMaxCount, 1},
		{[]string{"BenchmarkListConns", "BenchmarkListHeap", "BenchmarkScrape", "BenchmarkScrapeHeap"}, *listtime, *slowcount, *slowMaxCount, 1},
	}
	for i := range sets {
		sets[i].names = slices.DeleteFunc(sets[i].names, func(n string) bool { return !filter.MatchString(n) })
	}
	sets = slices.DeleteFunc(sets, func(st set) bool { return len(st.names) == 0 || st.count == 0 })
	start := time.Now()
	code, err := run(sets, *verbose, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(2)
	}
	fmt.Printf("\nwall time %v\n", time.Since(start).Round(time.Second))
	os.Exit(code)
}

func run(sets []set, verbose bool, out io.Writer) (int, error) {
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "benchcmp")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "mptcp.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("building the test binary: %v", err)
	}

	// runs[i] holds the i-th run of every set.
	var runs []map[string]result
	notes := map[string]string{} // benchmark -> why it has no result
	ran := map[string]int{}      // top-level benchmark -> runs
	for _, st := range sets {
		for i := 0; i < st.maxCount; i++ {
			names := st.names
			if i >= st.count {
				// The runs so far have settled every goal but those of
				// these benchmarks' rows: only they run again.
				names = unsettled(rows, runs, st.names)
				if len(names) == 0 {
					break
				}
			}
			order := "baseline first"
			if i%2 == 1 {
				order = "package first"
			}
			fmt.Fprintf(os.Stderr, "%s %s, run %d (%s)...\n", time.Now().Format("15:04:05"), strings.Join(names, ", "), i+1, order)
			bench := "^(" + strings.Join(names, "|") + ")$"
			res, skipped, err := runOnce(bin, root, st.benchtime, st.rounds, bench, i%2 == 1, verbose)
			if err != nil {
				return 0, fmt.Errorf("%s, run %d: %v", bench, i+1, err)
			}
			if i == len(runs) {
				runs = append(runs, map[string]result{})
			}
			for k, v := range res {
				runs[i][k] = v
			}
			for k, v := range skipped {
				notes[k] = v
			}
			for _, n := range names {
				ran[n]++
			}
		}
	}
	fmt.Fprintf(out, "%s\n\n", machine())
	for _, st := range sets {
		var counts []string
		for _, n := range st.names {
			counts = append(counts, fmt.Sprintf("%s %d", n, ran[n]))
		}
		fmt.Fprintf(out, "- -benchtime %s, %d A B B A round(s) per run; runs: %s\n", st.benchtime, st.rounds, strings.Join(counts, ", "))
	}
	fmt.Fprintln(out)
	return table(out, rows, runs, notes), nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run benchcmp inside the module github.com/multipath-go/mptcp")
	}
	return filepath.Dir(gomod), nil
}

var (
	procSuffix = regexp.MustCompile(`-\d+$`)
	// The second measurement of a side in a run (bench_test.go's
	// sideBySide runs A B B A) is named NAME#01.
	dupSuffix = regexp.MustCompile(`#\d+$`)
	skipLine  = regexp.MustCompile(`^\s*--- (SKIP|FAIL): (Benchmark\S*)`)
	logLine   = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)
)

// runOnce runs the test binary once and returns its results by
// benchmark name, and the benchmarks that skipped or failed, with the
// first line of their message.
func runOnce(bin, dir, benchtime string, rounds int, bench string, reverse, verbose bool) (map[string]result, map[string]string, error) {
	cmd := exec.Command(bin, "-test.run=^$", "-test.bench="+bench, "-test.benchtime="+benchtime,
		"-test.count=1", "-test.v", "-test.timeout=30m")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), orderEnv+"=", roundsEnv+"="+strconv.Itoa(rounds))
	if reverse {
		cmd.Env = append(cmd.Env, orderEnv+"=reverse")
	}
	var output bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		waited <- err
	}()
	var echo io.Writer
	if verbose {
		echo = os.Stderr
	}
	all, skipped := parseOutput(io.TeeReader(pr, &output), echo)
	io.Copy(io.Discard, pr)
	if err := <-waited; err != nil {
		// A benchmark failed: its rows say so; the others still count.
		fmt.Fprintf(os.Stderr, "the test binary failed (%v); its output:\n%s\n", err, output.String())
	}
	res := map[string]result{}
	for name, rs := range all {
		res[name] = combine(rs)
	}
	return res, skipped, nil
}

// parseOutput reads the output of a test binary run with -test.v and
// returns every benchmark result by name (without the -GOMAXPROCS and
// #NN suffixes), and the benchmarks that skipped or failed, with the last
// line they logged. With echo set, it copies the result lines there as
// they come.
func parseOutput(r io.Reader, echo io.Writer) (map[string][]result, map[string]string) {
	all := map[string][]result{}
	skipped := map[string]string{}
	// A benchmark's log lines ("    file_test.go:123: message") come
	// before its "--- SKIP: name" or "--- FAIL: name" line.
	var lastMsg string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if echo != nil && strings.HasPrefix(line, "Benchmark") && strings.Contains(line, "/op") {
			fmt.Fprintf(echo, "%s %s\n", time.Now().Format("15:04:05"), line)
		}
		if strings.HasPrefix(line, "Benchmark") {
			lastMsg = ""
		}
		if m := logLine.FindStringSubmatch(line); m != nil {
			lastMsg = m[1]
			continue
		}
		if m := skipLine.FindStringSubmatch(line); m != nil {
			name := dupSuffix.ReplaceAllString(m[2], "")
			skipped[name] = strings.ToLower(m[1])
			if lastMsg != "" {
				skipped[name] += ": " + lastMsg
			}
			lastMsg = ""
			continue
		}
		if name, res, ok := parseResult(line); ok {
			all[name] = append(all[name], res)
		}
	}
	return all, skipped
}

// parseResult parses a benchmark result line:
//
//	BenchmarkBulk/mptcp-2   1030   1631576 ns/op   642.68 MB/s   0 B/op   0 allocs/op
func parseResult(line string) (string, result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return "", nil, false
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return "", nil, false
	}
	r := result{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		r[f[i+1]] = v
	}
	return dupSuffix.ReplaceAllString(procSuffix.ReplaceAllString(f[0], ""), ""), r, true
}

// counts are the metrics that count events over a measurement rather
// than rate it: a run's figure is their sum over its measurements.
var counts = map[string]bool{"stalls": true}

// combine makes one figure per metric of the measurements of one
// benchmark in one run (its two, A B B A): the least time per operation,
// the sum of counts, the mean of anything else. A time per operation
// only grows with interference (another process, an interrupt, the
// host), so the lesser of two measurements is the nearer to the code's
// own cost; both sides of a comparison get the same treatment.
func combine(rs []result) result {
	m := result{}
	n := map[string]int{}
	for _, r := range rs {
		for unit, v := range r {
			if _, ok := m[unit]; ok && unit == "ns/op" {
				m[unit] = min(m[unit], v)
			} else {
				m[unit] += v
			}
			n[unit]++
		}
	}
	for unit := range m {
		if !counts[unit] && unit != "ns/op" {
			m[unit] /= float64(n[unit])
		}
	}
	return m
}

// values returns the metric of a benchmark in every run that has it.
func values(runs []map[string]result, name, unit string) []float64 {
	var v []float64
	for _, r := range runs {
		if x, ok := r[name][unit]; ok {
			v = append(v, x)
		}
	}
	return v
}

// pairs returns, for every run that has both figures, f(package,
// baseline): metric pu of benchmark pkg and metric bu of benchmark base.
func pairs(runs []map[string]result, pkg, base, pu, bu string, f func(p, b float64) float64) []float64 {
	var v []float64
	for _, r := range runs {
		p, ok1 := r[pkg][pu]
		b, ok2 := r[base][bu]
		if ok1 && ok2 {
			v = append(v, f(p, b))
		}
	}
	return v
}

// center is what the table reports of several runs' figures: their mean
// without the highest and the lowest from five runs up, which resists an
// outlier as a median does but uses more of the data; the median below.
func center(v []float64) float64 {
	if len(v) < 5 {
		return median(v)
	}
	s := slices.Clone(v)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s[1 : len(s)-1] {
		sum += x
	}
	return sum / float64(len(s)-2)
}

// interval returns the half-width of the 95% confidence interval of the
// mean of v, from Student's t distribution (runs vary as a sample of a
// normal distribution would, near enough): the table puts it around the
// center. It is NaN for fewer than two values.
func interval(v []float64) float64 {
	n := len(v)
	if n < 2 {
		return math.NaN()
	}
	mean := sum(v) / float64(n)
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	return t975(n-1) * sd / math.Sqrt(float64(n))
}

// t975 is the 97.5th percentile of Student's t distribution with df
// degrees of freedom: a two-sided 95% interval.
func t975(df int) float64 {
	table := [...]float64{0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df < len(table) {
		return table[df]
	}
	return 1.96
}

// comparisons returns, for every run that has both sides of rw, the
// figure its goal is about: the ratio, or for an extra-bytes goal the
// difference.
func comparisons(runs []map[string]result, rw row) []float64 {
	pu, bu := rw.units()
	if rw.kind == extra {
		return pairs(runs, rw.pkg, rw.base, pu, bu, func(p, b float64) float64 { return p - b })
	}
	return pairs(runs, rw.pkg, rw.base, pu, bu, func(p, b float64) float64 { return p / b })
}

// unsettled returns the benchmarks among names that measure a row whose
// goal lies inside the confidence interval of the runs so far: the
// machine's noise, not the package, would decide its verdict, and more
// runs narrow the interval. On a row judged by its interval (byCI) such
// a goal holds, but only for want of precision: the added runs let a
// package that falls short show it. A row without data is not
// unsettled: a benchmark that skipped would skip again.
func unsettled(rows []row, runs []map[string]result, names []string) []string {
	var out []string
	for _, rw := range rows {
		top, _, _ := strings.Cut(rw.pkg, "/")
		if rw.kind == report || !slices.Contains(names, top) || slices.Contains(out, top) {
			continue
		}
		cmp := comparisons(runs, rw)
		c, h := center(cmp), interval(cmp)
		if len(cmp) >= 2 && c-h <= rw.limit && rw.limit <= c+h {
			out = append(out, top)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// table prints the table and returns the exit code: 1 if a goal fails
// or a row has no data.
func table(out io.Writer, rows []row, runs []map[string]result, notes map[string]string) int {
	code := 0
	fmt.Fprintln(out, "| row | what | package | baseline | ratio | goal | rule | holds | runs | spread of the runs | 95% CI | notes |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, rw := range rows {
		pu, bu := rw.units()
		pv := values(runs, rw.pkg, pu)
		bv := values(runs, rw.base, bu)
		cmp := comparisons(runs, rw)
		if len(cmp) == 0 {
			why := "no data"
			for _, name := range []string{rw.pkg, rw.base} {
				if n := noteFor(notes, name); n != "" {
					why = n
					break
				}
			}
			verdict := "**no**: no data"
			if rw.kind == report {
				verdict = "–"
			} else {
				code = 1
			}
			fmt.Fprintf(out, "| %s | %s | – | – | – | %s | %s | %s | 0 | – | – | %s |\n", rw.id, rw.what, goal(rw), rule(rw), verdict, escape(why))
			continue
		}
		m, h := center(cmp), interval(cmp)
		holds, why := rw.meets(m, h)
		// failed lists the conditions besides the ratio that the row
		// misses; why tells of the ratio.
		var failed []string
		var extras []string
		if rw.zeroAlloc {
			a := center(values(runs, rw.allocBench(), "allocs/op"))
			extras = append(extras, fmt.Sprintf("%s allocs/op", num(a)))
			if a != 0 {
				failed = append(failed, fmt.Sprintf("%s allocs/op", num(a)))
			}
		} else if a := values(runs, rw.pkg, "allocs/op"); len(a) > 0 && rw.unit == "ns/op" {
			extras = append(extras, fmt.Sprintf("%s allocs/op", num(center(a))))
		}
		if rw.splice {
			s, ok := spliceNote(runs, rw)
			extras = append(extras, s)
			if !ok {
				failed = append(failed, "not spliced on both sides")
			}
		}
		if rw.sum {
			links := center(values(runs, rw.pkg, "links-MB/s"))
			extras = append(extras, fmt.Sprintf("%.0f%% of the links' %s MB/s (%s Mbit/s); TCP %.0f%%",
				100*center(pv)/links, num(links), num(links*8), 100*center(bv)/links))
		}
		if rw.stalls {
			s, ok := stallNote(runs, rw)
			extras = append(extras, s)
			if !ok {
				failed = append(failed, "stalls more than chance explains")
			}
		}
		if rw.note != "" {
			extras = append(extras, rw.note)
		}
		if c := values(runs, rw.pkg, "client-B/conn"); len(c) > 0 {
			extras = append(extras, fmt.Sprintf("client end alone: %s vs %s B",
				num(center(c)), num(center(values(runs, rw.base, "client-B/conn")))))
		}
		var verdict string
		switch {
		case rw.kind == report:
			verdict = "–"
		case holds && len(failed) == 0:
			verdict = "yes: " + why
		default:
			code = 1
			if !holds {
				failed = append([]string{why}, failed...)
			}
			verdict = "**no**: " + strings.Join(failed, "; ")
		}
		ratio := fmt.Sprintf("%.3f", m)
		spread := fmt.Sprintf("%.3f – %.3f", slices.Min(cmp), slices.Max(cmp))
		ci := fmt.Sprintf("%.3f – %.3f", m-h, m+h)
		if rw.kind == extra {
			ratio = fmt.Sprintf("%+.1f B (%.3f)", m, center(pv)/center(bv))
			spread = fmt.Sprintf("%+.1f – %+.1f B", slices.Min(cmp), slices.Max(cmp))
			ci = fmt.Sprintf("%+.1f – %+.1f B", m-h, m+h)
		}
		if math.IsNaN(h) {
			ci = "–"
		}
		fmt.Fprintf(out, "| %s | %s | %s %s | %s %s | %s | %s | %s | %s | %d | %s | %s | %s |\n",
			rw.id, rw.what, num(center(pv)), rw.unit, num(center(bv)), rw.unit, ratio, goal(rw), rule(rw), verdict, len(cmp), spread, ci, strings.Join(extras, "; "))
	}
	return code
}

// spliceNote reports the proxy thread's read and write system calls per
// MiB on both sides, and whether both spliced: fewer than one read and
// one write per MiB, where a user-space copy (the control) makes 32 of
// each.
func spliceNote(runs []map[string]result, rw row) (string, bool) {
	ok := true
	var parts []string
	for _, side := range []struct{ name, bench string }{{"package", rw.pkg}, {"baseline", rw.base}, {"user-space control", controlBench}} {
		r := center(values(runs, side.bench, "reads/MiB"))
		w := center(values(runs, side.bench, "writes/MiB"))
		parts = append(parts, fmt.Sprintf("%s %s+%s", side.name, num(r), num(w)))
		if side.bench != controlBench && !(r < 1 && w < 1) {
			ok = false
		}
	}
	spliced := "splice on both sides"
	if !ok {
		spliced = "NOT spliced on both sides"
	}
	return fmt.Sprintf("%s: read+write syscalls/MiB on the proxy thread: %s", spliced, strings.Join(parts, ", ")), ok
}

// stallLevel is the chance below which more stalls on the package's
// side than on the baseline's count as the package's doing.
const stallLevel = 0.01

// stallNote reports the loopback stalls of both sides, which the flow
// rate leaves out, and whether the package's side stalled no more than
// chance explains: under equal stall rates (both sides measure for the
// same time), each stall falls on either side with even odds, and the
// package's count is tested against that binomial distribution.
func stallNote(runs []map[string]result, rw row) (string, bool) {
	kp := sum(values(runs, rw.pkg, "stalls"))
	kb := sum(values(runs, rw.base, "stalls"))
	p := binomialTail(int(kp), int(kp+kb))
	ok := p >= stallLevel
	verdict := "no more than chance explains"
	if !ok {
		verdict = "MORE than chance explains"
	}
	return fmt.Sprintf("rate counting stalls: %s vs %s MB/s (ratio %.3f); stalls: package %s, baseline %s, P(≥ %s by chance) = %.2f: %s",
		num(center(values(runs, rw.pkg, "MB/s"))), num(center(values(runs, rw.base, "MB/s"))),
		center(pairs(runs, rw.pkg, rw.base, "MB/s", "MB/s", func(p, b float64) float64 { return p / b })),
		num(kp), num(kb), num(kp), p, verdict), ok
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// binomialTail is P(X >= k) for X ~ Binomial(n, 1/2).
func binomialTail(k, n int) float64 {
	if k <= 0 {
		return 1
	}
	p := 0.0
	for i := k; i <= n; i++ {
		lc, _ := math.Lgamma(float64(n + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lni, _ := math.Lgamma(float64(n - i + 1))
		p += math.Exp(lc - li - lni - float64(n)*math.Ln2)
	}
	return min(p, 1)
}

func noteFor(notes map[string]string, name string) string {
	for n := name; ; {
		if s, ok := notes[n]; ok {
			return n + ": " + s
		}
		i := strings.LastIndex(n, "/")
		if i < 0 {
			return ""
		}
		n = n[:i]
	}
}

// meets reports whether the runs' ratios (differences, for an extra-bytes
// goal), of center m and interval m ± h, meet the row's goal, and why, in
// the words the table prints. A row judged by its interval (byCI) meets
// it if the interval reaches the limit: its upper bound for an at-least
// goal, its lower bound for the others. With one run there is no
// interval (h is NaN), and the center decides.
func (rw row) meets(m, h float64) (bool, string) {
	lim := limitText(rw)
	switch {
	case rw.kind == report:
		return true, ""
	case rw.byCI && !math.IsNaN(h):
		if rw.kind == atLeast {
			if m+h >= rw.limit {
				return true, "CI reaches " + lim
			}
			return false, "CI wholly below " + lim
		}
		if m-h <= rw.limit {
			return true, "CI reaches " + lim
		}
		return false, "CI wholly above " + lim
	case rw.kind == atLeast:
		if m >= rw.limit {
			return true, "center ≥ " + lim
		}
		return false, "center < " + lim
	}
	if m <= rw.limit {
		return true, "center ≤ " + lim
	}
	return false, "center > " + lim
}

// rule says what a row must do to hold: the part of its ratio, then the
// other conditions.
func rule(rw row) string {
	if rw.kind == report {
		return "none"
	}
	parts := []string{"center meets the goal"}
	if rw.byCI {
		parts[0] = "95% CI reaches the goal (fails only if wholly beyond)"
	}
	if rw.zeroAlloc {
		parts = append(parts, "0 allocs/op")
	}
	if rw.splice {
		parts = append(parts, "splice on both sides")
	}
	if rw.stalls {
		parts = append(parts, "stalls no more than chance explains")
	}
	return strings.Join(parts, "; ")
}

func goal(rw row) string {
	switch rw.kind {
	case atMost, extra:
		return "≤ " + limitText(rw)
	case atLeast:
		return "≥ " + limitText(rw)
	}
	return "none"
}

// limitText formats the row's limit as its goal states it: bytes in
// MiB from 1 MiB up.
func limitText(rw row) string {
	if rw.kind == extra {
		if rw.limit >= 1<<20 {
			return fmt.Sprintf("+%g MiB", rw.limit/(1<<20))
		}
		return fmt.Sprintf("+%g B", rw.limit)
	}
	return fmt.Sprintf("%.2f", rw.limit)
}

// num formats a figure with three significant digits, or as an integer
// from 1000 up.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.Abs(v) >= 1000 || v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// machine describes where the table was measured.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	gov := "go version unknown"
	if b, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		gov = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (nproc), %s, %s, %s, %s/%s", runtime.NumCPU(), cpu, kernel, gov, runtime.GOOS, runtime.GOARCH)
}
