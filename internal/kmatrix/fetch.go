package main

import (
	"archive/tar"
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// kernelSpec is one kernel of the matrix: a Debian release's kernel and
// what the package's tests must find on it.
type kernelSpec struct {
	Name   string // the matrix's name for it, "6.1", "5.10-mptcp": what -kernels selects
	Series string // the kernel series the release must start with; empty: Name
	Suite  string // the Debian suite that ships it
	Expect string // passed to the tests as MPTCP_KMATRIX_EXPECT
	MPTCP  bool   // whether the kernel's config must have CONFIG_MPTCP=y
	// Source, when set, is the suite's kernel source package: the kernel
	// is built from it (build.go) instead of fetched as a binary package.
	Source string
	// Skips are the tests that do not run on this kernel (the test
	// binary's -test.skip), in groups by reason, listed in the table's
	// notes.
	Skips []testSkip
}

// testSkip is a group of tests a kernel does not run, and why.
type testSkip struct {
	// Package is the package whose tests these are, as packageName
	// names it ("mptcp", "counters"); empty: the tests of every package.
	Package string
	// Tests are -test.skip patterns, one per test or subtest: "^TestX$",
	// "^TestX$/^sub$". They go on the kernel's command line: no spaces.
	Tests []string
	Why   string
}

// machineSkips are the tests no machine runs, whatever its kernel: they
// check the repository's documents against the code, and a machine holds
// only the packages' test binaries and testdata. They run on the host.
var machineSkips = []testSkip{
	{
		Package: "mptcp", Tests: []string{"^TestReadmeIsShort$", "^TestDocLinksResolve$", "^TestReadmeTestCommandIsCIs$"},
		Why: "they read the repository's documents, which the machines do not hold",
	},
	{
		Package: "collector", Tests: []string{"^TestMetricNamesUnique$", "^TestDocsListEveryCounter$"},
		Why: "they read the repository's documents and package counters' source, which the machines do not hold",
	},
	{
		Package: "mptcpcheck", Tests: []string{"^TestConnsJSONKeys$", "^TestDocListsEveryJSONKey$"},
		Why: "they check docs/mptcpcheck.md against the command's output and source, which the machines do not hold",
	},
	// Load tests: they would take most of a machine's time under an
	// emulated CPU (the matrix's time is budgeted: docs/kernels.md), and
	// their timing limits are set for a real one.
	{
		Package: "mptcpcheck",
		Tests: []string{"^TestServeUnderAttack$", "^TestServeThousandSlowReaders$", "^TestServeRateFloorKeepsBurstyReader$",
			"^TestServeBoundsOneAddress$", "^TestServeShedsUnfinishedBodies$"},
		Why: "load tests of serve's own limits (thousands of connections, memory, rates over tens of seconds): " +
			"they test user space over loopback, not the kernel",
	},
	{
		Package: "mptcp", Tests: []string{"^TestTestbedHTTPLoad$"},
		Why: "a load test (1,000 HTTP connections over the test bed): what it needs of the kernel, MPTCP connections " +
			"over the test bed and their cleanup, the other test bed tests check on every kernel",
	},
}

// skips returns every test the spec's kernel does not run: machineSkips
// and its own.
func (s kernelSpec) skips() []testSkip {
	return append(append([]testSkip{}, machineSkips...), s.Skips...)
}

// skipPatterns returns the -test.skip patterns of the spec's kernel by
// package: the key "" holds those of every package.
func (s kernelSpec) skipPatterns() map[string]string {
	m := map[string]string{}
	for _, g := range s.skips() {
		for _, p := range g.Tests {
			if m[g.Package] != "" {
				m[g.Package] += "|"
			}
			m[g.Package] += p
		}
	}
	return m
}

// examplesOf skips the examples of the packages named, for why.
func examplesOf(why string, pkgs ...string) []testSkip {
	var out []testSkip
	for _, p := range pkgs {
		out = append(out, testSkip{Package: p, Tests: []string{"^Example"}, Why: why})
	}
	return out
}

// defaultKernels are the kernels people run: Debian 11, 12 and 13.
var defaultKernels = []kernelSpec{
	{
		Name: "5.10", Suite: "bullseye", Expect: "nomptcp", MPTCP: false,
		Skips: examplesOf("its examples show a host with MPTCP: without it they stop at their first call (log.Fatal)",
			"diag", "counters", "collector", "pm"),
	},
	{Name: "6.1", Suite: "bookworm", Expect: "6.1", MPTCP: true, Skips: skips61},
	{Name: "6.12", Suite: "trixie", Expect: "6.12", MPTCP: true},
	{
		// Debian 11's own kernel has MPTCP off; this one is built from
		// its source package with MPTCP on: the 5.6 - 5.15 kernels, which
		// have MPTCP sockets but no SOL_MPTCP.
		Name: "5.10-mptcp", Series: "5.10", Suite: "bullseye", Expect: "5.10-mptcp", MPTCP: true,
		Source: "linux-source-5.10",
		Skips:  skips510MPTCP,
	},
}

// series is the kernel series the spec's release must belong to.
func (s kernelSpec) series() string {
	if s.Series != "" {
		return s.Series
	}
	return s.Name
}

// cacheName is the spec's directory under the cache's kernels.
func (s kernelSpec) cacheName() string {
	if s.Source != "" {
		return s.Suite + "-amd64-" + s.Source
	}
	return s.Suite + "-amd64"
}

// skips61 are the tests that do not run on 6.1: each assumes what 6.1
// lacks, found when the test beds first ran there, and must instead say
// so by name (testenv.SkipKernelLacks) or check what 6.1 answers.
var skips61 = []testSkip{}

// skips510MPTCP are the tests that do not run on 5.10 with MPTCP.
var skips510MPTCP = []testSkip{
	{
		Tests: []string{"^TestHotPathsDoNotAllocate$"},
		Why:   "before 5.16 MPTCPInfo and Subflows read socket diagnostics, which allocate: the no-allocation promise is for 5.16 and later",
	},
	{
		// Go's splice falls back to a copy on EINVAL only, and the bytes it
		// moved into its pipe are lost: io.Copy into an MPTCP connection
		// from a TCP one fails there (KERNEL.md).
		Tests: []string{"^TestZeroCopySpliceProxy$", "^TestZeroCopySpliceReadFrom$", "^TestZeroCopySpliceLimitReader$"},
		Why: "5.10's MPTCP sockets refuse splice into them (EOPNOTSUPP): the package copies through user space there " +
			"(TestCopyIntoMPTCPConn), which these tests, counting system calls, take for a lost splice",
	},
	{
		Tests: []string{"^TestZeroCopySendfile$"},
		Why:   "on 5.10 io.Copy from a file into an MPTCP connection is not zero-copy: it makes as many reads as a user-space copy",
	},
	{
		Tests: []string{"^TestStrictDialControlHookFails$"},
		Why: "5.10's MPTCP sockets take SO_ATTACH_FILTER, the option this test sets as one " +
			"MPTCP sockets refuse (6.1 and later refuse it): the dial it expects to fail succeeds",
	},
}

// flavours are the metapackages tried in order: the cloud image is the
// smallest (a third of the generic one's download) and builds in all the
// matrix needs (serial console, initramfs, and MPTCP from 6.1 on); the
// generic image is the fallback.
var flavours = []string{"linux-image-cloud-amd64", "linux-image-amd64"}

// kernel is a fetched kernel, as cached.
type kernel struct {
	Spec    kernelSpec `json:"-"`
	Package string     `json:"package"` // the Debian binary package it came from
	Version string     `json:"version"` // its Debian version
	Release string     `json:"release"` // uname -r
	Vmlinuz string     `json:"-"`       // path to the image
	Config  string     `json:"-"`       // path to its build configuration
	// Modules is the directory of the kernel modules the machine loads
	// (vmModules and what they depend on), decompressed, with the order
	// they load in (moduleOrderFile); empty where the kernel is built
	// from source with all it needs built in.
	Modules string `json:"-"`
	// ModuleSet is the vmModules the kernel was fetched with: a kernel
	// cached with another set is fetched again.
	ModuleSet string `json:"module_set,omitempty"`
	// Fetched is when the suite was last asked for its current
	// package: when the kernel was fetched or built, or found current.
	Fetched time.Time `json:"fetched"`
	// Recipe identifies how a kernel built from source was configured
	// (buildRecipe); a kernel built by another recipe is built again.
	Recipe string `json:"recipe,omitempty"`
	// Built is how long building it took, in this run; zero when it
	// came from the cache or is a binary package.
	Built time.Duration `json:"-"`
}

// errMissing marks what the machine lacks (qemu, apt, a mirror, a
// kernel that cannot be fetched): a skip, or a failure where
// MPTCP_TEST_REQUIRE_ENV is set.
type errMissing struct{ msg string }

func (e *errMissing) Error() string { return e.msg }

func missingf(format string, args ...any) error {
	return &errMissing{fmt.Sprintf(format, args...)}
}

// isMissing reports whether err says the machine lacks something.
func isMissing(err error) bool {
	var m *errMissing
	return errors.As(err, &m)
}

// fetcher gets Debian kernel packages through a private apt state, with
// the mirror the machine's own apt sources name.
type fetcher struct {
	cacheDir string // kernels are kept under cacheDir/kernels
	refresh  bool   // fetch again even when a kernel is cached
	logf     func(format string, args ...any)
}

// maxAge is how long a cached kernel is used before the suite is asked
// for its current kernel again (Debian's point releases update them).
const maxAge = 30 * 24 * time.Hour

// kernel returns the cached kernel of spec, fetching it first if it is
// not cached, older than maxAge, or a refresh was asked for. A cached
// kernel is still used when fetching a newer one fails.
func (f *fetcher) kernel(ctx context.Context, spec kernelSpec) (*kernel, error) {
	dir := filepath.Join(f.cacheDir, "kernels", spec.cacheName())
	cached, cerr := loadKernel(dir, spec)
	// A binary kernel cached without the modules the machines load now
	// is fetched again.
	current := cerr == nil && (spec.Source != "" || (cached.Modules != "" && cached.ModuleSet == moduleSet()))
	if current && !f.refresh && time.Since(cached.Fetched) < maxAge {
		return cached, nil
	}
	if cerr != nil && !errors.Is(cerr, fs.ErrNotExist) {
		f.logf("%s: not using the cached kernel: %v", spec.Name, cerr)
	}
	var k *kernel
	var err error
	if spec.Source != "" {
		k, err = f.build(ctx, spec, dir, cached)
	} else {
		k, err = f.fetch(ctx, spec, dir)
	}
	if err != nil && cached != nil {
		f.logf("%s: fetching a newer kernel failed, using the cached %s: %v", spec.Name, cached.Release, err)
		return cached, nil
	}
	return k, err
}

func loadKernel(dir string, spec kernelSpec) (*kernel, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, err
	}
	k := &kernel{Spec: spec}
	if err := json.Unmarshal(b, k); err != nil {
		return nil, err
	}
	k.Vmlinuz = filepath.Join(dir, "vmlinuz")
	k.Config = filepath.Join(dir, "config")
	for _, p := range []string{k.Vmlinuz, k.Config} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "modules")); err == nil && fi.IsDir() {
		k.Modules = filepath.Join(dir, "modules")
	}
	if spec.Source != "" && k.Recipe != buildRecipe() {
		return nil, fmt.Errorf("the kernel in %s was built by another recipe (%q, now %q)", dir, k.Recipe, buildRecipe())
	}
	if err := checkKernel(k); err != nil {
		return nil, err
	}
	return k, nil
}

// checkKernel makes sure the kernel is the one the spec means: the right
// series, and MPTCP built in or not as expected.
func checkKernel(k *kernel) error {
	if !strings.HasPrefix(k.Release, k.Spec.series()+".") {
		return fmt.Errorf("%s ships kernel %s, not a %s kernel", k.Spec.Suite, k.Release, k.Spec.series())
	}
	cfg, err := os.ReadFile(k.Config)
	if err != nil {
		return err
	}
	has := regexp.MustCompile(`(?m)^CONFIG_MPTCP=y$`).Match(cfg)
	if has != k.Spec.MPTCP {
		return fmt.Errorf("kernel %s: CONFIG_MPTCP=y is %v in its config, the matrix expects %v", k.Release, has, k.Spec.MPTCP)
	}
	if k.Spec.Source != "" {
		if missing := missingOptions(cfg, builtOptions()); len(missing) > 0 {
			return fmt.Errorf("kernel %s: its config lacks %s", k.Release, strings.Join(missing, " "))
		}
	}
	return nil
}

func (f *fetcher) fetch(ctx context.Context, spec kernelSpec, dir string) (*kernel, error) {
	a, err := f.openApt(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer a.remove()
	pkg, version, err := a.resolve(ctx)
	if err != nil {
		return nil, missingf("no kernel package in %s: %v", spec.Suite, err)
	}
	deb, err := a.download(ctx, spec, pkg, version)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(f.cacheDir, "kernel-"+spec.Suite+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	release, absent, err := extractBoot(ctx, deb, tmp)
	if err != nil {
		return nil, fmt.Errorf("extracting %s: %w", filepath.Base(deb), err)
	}
	if len(absent) > 0 {
		// Built in, or not in this kernel at all: the tests that need
		// them say which.
		f.logf("%s: %s: no module %s in the package", spec.Name, pkg, strings.Join(absent, ", "))
	}
	k := &kernel{
		Spec: spec, Package: pkg, Version: version, Release: release,
		Vmlinuz: filepath.Join(tmp, "vmlinuz"), Config: filepath.Join(tmp, "config"),
		Modules: filepath.Join(tmp, "modules"), ModuleSet: moduleSet(),
		Fetched: time.Now().UTC().Truncate(time.Second),
	}
	return installKernel(k, tmp, dir)
}

// openApt makes a private apt state for spec's suite and updates its
// package lists. The caller removes it.
func (f *fetcher) openApt(ctx context.Context, spec kernelSpec) (*aptState, error) {
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, missingf("cannot fetch kernels: %s not found (a Debian host is needed)", tool)
		}
	}
	mirror, keyring, err := debianMirror()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(f.cacheDir, 0o755); err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp(f.cacheDir, "apt-"+spec.Suite+"-")
	if err != nil {
		return nil, err
	}
	a := &aptState{dir: state, logf: f.logf}
	if err := a.init(mirror, keyring, spec.Suite); err != nil {
		a.remove()
		return nil, err
	}
	f.logf("%s: apt-get update (%s %s)", spec.Name, mirror, spec.Suite)
	// apt-get update exits 0 when it cannot fetch an index: read what it said.
	out, err := a.run(ctx, "apt-get", "update")
	if failed := updateErrors(out); err != nil || failed != "" {
		if err != nil {
			failed = err.Error() + "\n" + lastLines(out, 10)
		}
		a.remove()
		return nil, missingf("apt-get update for %s from %s failed:\n%s", spec.Suite, mirror, strings.TrimSpace(failed))
	}
	return a, nil
}

// download fetches pkg=version into the apt state and returns the .deb.
func (a *aptState) download(ctx context.Context, spec kernelSpec, pkg, version string) (string, error) {
	a.logf("%s: apt-get download %s=%s", spec.Name, pkg, version)
	dl := filepath.Join(a.dir, "download")
	if err := os.Mkdir(dl, 0o755); err != nil {
		return "", err
	}
	if out, err := a.runIn(ctx, dl, "apt-get", "download", pkg+"="+version); err != nil {
		return "", missingf("apt-get download %s=%s failed: %v\n%s", pkg, version, err, lastLines(out, 10))
	}
	debs, _ := filepath.Glob(filepath.Join(dl, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	return debs[0], nil
}

// installKernel checks the kernel k, whose files are in tmp, and makes
// tmp the cached kernel dir, replacing the one there in one rename, so
// that an interrupted fetch or build never leaves a half kernel behind.
func installKernel(k *kernel, tmp, dir string) (*kernel, error) {
	if err := checkKernel(k); err != nil {
		return nil, err
	}
	if err := writeKernelJSON(tmp, k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return loadKernel(dir, k.Spec)
}

// writeKernelJSON writes what is known of k into dir/kernel.json.
func writeKernelJSON(dir string, k *kernel) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "kernel.json"), append(b, '\n'), 0o644)
}

// aptState is a private apt configuration: its own sources, lists and
// cache, none of the machine's hooks, so that fetching kernels of other
// releases touches nothing of the machine's own apt state.
type aptState struct {
	dir  string
	logf func(format string, args ...any)
}

func (a *aptState) remove() { os.RemoveAll(a.dir) }

func (a *aptState) init(mirror, keyring, suite string) error {
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return err
		}
	}
	opts := ""
	if keyring != "" {
		opts = "[signed-by=" + keyring + "] "
	}
	sources := fmt.Sprintf("deb %s%s %s main\n", opts, mirror, suite)
	if err := os.WriteFile(filepath.Join(a.dir, "sources.list"), []byte(sources), 0o644); err != nil {
		return err
	}
	conf := fmt.Sprintf(`Dir::Etc::SourceList "%[1]s/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "%[1]s/lists";
Dir::Cache "%[1]s/cache";
Dir::State::status "/dev/null";
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::Retries "2";
Acquire::http::Timeout "30";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
`, a.dir)
	return os.WriteFile(filepath.Join(a.dir, "apt.conf"), []byte(conf), 0o644)
}

func (a *aptState) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	return a.runIn(ctx, a.dir, tool, args...)
}

func (a *aptState) runIn(ctx context.Context, dir, tool string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{"-q", "-c", filepath.Join(a.dir, "apt.conf")}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// resolve finds the kernel package of the first flavour the suite has:
// the metapackage's dependency, with its version.
func (a *aptState) resolve(ctx context.Context) (pkg, version string, err error) {
	for _, meta := range flavours {
		out, err := a.run(ctx, "apt-cache", "show", "--no-all-versions", meta)
		if err != nil {
			continue
		}
		if pkg, version, ok := parseMetaDepends(string(out)); ok {
			return pkg, version, nil
		}
	}
	return "", "", fmt.Errorf("none of %s found", strings.Join(flavours, ", "))
}

// parseMetaDepends reads "Depends: linux-image-X (= V)" from apt-cache show.
func parseMetaDepends(show string) (pkg, version string, ok bool) {
	re := regexp.MustCompile(`(?m)^Depends: (linux-image-[^ ,|]+) \(= ([^)]+)\)`)
	m := re.FindStringSubmatch(show)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// vmModules are the kernel modules the machines load where the kernel
// has them as modules, as Debian's do; what they depend on is loaded
// too, first. The kernel built from source has the same code built in
// (buildOptions).
var vmModules = []string{
	// Socket diagnostics for TCP and MPTCP: without them sock_diag
	// answers ENOENT.
	"inet_diag", "tcp_diag", "mptcp_diag",
	// The test bed (internal/testbed): veth links between network
	// namespaces, shaped by tbf or netem.
	"veth", "sch_tbf", "sch_netem",
	// Its firewall rules, with the machines' iptables (iptables-legacy:
	// x_tables, not nf_tables, the fewest modules): the filter, mangle
	// and raw tables of IPv4 and IPv6, the tcp match (-p tcp --syn,
	// --dport, --tcp-option), the comment match (testbed.CountSYNs) and
	// the target that strips the MPTCP option.
	"iptable_filter", "iptable_mangle", "iptable_raw", "ip6table_filter", "ip6table_mangle", "ip6table_raw",
	"xt_tcpudp", "xt_comment", "xt_TCPOPTSTRIP",
	// nftables, for the rule that rewrites payload bytes (its payload,
	// meta and cmp expressions are in the core module).
	"nf_tables",
}

// moduleSet names vmModules in kernel.json.
func moduleSet() string { return strings.Join(vmModules, " ") }

// moduleOrderFile, in a kernel's modules directory, lists the modules
// there one a line, in the order they load: each after what it depends on.
const moduleOrderFile = "order"

// extractBoot writes the package's /boot/vmlinuz-* and /boot/config-*
// into dir as vmlinuz and config, and vmModules with what they depend on
// into dir/modules, decompressed, with their moduleOrderFile; it returns
// the kernel release and the vmModules the package does not hold.
func extractBoot(ctx context.Context, deb, dir string) (release string, absent []string, err error) {
	all := filepath.Join(dir, "all-modules")
	err = readDeb(ctx, deb, func(r io.Reader) (err error) {
		release, err = extractBootTar(r, dir, all)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(all)
	absent, err = selectModules(ctx, all, filepath.Join(dir, "modules"), vmModules)
	return release, absent, err
}

// readDeb hands the tar archive of a package's files to read.
func readDeb(ctx context.Context, deb string, read func(io.Reader) error) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	rerr := read(out)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb: %v: %s", err, stderr.String())
	}
	return rerr
}

// moduleCompressions are the suffixes a packaged module may have, and
// the command that decompresses it to its standard output.
var moduleCompressions = map[string][]string{
	".ko":     nil,
	".ko.xz":  {"xz", "-dc"},
	".ko.zst": {"zstd", "-dcq"},
}

// moduleFile reports whether name, a path in a kernel package, is a
// kernel module ("lib/modules/R/kernel/net/ipv4/inet_diag.ko.xz", or
// under usr/lib/modules), and returns the module's name and the file's
// compression suffix. Module names use "_" where files may use "-".
func moduleFile(name string) (module, suffix string, ok bool) {
	if !strings.Contains(name, "lib/modules/") || !strings.Contains(name, "/kernel/") {
		return "", "", false
	}
	base := path.Base(name)
	for suffix := range moduleCompressions {
		if m, ok := strings.CutSuffix(base, suffix); ok && m != "" {
			return strings.ReplaceAll(m, "-", "_"), suffix, true
		}
	}
	return "", "", false
}

// extractBootTar writes the kernel and its config into dir, and every
// module of the package into all, as MODULE plus its compression suffix.
func extractBootTar(r io.Reader, dir, all string) (string, error) {
	tr := tar.NewReader(r)
	var release string
	found := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		name := strings.TrimPrefix(h.Name, "./")
		dst := ""
		switch {
		case h.Typeflag != tar.TypeReg:
			continue
		case strings.HasPrefix(name, "boot/vmlinuz-"):
			dst, release = "vmlinuz", strings.TrimPrefix(name, "boot/vmlinuz-")
		case strings.HasPrefix(name, "boot/config-"):
			dst = "config"
		default:
			mod, suffix, ok := moduleFile(name)
			if !ok {
				continue
			}
			if err := os.MkdirAll(all, 0o755); err != nil {
				return "", err
			}
			dst = filepath.Join(all, mod+suffix)
		}
		if !filepath.IsAbs(dst) {
			dst = filepath.Join(dir, dst)
		}
		w, err := os.Create(dst)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(w, io.LimitReader(tr, 1<<30))
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
		found[filepath.Base(dst)] = true
	}
	if !found["vmlinuz"] || !found["config"] {
		return "", errors.New("no /boot/vmlinuz-* and /boot/config-* in the package")
	}
	return release, nil
}

// selectModules decompresses the modules named in want, from all (as
// extractBootTar left them), with every module they depend on, into dir
// as plain .ko files (finit_module(2) takes compressed ones only from 6.5
// on, and only where the kernel was built to), and writes their
// moduleOrderFile. It returns the modules of want that all lacks. The
// directory exists even where it holds none: the kernel was fetched with
// what its package has.
func selectModules(ctx context.Context, all, dir string, want []string) (absent []string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	deps := map[string][]string{}
	var load func(name string, wanted bool) error
	load = func(name string, wanted bool) error {
		if _, done := deps[name]; done {
			return nil
		}
		src, tool := "", []string(nil)
		for suffix, t := range moduleCompressions {
			if p := filepath.Join(all, name+suffix); fileExists(p) {
				src, tool = p, t
			}
		}
		if src == "" {
			if !wanted {
				return fmt.Errorf("module %s, which another needs, is not in the package", name)
			}
			absent = append(absent, name)
			return nil
		}
		dst := filepath.Join(dir, name+".ko")
		if err := decompressModule(ctx, src, dst, tool); err != nil {
			return err
		}
		d, err := moduleDepends(dst)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		deps[name] = d
		for _, dep := range d {
			if err := load(dep, false); err != nil {
				return err
			}
		}
		return nil
	}
	for _, m := range want {
		if err := load(m, true); err != nil {
			return nil, err
		}
	}
	var order []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, d := range deps[m] {
			visit(d)
		}
		order = append(order, m)
	}
	for _, m := range want {
		if _, ok := deps[m]; ok {
			visit(m)
		}
	}
	return absent, os.WriteFile(filepath.Join(dir, moduleOrderFile), []byte(strings.Join(order, "\n")+"\n"), 0o644)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// decompressModule writes src, decompressed by tool (nil: a plain .ko),
// to dst.
func decompressModule(ctx context.Context, src, dst string, tool []string) error {
	if tool == nil {
		return copyFile(src, dst)
	}
	if _, err := exec.LookPath(tool[0]); err != nil {
		return missingf("%s is %s-compressed and %s is not installed", filepath.Base(src), tool[0], tool[0])
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, tool[0], append(tool[1:], src)...)
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("decompressing %s: %v: %s", filepath.Base(src), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// moduleDepends reads the modules a kernel module needs loaded first:
// the depends= entry of its .modinfo section, which is what depmod
// builds modules.dep from (Debian's packages hold no modules.dep: their
// postinst makes it).
func moduleDepends(ko string) ([]string, error) {
	f, err := elf.Open(ko)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	b, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "depends="); ok {
			var out []string
			for _, d := range strings.Split(v, ",") {
				if d != "" {
					out = append(out, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return out, nil
		}
	}
	return nil, nil
}

// mirrorEnv overrides the mirror taken from the machine's apt sources.
const mirrorEnv = "MPTCP_KMATRIX_MIRROR"

// debianMirror returns the Debian archive the machine's apt sources name
// (deb822 .sources files, then one-line .list files), and the keyring
// they trust it with. No registry host is written into this repository:
// the mirror is the machine's.
func debianMirror() (mirror, keyring string, err error) {
	keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(keyring); err != nil {
		keyring = ""
	}
	if m := os.Getenv(mirrorEnv); m != "" {
		return m, keyring, nil
	}
	var entries []aptSource
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err == nil {
			entries = append(entries, parseDeb822Sources(string(b))...)
		}
	}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, name := range append([]string{"/etc/apt/sources.list"}, lists...) {
		b, err := os.ReadFile(name)
		if err == nil {
			entries = append(entries, parseOneLineSources(string(b))...)
		}
	}
	if e, ok := pickDebianArchive(entries); ok {
		if e.SignedBy != "" && strings.HasPrefix(e.SignedBy, "/") {
			keyring = e.SignedBy
		}
		return e.URI, keyring, nil
	}
	return "", "", missingf("no Debian archive in the machine's apt sources (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list); set %s to a Debian mirror", mirrorEnv)
}

// aptSource is one deb source: a URI and its suites and components.
type aptSource struct {
	URI        string
	Suites     []string
	Components []string
	SignedBy   string
}

// parseDeb822Sources reads the deb entries of a deb822 .sources file.
func parseDeb822Sources(text string) []aptSource {
	var out []aptSource
	for _, para := range regexp.MustCompile(`\n[ \t]*\n`).Split(text+"\n", -1) {
		fields := map[string]string{}
		key := ""
		sc := bufio.NewScanner(strings.NewReader(para))
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "#"):
			case (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && key != "":
				fields[key] += "\n" + strings.TrimSpace(line)
			default:
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					continue
				}
				key = strings.ToLower(strings.TrimSpace(k))
				fields[key] = strings.TrimSpace(v)
			}
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			out = append(out, aptSource{
				URI:        uri,
				Suites:     strings.Fields(fields["suites"]),
				Components: strings.Fields(fields["components"]),
				SignedBy:   strings.TrimSpace(fields["signed-by"]),
			})
		}
	}
	return out
}

// parseOneLineSources reads the deb lines of a sources.list file.
func parseOneLineSources(text string) []aptSource {
	var out []aptSource
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		var signedBy string
		if strings.HasPrefix(f[0], "[") {
			var opts []string
			for len(f) > 0 {
				opts = append(opts, strings.Trim(f[0], "[]"))
				done := strings.HasSuffix(f[0], "]")
				f = f[1:]
				if done {
					break
				}
			}
			for _, o := range opts {
				if v, ok := strings.CutPrefix(o, "signed-by="); ok {
					signedBy = v
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{URI: f[0], Suites: []string{f[1]}, Components: f[2:], SignedBy: signedBy})
	}
	return out
}

// pickDebianArchive chooses the main Debian archive among the sources:
// one with the main component and a release suite ("bookworm", not
// "bookworm-security" or "bookworm-updates").
func pickDebianArchive(entries []aptSource) (aptSource, bool) {
	for _, e := range entries {
		if !slices.Contains(e.Components, "main") {
			continue
		}
		for _, s := range e.Suites {
			if debianSuites[s] {
				return e, true
			}
		}
	}
	return aptSource{}, false
}

// debianSuites are the release names a Debian archive's main suite has.
var debianSuites = map[string]bool{
	"buster": true, "bullseye": true, "bookworm": true, "trixie": true, "forky": true, "duke": true,
	"sid": true, "unstable": true, "stable": true, "testing": true, "oldstable": true,
}

// updateErrors returns the lines in which apt-get update says it could
// not fetch an index.
func updateErrors(out []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Err:") || strings.HasPrefix(line, "E:") || strings.Contains(line, "Failed to fetch") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
