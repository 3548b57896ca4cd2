// Command kmatrix proves the package on the kernels people run: it boots
// Debian's 5.10, 6.1 and 6.12 kernels in qemu, and a 5.10 built with
// MPTCP from Debian's source, with the tests of every package that talks
// to the kernel (kernelPackages) as the workload, and prints which path
// each call took on each kernel.
//
//	go run ./internal/kmatrix [-kernels 5.10,6.1,6.12,5.10-mptcp] [-host] [-refresh] [-keep DIR]
//
// For each kernel it fetches Debian's kernel package (the small
// -cloud-amd64 image) with apt-get, through a private apt state that
// uses the mirror the machine's own apt sources name, and keeps the
// kernel in a cache directory ($XDG_CACHE_HOME/mptcp-kmatrix, or
// ~/.cache/mptcp-kmatrix) for the next run. Debian ships no kernel with
// MPTCP before 6.1, so "5.10-mptcp" is built from Debian 11's
// linux-source-5.10 (make tinyconfig plus what the tests need, about 5
// minutes on 2 cores; build.go) and cached with the source package's
// version: it is built again only when that version or the recipe
// changes. Building needs build-essential, flex, bison, bc, libelf-dev
// and libssl-dev; without them that kernel is skipped.
//
// It builds each package's tests as a static binary, and a small init
// (./vminit), packs them into an initramfs, and boots each kernel with
// qemu (TCG, one CPU, 512 MiB, serial console only, no network but
// loopback). The init runs each package's tests with -test.v and
// MPTCP_KMATRIX_EXPECT set to what that kernel must give;
// kernel_linux_test.go asserts it and logs the path each call took on a
// KMATRIX line, which this command reads back into its table.
//
// With -host it adds a row for the machine's own kernel, running the
// same test binaries directly (as root, it needs what the packages' tests
// need).
//
// Without qemu, or when a kernel cannot be fetched, it reports the
// kernel as skipped and exits 0; with MPTCP_TEST_REQUIRE_ENV set it
// fails instead. It exits 1 when a kernel's tests fail or show a path
// other than the expected one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// config is one run of the matrix.
type config struct {
	Kernels    []kernelSpec
	CacheDir   string
	Refresh    bool          // ask for the current kernels even if cached
	Parallel   int           // machines booted at once
	Timeout    time.Duration // per machine, boot to power off
	Run        string        // -test.run for the test binary; empty: every test
	Skip       string        // -test.skip for the test binary, besides each kernel's own
	Host       bool          // add a row for this machine's kernel
	HostExpect string        // MPTCP_KMATRIX_EXPECT for the host row
	Keep       string        // keep logs and images here; empty: a temporary directory, removed
	ModuleDir  string        // the module root: the package under test
	GOARCH     string        // the test binaries' GOARCH: amd64 (empty) or 386
	Packages   []string      // the packages whose tests run; empty: kernelPackages
	Logf       func(format string, args ...any)
}

// row is one kernel's line of the table.
type row struct {
	Name     string
	Packages []string // the packages whose tests must have run
	Expect   string
	Kernel   *kernel // nil for the host row
	Release  string
	Result   *vmResult
	Elapsed  time.Duration
	Log      string   // the console log file (removed with the work directory unless kept)
	Console  string   // what the console said
	Skipped  error    // the machine lacks what this row needs
	Problems []string // why the row failed
}

// ok reports whether the row ran and passed.
func (r *row) ok() bool { return r.Skipped == nil && len(r.Problems) == 0 }

// matrix is the outcome of a run.
type matrix struct {
	Qemu     string
	Packages []string // the packages whose tests ran
	Skip     string   // the command line's -skip
	Rows     []*row
	Build    time.Duration // test binary, init, initramfs
	Fetch    time.Duration // kernels: from the cache, or downloaded
	Boot     time.Duration // every machine, wall time
	Total    time.Duration
	Kept     string // where the logs were kept (-keep); empty: removed
}

// runMatrix runs the whole matrix. It fails with an errMissing error when
// the machine cannot run it at all (no qemu).
func runMatrix(ctx context.Context, cfg config) (*matrix, error) {
	start := time.Now()
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cfg.Logf = logf
	if runtime.GOOS != "linux" {
		return nil, missingf("the kernel matrix runs on Linux hosts")
	}
	if len(cfg.Packages) == 0 {
		cfg.Packages = kernelPackages
	}
	m := &matrix{Skip: cfg.Skip, Packages: cfg.Packages}
	qemu, err := exec.LookPath(qemuBinary)
	if err != nil {
		return nil, missingf("%s not found: install qemu (Debian: apt-get install qemu-system-x86) to boot the kernel matrix", qemuBinary)
	}
	if m.Qemu, err = qemuVersion(ctx, qemu); err != nil {
		return nil, missingf("%s --version: %v", qemu, err)
	}

	work := cfg.Keep
	if work == "" {
		if work, err = os.MkdirTemp("", "mptcp-kmatrix-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	m.Kept = cfg.Keep

	t0 := time.Now()
	initrd := filepath.Join(work, "initrd.gz")
	tests, err := buildImage(ctx, cfg.ModuleDir, cfg.GOARCH, cfg.Packages, work, initrd)
	if err != nil {
		return nil, err
	}
	m.Build = time.Since(t0)
	logf("built %d test binaries and the initramfs in %v", len(tests), m.Build.Round(time.Millisecond))

	t0 = time.Now()
	f := &fetcher{cacheDir: cfg.CacheDir, refresh: cfg.Refresh, logf: logf}
	for _, spec := range cfg.Kernels {
		r := &row{Name: spec.Name, Expect: spec.Expect, Packages: cfg.Packages}
		m.Rows = append(m.Rows, r)
		k, err := f.kernel(ctx, spec)
		switch {
		case isMissing(err):
			r.Skipped = err
		case err != nil:
			r.Problems = append(r.Problems, "fetching the kernel: "+err.Error())
		default:
			r.Kernel, r.Release = k, k.Release
			logf("%s: %s %s (%s)", spec.Name, k.Package, k.Version, k.Release)
		}
	}
	m.Fetch = time.Since(t0)

	t0 = time.Now()
	par := max(cfg.Parallel, 1)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, r := range m.Rows {
		if r.Kernel == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			runRow(ctx, cfg, qemu, initrd, work, r)
		}()
	}
	wg.Wait()
	if cfg.Host {
		r := &row{Name: "host", Expect: cfg.HostExpect, Packages: cfg.Packages}
		m.Rows = append(m.Rows, r)
		runHostRow(ctx, cfg, tests, work, r)
	}
	m.Boot = time.Since(t0)
	m.Total = time.Since(start)
	return m, nil
}

// kernelPackages are the packages whose tests the machines run: every
// package that talks to the kernel, the root package first, whose
// kernel tests (kernel_linux_test.go) report the paths each kernel takes,
// and the commands, whose tests build test beds and run the commands as
// processes in them.
var kernelPackages = []string{".", "./diag", "./counters", "./collector", "./pm", "./cmd/mptcpcheck", "./cmd/mptcp_exporter"}

// commandPackages are the commands the machines get, prebuilt: their
// tests run them as processes (testenv.BuildCommand), and the machines
// have no go command.
var commandPackages = []string{"./cmd/mptcpcheck", "./cmd/mptcp_exporter"}

// packageData are the directories besides testdata that a package's
// tests read.
var packageData = map[string][]string{"./cmd/mptcp_exporter": {"rules", "systemd", "dashboard"}}

// packageName is the name a package's tests go by in the matrix: "mptcp"
// for the root package, else its directory's name.
func packageName(dir string) string {
	if dir == "." {
		return "mptcp"
	}
	return filepath.Base(dir)
}

// buildImage builds the static test binaries, for goarch (amd64 when
// empty), and the init, always amd64, and packs them; it returns the test
// binaries, for the host row. A 386 test binary runs on the machines'
// 64-bit kernels through their IA32 emulation, which Debian's kernels
// have: that is how CI tests the 32-bit layouts on a host that cannot run
// 32-bit programs itself.
func buildImage(ctx context.Context, moduleDir, goarch string, pkgs []string, work, initrd string) ([]packageTest, error) {
	if goarch == "" {
		goarch = "amd64"
	}
	initBin := filepath.Join(work, "init")
	base := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	type build struct {
		what string
		args []string
		env  []string
	}
	builds := []build{{"init", []string{"build", "-o", initBin, "./internal/kmatrix/vminit"}, append(base, "GOARCH=amd64")}}
	var tests []packageTest
	for _, dir := range pkgs {
		pt := packageTest{Name: packageName(dir), Dir: dir, Binary: filepath.Join(work, packageName(dir)+".test")}
		for _, d := range append([]string{"testdata"}, packageData[dir]...) {
			if fi, err := os.Stat(filepath.Join(moduleDir, dir, d)); err == nil && fi.IsDir() {
				pt.Data = append(pt.Data, filepath.Join(moduleDir, dir, d))
			}
		}
		tests = append(tests, pt)
		builds = append(builds, build{"test binary of " + dir, []string{"test", "-c", "-o", pt.Binary, dir}, append(base, "GOARCH="+goarch)})
	}
	cmdDir := filepath.Join(work, "cmd")
	if err := os.MkdirAll(cmdDir, 0o755); err != nil {
		return nil, err
	}
	var commands []string
	for _, dir := range commandPackages {
		if !slices.Contains(pkgs, dir) {
			continue
		}
		bin := filepath.Join(cmdDir, filepath.Base(dir))
		commands = append(commands, bin)
		builds = append(builds, build{"command " + dir, []string{"build", "-o", bin, dir}, append(base, "GOARCH="+goarch)})
	}
	tools, err := toolFiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range builds {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		cmd := exec.CommandContext(ctx, "go", b.args...)
		cmd.Dir = moduleDir
		cmd.Env = b.env
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("building the %s (go %s): %v\n%s", b.what, strings.Join(b.args, " "), err, out)
		}
	}
	return tests, writeInitramfs(initrd, initramfsFiles{Init: initBin, Tests: tests, Commands: commands, Tools: tools})
}

// runRow boots one kernel and judges what its tests said.
func runRow(ctx context.Context, cfg config, qemu, initrd, work string, r *row) {
	r.Log = filepath.Join(work, "console-"+r.Name+".log")
	logFile, err := os.Create(r.Log)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return
	}
	defer logFile.Close()
	// The test binary gets the machine's time less a margin, so that a
	// hung test panics with every goroutine's stack before qemu is killed.
	testTimeout := max(cfg.Timeout-90*time.Second, cfg.Timeout/2)
	if r.Kernel.Modules != "" {
		kinitrd := filepath.Join(work, "initrd-"+r.Name+".gz")
		if err := writeKernelInitramfs(kinitrd, initrd, r.Kernel.Modules); err != nil {
			r.Problems = append(r.Problems, "adding the kernel's modules to the initramfs: "+err.Error())
			return
		}
		initrd = kinitrd
	}
	skips := r.Kernel.Spec.skipPatterns()
	skips[""] = joinSkips(skips[""], cfg.Skip)
	args := bootArgs(r.Kernel.Vmlinuz, initrd, kernelCmdline(r.Expect, testTimeout, cfg.Run, skips))
	cfg.Logf("%s: booting %s", r.Name, r.Kernel.Release)
	t0 := time.Now()
	out, err := boot(ctx, qemu, args, cfg.Timeout, logFile)
	r.Elapsed = time.Since(t0)
	r.Console, r.Result = out, parseConsole(out)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	judge(r, cfg.Run == "" && cfg.Skip == "")
	cfg.Logf("%s: %s in %v", r.Name, r.summary(), r.Elapsed.Round(time.Second))
}

// runHostRow runs the test binaries on this machine's own kernel.
func runHostRow(ctx context.Context, cfg config, tests []packageTest, work string, r *row) {
	r.Log = filepath.Join(work, "console-host.log")
	logFile, err := os.Create(r.Log)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return
	}
	defer logFile.Close()
	if os.Geteuid() != 0 {
		r.Skipped = missingf("the host row runs the package's tests, which need root")
		return
	}
	cfg.Logf("host: running the tests on this machine's kernel")
	t0 := time.Now()
	out, err := runOnHost(ctx, tests, cfg.ModuleDir, r.Expect, cfg.Timeout, cfg.Run, cfg.Skip, logFile)
	r.Elapsed = time.Since(t0)
	r.Console, r.Result = out, parseConsole(out)
	r.Release = r.Result.Release
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	judge(r, cfg.Run == "" && cfg.Skip == "")
	cfg.Logf("host: %s in %v", r.summary(), r.Elapsed.Round(time.Second))
}

// judge checks what a machine's tests said: they ran, passed, and took
// the paths the kernel must take. full is false when only some tests
// were asked for.
func judge(r *row, full bool) {
	res := r.Result
	bad := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	switch {
	case !res.Booted:
		bad("the machine never reached the init (no KMATRIX-BOOT line)")
		return
	case r.Kernel != nil && res.Release != r.Kernel.Release:
		bad("booted kernel %s, want %s", res.Release, r.Kernel.Release)
	}
	for _, e := range res.InitErrs {
		bad("init: %s", e)
	}
	if res.Exit == -1 {
		bad("the init never reported the test binaries' exit (crash or timeout)")
	} else if res.Exit != 0 {
		bad("a test binary exited with code %d", res.Exit)
	}
	for _, p := range res.Packages {
		if p.Code != 0 {
			bad("the tests of package %s exited with code %d", p.Name, p.Code)
		}
	}
	if len(res.Packages) != len(r.Packages) && res.Exit != -1 {
		bad("%d of the %d packages' tests ran", len(res.Packages), len(r.Packages))
	}
	var failed []string
	for _, t := range res.Tests {
		if t.Status == "FAIL" {
			failed = append(failed, t.Name)
		}
	}
	if len(failed) > 0 {
		bad("failed: %s", strings.Join(failed, ", "))
	}
	if res.count("PASS") == 0 {
		bad("no test passed")
	}
	if res.Facts == nil {
		bad("the kernel tests printed no KMATRIX line: they did not run")
		return
	}
	if got := res.Facts["expect"]; got != r.Expect {
		bad("the kernel tests ran with expectation %q, want %q", got, r.Expect)
	}
	// The tests that must have run, not skipped, on this kind of kernel.
	must := []string{"TestKernelAnswers"}
	if r.Expect == "nomptcp" {
		must = append(must, "TestKernelWithoutMPTCP")
	} else if r.Expect != "" {
		must = append(must, "TestKernelMPTCPLoopback")
	}
	for _, name := range must {
		if t, ok := res.test(name); !ok || t.Status != "PASS" {
			bad("%s did not pass (%s)", name, orNone(t.Status))
		}
	}
	// A test skips only for a reason allowedSkips lists for this kernel.
	for _, t := range res.Tests {
		for _, reason := range t.Skips {
			if skipRuleFor(r.Expect, res.Release, reason) == nil {
				bad("%s skipped for a reason the matrix does not allow on this kernel (allowedSkips): %q", t.Name, reason)
			}
		}
	}
	// On a kernel with MPTCP, no test may skip for want of MPTCP.
	if r.Expect != "nomptcp" && full {
		for _, t := range res.Tests {
			if (t.Status == "SKIP" || t.LeavesSkipped > 0) && strings.Contains(t.Reason, "cannot create MPTCP sockets") {
				bad("%s skipped on a kernel with MPTCP: %s", t.Name, t.Reason)
			}
		}
	}
}

// joinSkips combines -test.skip patterns.
func joinSkips(patterns ...string) string {
	var out []string
	for _, p := range patterns {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "|")
}

func orNone(s string) string {
	if s == "" {
		return "did not run"
	}
	return s
}

func (r *row) summary() string {
	if r.Result == nil {
		return "did not run"
	}
	s := fmt.Sprintf("%d passed, %d failing, %d skipped", r.Result.count("PASS"), r.Result.count("FAIL"), r.Result.count("SKIP"))
	if len(r.Problems) > 0 {
		s += "; FAILED: " + strings.Join(r.Problems, "; ")
	}
	return s
}

// Columns of the table, from the KMATRIX line.
func (r *row) columns() (probe, info, subflows, tcpInfo string) {
	if r.Result == nil {
		return "-", "-", "-", "-"
	}
	if r.Result.Facts == nil {
		return "?", "?", "?", "?"
	}
	f := r.Result.Facts
	probe = f["probe"]
	if probe == "MPTCP_INFO" {
		probe = "MPTCP_INFO probe"
	}
	if f["mptcp"] != "yes" {
		return probe, "ErrNotMPTCP", "ErrNotMPTCP", "-"
	}
	if f["mptcp_info"] != "" && f["mptcp_info"] != "ok" {
		// Before 5.16: MPTCP sockets, no SOL_MPTCP. Socket diagnostics
		// (5.9+) answer what the socket options cannot.
		if f["info"] != "sock_diag" {
			why := " (no SOL_MPTCP: " + f["mptcp_info"] + ")"
			return probe + ", blind to fallback", f["info"] + why, f["subflows"] + why, "-"
		}
		probe += " + sock_diag fallback flag"
	}
	fields := f["info_fields"]
	if fields == allInfoNames {
		fields = "all fields"
	}
	info = f["info_len"] + " B: " + fields
	subflows = f["subflows"] + ", id " + f["subflow_id"]
	tcpInfo = f["tcpinfo_len"] + " B"
	return
}

// allInfoNames is how the tests spell every group of mptcp_info fields.
const allInfoNames = "base|local-addr|checksum|counters|subflows-total|last-activity"

// printTable writes the matrix as one table, then what each row skipped
// and why a row failed.
func printTable(w io.Writer, m *matrix) {
	var built []string
	for _, r := range m.Rows {
		if r.Kernel != nil && r.Kernel.Built > 0 {
			built = append(built, fmt.Sprintf("%s built in %v", r.Name, r.Kernel.Built.Round(time.Second)))
		}
	}
	kernels := m.Fetch.Round(100 * time.Millisecond).String()
	if len(built) > 0 {
		kernels += " (" + strings.Join(built, ", ") + ")"
	}
	fmt.Fprintf(w, "kernel matrix (%s, TCG; build %v, kernels %s, machines %v, total %v)\n\n",
		m.Qemu, m.Build.Round(100*time.Millisecond), kernels,
		m.Boot.Round(time.Second), m.Total.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kernel\trelease\texpect\tMultipathTCP\tMPTCPInfo\tSubflows\ttcp_info\tpass\tfail\tskip\ttime\tresult")
	for _, r := range m.Rows {
		result := "ok"
		switch {
		case r.Skipped != nil:
			result = "SKIPPED"
		case !r.ok():
			result = "FAILED"
		}
		probe, info, subflows, tcpInfo := r.columns()
		pass, fail, skip := "-", "-", "-"
		if r.Result != nil {
			pass = fmt.Sprint(r.Result.count("PASS"))
			fail = fmt.Sprint(r.Result.count("FAIL"))
			skip = fmt.Sprint(r.Result.count("SKIP"))
		}
		elapsed := "-"
		if r.Elapsed > 0 {
			elapsed = r.Elapsed.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Name, orDash(r.Release), orDash(r.Expect), probe, info, subflows, tcpInfo, pass, fail, skip, elapsed, result)
	}
	tw.Flush()
	printPackageTable(w, m)
	if m.Skip != "" {
		fmt.Fprintf(w, "\nevery kernel: not run (-skip %s): asked for on the command line\n", m.Skip)
	}
	for _, r := range m.Rows {
		if r.Skipped != nil {
			fmt.Fprintf(w, "\n%s: skipped: %v\n", r.Name, r.Skipped)
			continue
		}
		if k := r.Kernel; k != nil {
			for _, g := range k.Spec.skips() {
				pkg := "every package"
				if g.Package != "" {
					pkg = "package " + g.Package
				}
				fmt.Fprintf(w, "\n%s: not run (%s): %s:\n    %s\n", r.Name, pkg, g.Why, strings.Join(g.Tests, " "))
			}
		}
		if r.Result != nil && r.Result.count("SKIP") > 0 {
			// Grouped by reason: which tests did not run, and why.
			byReason := map[string][]string{}
			for _, t := range r.Result.Tests {
				if t.Status == "SKIP" {
					byReason[t.Reason] = append(byReason[t.Reason], t.Name)
				}
			}
			reasons := make([]string, 0, len(byReason))
			for reason := range byReason {
				reasons = append(reasons, reason)
			}
			sort.Strings(reasons)
			fmt.Fprintf(w, "\n%s: %d tests skipped (not counted as passes):\n", r.Name, r.Result.count("SKIP"))
			for _, reason := range reasons {
				fmt.Fprintf(w, "  %q (%s):\n    %s\n", reason, skipWhy(r.Expect, r.Result.Release, reason), strings.Join(byReason[reason], " "))
			}
		}
		if r.Result != nil {
			var partial []string
			for _, t := range r.Result.Tests {
				if t.Status == "PASS" && t.LeavesSkipped > 0 {
					partial = append(partial, fmt.Sprintf("  %s: %d of %d subtests skipped: %q (%s)",
						t.Name, t.LeavesSkipped, t.Leaves, t.Reason, skipWhy(r.Expect, r.Result.Release, t.Reason)))
				}
			}
			if len(partial) > 0 {
				fmt.Fprintf(w, "\n%s: passed with skipped subtests:\n%s\n", r.Name, strings.Join(partial, "\n"))
			}
		}
		if len(r.Problems) > 0 {
			fmt.Fprintf(w, "\n%s: FAILED:\n  %s\n", r.Name, strings.Join(r.Problems, "\n  "))
			if r.Result != nil {
				for _, t := range r.Result.Tests {
					if t.Status == "FAIL" {
						fmt.Fprintf(w, "  %s: %s\n", t.Name, t.Reason)
					}
				}
			}
			if r.Console != "" {
				where := "the whole log is kept with -keep DIR"
				if m.Kept != "" {
					where = r.Log
				}
				fmt.Fprintf(w, "last lines of the console, passes left out (%s):\n%s\n", where, lastLines([]byte(withoutPasses(r.Console)), 40))
			}
		}
	}
}

// withoutPasses drops the lines of tests that passed from a console.
func withoutPasses(console string) string {
	var b strings.Builder
	for _, line := range strings.Split(console, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "--- PASS") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// defaultCacheDir is $XDG_CACHE_HOME/mptcp-kmatrix or ~/.cache/mptcp-kmatrix.
func defaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "mptcp-kmatrix")
}

// moduleRoot finds the directory holding go.mod, from dir upwards.
func moduleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// selectKernels returns the specs named in list ("5.10,6.1").
func selectKernels(list string) ([]kernelSpec, error) {
	if list == "" || list == "all" {
		return defaultKernels, nil
	}
	var out []kernelSpec
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, k := range defaultKernels {
			if k.Name == strings.TrimSpace(name) {
				out, found = append(out, k), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown kernel %q (known: %s)", name, strings.Join(kernelNames(), ", "))
		}
	}
	return out, nil
}

// kernelNames are the names -kernels knows.
func kernelNames() []string {
	var names []string
	for _, k := range defaultKernels {
		names = append(names, k.Name)
	}
	return names
}

// hostExpect is the expectation for the host's kernel, by its series:
// the expectations kernel_linux_test.go knows beyond the matrix's own.
func hostExpect() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	rel := strings.TrimSpace(string(b))
	for _, series := range []string{"6.18", "6.12", "6.1"} {
		if strings.HasPrefix(rel, series+".") {
			return series
		}
	}
	return ""
}

func main() {
	kernels := flag.String("kernels", "all", "kernels to boot, comma-separated: "+strings.Join(kernelNames(), ", "))
	cacheDir := flag.String("cache", defaultCacheDir(), "where kernels are kept between runs")
	refresh := flag.Bool("refresh", false, "ask the suites for their current kernels even when cached (a built kernel is built again only if its source package changed)")
	parallel := flag.Int("parallel", min(2, runtime.NumCPU()), "machines booted at once (each takes one host CPU)")
	timeout := flag.Duration("timeout", 20*time.Minute, "time for one machine, boot to power off")
	run := flag.String("run", "", "run only the tests matching this regexp inside the machines")
	skip := flag.String("skip", "", "do not run the tests matching this regexp (no spaces) inside the machines")
	host := flag.Bool("host", false, "add a row for this machine's own kernel (runs the tests here, as root)")
	keep := flag.String("keep", "", "keep the initramfs, test binary and console logs in this directory")
	packages := flag.String("packages", strings.Join(kernelPackages, ","), "the packages whose tests the machines run, comma-separated")
	goarch := flag.String("goarch", "amd64", "GOARCH of the test binaries: amd64, or 386 (run by the kernels' IA32 emulation; not on the 5.10 built with MPTCP, which has none)")
	flag.Parse()
	if *goarch != "amd64" && *goarch != "386" {
		fmt.Fprintf(os.Stderr, "kmatrix: -goarch %s: want amd64 or 386\n", *goarch)
		os.Exit(2)
	}

	specs, err := selectKernels(*kernels)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kmatrix:", err)
		os.Exit(2)
	}
	mod, err := moduleRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kmatrix:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := config{
		Kernels: specs, CacheDir: *cacheDir, Refresh: *refresh, Parallel: *parallel,
		Timeout: *timeout, Run: *run, Skip: *skip, Host: *host, HostExpect: hostExpect(), Keep: *keep, ModuleDir: mod,
		GOARCH: *goarch, Packages: strings.Split(*packages, ","),
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "kmatrix: "+format+"\n", args...)
		},
	}
	m, err := runMatrix(ctx, cfg)
	if err != nil {
		if isMissing(err) && os.Getenv(testenv.RequireEnv) == "" {
			fmt.Printf("kernel matrix skipped: %v\n", err)
			return
		}
		fmt.Fprintln(os.Stderr, "kmatrix:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, m)
	code := 0
	for _, r := range m.Rows {
		if len(r.Problems) > 0 || (r.Skipped != nil && os.Getenv(testenv.RequireEnv) != "") {
			code = 1
		}
	}
	os.Exit(code)
}
