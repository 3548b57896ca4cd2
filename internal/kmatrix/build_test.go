package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSetOptions(t *testing.T) {
	cfg := "#\n# Automatically generated file; DO NOT EDIT.\n#\n" +
		"# CONFIG_64BIT is not set\n" +
		"CONFIG_LOCALVERSION=\"\"\n" +
		"CONFIG_NET=n\n" +
		"CONFIG_NETWORK_FILESYSTEMS=y\n" + // a prefix of no option set here
		"# CONFIG_NET_SCHED is not set\n" +
		"CONFIG_HZ=100\n"
	got := string(setOptions([]byte(cfg), []string{"64BIT", "NET", "MPTCP"}, map[string]string{"LOCALVERSION": `"-mptcp"`}))
	want := "#\n# Automatically generated file; DO NOT EDIT.\n#\n" +
		"CONFIG_NETWORK_FILESYSTEMS=y\n" +
		"# CONFIG_NET_SCHED is not set\n" +
		"CONFIG_HZ=100\n" +
		"CONFIG_64BIT=y\nCONFIG_NET=y\nCONFIG_MPTCP=y\nCONFIG_LOCALVERSION=\"-mptcp\"\n"
	if got != want {
		t.Errorf("setOptions:\n%s\nwant:\n%s", got, want)
	}
	if m := missingOptions([]byte(got), []string{"64BIT", "NET", "NET_SCHED", "HZ", "MPTCP", "NETWORK"}); !slices.Equal(m, []string{"NET_SCHED", "HZ", "NETWORK"}) {
		t.Errorf("missingOptions = %q, want NET_SCHED HZ NETWORK", m)
	}
}

// tailBuffer keeps the end of what a command wrote, from its stdout and
// stderr at once.
func TestTailBuffer(t *testing.T) {
	var tb tailBuffer
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				fmt.Fprintf(&tb, "writer %d line %d %s\n", w, i, strings.Repeat("x", 40))
			}
		}()
	}
	wg.Wait()
	if len(tb.b) > 64<<10 {
		t.Errorf("kept %d bytes, want at most 64 KiB", len(tb.b))
	}
	fmt.Fprintf(&tb, "the end\n")
	if got := tb.lastLines(1); got != "the end" {
		t.Errorf("lastLines(1) = %q", got)
	}
}

func TestBuildRecipe(t *testing.T) {
	r := buildRecipe()
	if !regexp.MustCompile(`^tinyconfig-[0-9a-f]{12}$`).MatchString(r) || r != buildRecipe() {
		t.Errorf("buildRecipe() = %q: want a stable tinyconfig-<12 hex digits>", r)
	}
	// Every option is set once; the implied ones are checked, not set.
	seen := map[string]bool{}
	for _, o := range builtOptions() {
		if seen[o] {
			t.Errorf("option %s listed twice", o)
		}
		seen[o] = true
	}
	for _, o := range []string{"MPTCP", "MPTCP_IPV6", "INET_DIAG", "INET_MPTCP_DIAG", "ACPI", "PCI", "SERIAL_8250_CONSOLE"} {
		if !seen[o] {
			t.Errorf("the recipe lacks %s", o)
		}
	}
}

func TestParseVersion(t *testing.T) {
	show := "Package: linux-source-5.10\nSource: linux\nVersion: 5.10.223-1\nInstalled-Size: 123\n"
	if v, ok := parseVersion(show); !ok || v != "5.10.223-1" {
		t.Errorf("parseVersion = %q, %v", v, ok)
	}
	if _, ok := parseVersion("Package: x\n"); ok {
		t.Error("a version found where none is")
	}
}

func TestExtractSourceTarball(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range []struct{ name, body string }{
		{"./usr/share/doc/linux-source-5.10/copyright", "c"},
		{"./usr/src/linux-patch-5.10-rt.patch.xz", "p"},
		{"./usr/src/linux-source-5.10.tar.xz", "TARBALL"},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.body))})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	dir := t.TempDir()
	p, err := extractSourceTarball(bytes.NewReader(b.Bytes()), dir)
	if err != nil || p != filepath.Join(dir, "linux-source-5.10.tar.xz") {
		t.Fatalf("extractSourceTarball = %q, %v", p, err)
	}
	if got, _ := os.ReadFile(p); string(got) != "TARBALL" {
		t.Errorf("extracted %q", got)
	}
	if _, err := extractSourceTarball(bytes.NewReader(nil), dir); err == nil {
		t.Error("no error for an archive without a source tarball")
	}
}

func TestMakeEnv(t *testing.T) {
	env := makeEnv([]string{"PATH=/bin", "ARCH=arm64", "CROSS_COMPILE=aarch64-", "KBUILD_OUTPUT=/x", "MAKEFLAGS=-j9", "HOME=/root", "LC_ALL=de_DE"})
	want := []string{"PATH=/bin", "HOME=/root", "LC_ALL=C", "KBUILD_BUILD_USER=kmatrix", "KBUILD_BUILD_HOST=kmatrix"}
	if !slices.Equal(env, want) {
		t.Errorf("makeEnv = %q, want %q", env, want)
	}
}

func TestSelectKernels(t *testing.T) {
	all, err := selectKernels("all")
	if err != nil || len(all) != len(defaultKernels) {
		t.Fatalf("all: %d kernels, %v", len(all), err)
	}
	got, err := selectKernels("5.10-mptcp, 6.1")
	if err != nil || len(got) != 2 || got[0].Name != "5.10-mptcp" || got[0].Source != "linux-source-5.10" || got[1].Name != "6.1" {
		t.Errorf("selectKernels(5.10-mptcp, 6.1) = %+v, %v", got, err)
	}
	if _, err := selectKernels("5.4"); err == nil || !strings.Contains(err.Error(), "5.10-mptcp") {
		t.Errorf("unknown kernel: %v, want an error naming the known ones", err)
	}
	for _, k := range defaultKernels {
		if k.Expect == "" || k.Suite == "" || !strings.HasPrefix(k.Name, k.series()) {
			t.Errorf("kernel spec %+v: want an expectation, a suite, and a name starting with its series", k)
		}
	}
}

// A kernel built by the current recipe, with the config it needs, is
// used from the cache: no apt, no build.
func TestBuiltKernelFromCache(t *testing.T) {
	spec, err := selectKernels("5.10-mptcp")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	dir := filepath.Join(cache, "kernels", spec[0].cacheName())
	config := "CONFIG_" + strings.Join(builtOptions(), "=y\nCONFIG_") + "=y\n"
	write := func(recipe, config string) {
		t.Helper()
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "vmlinuz"), []byte("bzImage"), 0o644)
		os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644)
		b, _ := json.Marshal(map[string]any{
			"package": "linux-source-5.10", "version": "5.10.223-1", "release": "5.10.223-mptcp",
			"fetched": time.Now().UTC(), "recipe": recipe,
		})
		os.WriteFile(filepath.Join(dir, "kernel.json"), b, 0o644)
	}
	write(buildRecipe(), config)
	var logged []string
	f := &fetcher{cacheDir: cache, logf: func(format string, args ...any) { logged = append(logged, format) }}
	k, err := f.kernel(context.Background(), spec[0])
	if err != nil {
		t.Fatalf("cached kernel: %v (log %q)", err, logged)
	}
	if k.Release != "5.10.223-mptcp" || k.Version != "5.10.223-1" || k.Built != 0 || k.Vmlinuz != filepath.Join(dir, "vmlinuz") {
		t.Errorf("cached kernel %+v", k)
	}

	// Another recipe, or a config without an option the recipe needs:
	// not used.
	write("tinyconfig-000000000000", config)
	if _, err := loadKernel(dir, spec[0]); err == nil || !strings.Contains(err.Error(), "another recipe") {
		t.Errorf("kernel of another recipe: %v", err)
	}
	write(buildRecipe(), strings.Replace(config, "CONFIG_INET_MPTCP_DIAG=y\n", "", 1))
	if _, err := loadKernel(dir, spec[0]); err == nil || !strings.Contains(err.Error(), "INET_MPTCP_DIAG") {
		t.Errorf("config without INET_MPTCP_DIAG: %v", err)
	}
}

// The tests a kernel skips exist in the package: a renamed test would
// otherwise run again unnoticed, or stay skipped under a stale name.
func TestKernelSkipsNameRealTests(t *testing.T) {
	mod, err := moduleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]map[string]bool{} // by package, and "" for any
	fset := token.NewFileSet()
	for _, dir := range kernelPackages {
		files, err := filepath.Glob(filepath.Join(mod, dir, "*_test.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no test files in %s: %v", dir, err)
		}
		pkg := packageName(dir)
		names[pkg] = map[string]bool{}
		for _, name := range files {
			f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
					names[pkg][fn.Name.Name] = true
				}
			}
		}
	}
	names[""] = map[string]bool{}
	for _, m := range names {
		for n := range m {
			names[""][n] = true
		}
	}
	for _, k := range defaultKernels {
		for _, g := range k.skips() {
			if _, ok := names[g.Package]; !ok {
				t.Errorf("%s: skips tests of %q, not a package the machines test", k.Name, g.Package)
				continue
			}
			if g.Why == "" || len(g.Tests) == 0 {
				t.Errorf("%s: a skip group without tests or without a reason: %+v", k.Name, g)
			}
			for _, pattern := range g.Tests {
				if strings.ContainsAny(pattern, " \t|") {
					t.Errorf("%s: skip pattern %q: one test per pattern, no spaces (it goes on the kernel command line)", k.Name, pattern)
				}
				top, _, _ := strings.Cut(pattern, "/")
				re, err := regexp.Compile(top)
				if err != nil {
					t.Errorf("%s: skip pattern %q: %v", k.Name, pattern, err)
					continue
				}
				found := false
				for name := range names[g.Package] {
					found = found || re.MatchString(name)
				}
				if !found {
					t.Errorf("%s: skip pattern %q matches no test of package %q", k.Name, pattern, g.Package)
				}
			}
		}
		// The kernel's command line holds at most 2048 bytes on x86.
		if n := len(kernelCmdline(k.Expect, time.Minute, "", k.skipPatterns())); n > 1400 {
			t.Errorf("%s: the command line is %d bytes: too long for the kernel", k.Name, n)
		}
	}
}
