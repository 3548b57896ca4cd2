package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// matrixEnv set to "1" turns TestKernelMatrix on. It is off by default:
// it downloads kernels and boots virtual machines for minutes, and tests
// the kernels, not the toolchain, so one run per CI pass is enough.
const matrixEnv = "MPTCP_KMATRIX"

// TestKernelMatrix boots every kernel of the matrix in qemu with the
// package's tests as the workload, from the kernel cache (fetching what
// is missing), and fails if a kernel's tests fail or take a path other
// than that kernel's. It runs only with MPTCP_KMATRIX=1; otherwise it
// skips, by design, whatever MPTCP_TEST_REQUIRE_ENV says.
func TestKernelMatrix(t *testing.T) {
	if os.Getenv(matrixEnv) != "1" {
		t.Skipf("the kernel matrix is opt-in (it fetches Debian kernels and boots them in qemu): "+
			"run it with %s=1 go test -run TestKernelMatrix ./internal/kmatrix, or with go run ./internal/kmatrix", matrixEnv)
	}
	if runtime.GOOS != "linux" {
		testenv.SkipOrFail(t, "the kernel matrix runs on Linux hosts")
	}
	mod, err := moduleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	// Stop everything before the test binary's own deadline, so that a
	// hung machine is reported as such, with its console.
	ctx := context.Background()
	perMachine := 20 * time.Minute // a machine with the test beds: 13 minutes measured on a loaded 2-core host
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
		perMachine = min(perMachine, time.Until(d)-45*time.Second)
		if perMachine < 3*time.Minute {
			t.Fatalf("the test binary's -timeout leaves %v per machine: the matrix needs about 2 minutes per machine under TCG, "+
				"and 5 more to build the 5.10 with MPTCP where it is not cached (-timeout 60m is enough)", perMachine.Round(time.Second))
		}
	}
	cfg := config{
		Kernels:   defaultKernels,
		CacheDir:  defaultCacheDir(),
		Parallel:  min(2, runtime.NumCPU()),
		Timeout:   perMachine,
		ModuleDir: mod,
		Logf:      t.Logf,
	}
	m, err := runMatrix(ctx, cfg)
	if isMissing(err) {
		testenv.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	printTable(&table, m)
	t.Logf("\n%s", table.String())
	for _, r := range m.Rows {
		t.Run(r.Name, func(t *testing.T) {
			if r.Skipped != nil {
				testenv.SkipOrFail(t, "kernel %s: %v", r.Name, r.Skipped)
			}
			for _, p := range r.Problems {
				t.Errorf("kernel %s: %s (console log: see the table above)", r.Name, p)
			}
		})
	}
}

func TestParseConsole(t *testing.T) {
	out := strings.Join([]string{
		"\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1.16.2)\r",
		"\x1bc\x1b[?7l\x1b[2JKMATRIX-BOOT release=6.1.0-50-cloud-amd64 expect=6.1 net.mptcp.enabled=1\r",
		"=== RUN   TestA\r",
		"--- PASS: TestA (0.01s)\r",
		"=== RUN   TestKernelAnswers\r",
		"    kernel_linux_test.go:335: KMATRIX expect=6.1 mptcp=yes socket=ok probe=MPTCP_INFO info_len=48 subflows=MPTCP_TCPINFO+MPTCP_SUBFLOW_ADDRS subflow_id=0 tcpinfo_len=232\r",
		"--- PASS: TestKernelAnswers (0.02s)\r",
		"=== RUN   TestB\r",
		"=== RUN   TestB/sub\r",
		"    conn_linux_test.go:82: this kernel cannot create MPTCP sockets\r",
		"--- SKIP: TestB (0.00s)\r",
		"    --- SKIP: TestB/sub (0.00s)\r",
		"=== RUN   TestC\r",
		"    c_test.go:9: boom\r",
		"--- FAIL: TestC (0.00s)\r",
		"=== RUN   TestE\r",
		"=== RUN   TestE/a\r",
		"    e_test.go:1: no tool\r",
		"=== RUN   TestE/b\r",
		"=== RUN   TestE/b/c\r",
		"        e_test.go:2: no tool either\r",
		"--- PASS: TestE (0.00s)\r",
		"    --- SKIP: TestE/a (0.00s)\r",
		"    --- PASS: TestE/b (0.00s)\r",
		"        --- SKIP: TestE/b/c (0.00s)\r",
		"=== RUN   TestF\r",
		"=== RUN   TestF/a\r",
		"    f_test.go:1: no tool\r",
		"=== RUN   TestF/b\r",
		"--- PASS: TestF (0.00s)\r",
		"    --- SKIP: TestF/a (0.00s)\r",
		"    --- PASS: TestF/b (0.00s)\r",
		"=== RUN   ExampleD\r",
		"--- PASS: ExampleD (0.00s)\r",
		"FAIL\r",
		"KMATRIX-ERROR something odd\r",
		"KMATRIX-EXIT code=1\r",
		"[   80.5] reboot: Power down\r",
	}, "\n")
	r := parseConsole(out)
	if !r.Booted || r.Release != "6.1.0-50-cloud-amd64" || r.Exit != 1 || r.Final != "FAIL" {
		t.Errorf("boot, release, exit, verdict = %v, %q, %d, %q", r.Booted, r.Release, r.Exit, r.Final)
	}
	if got := fmt.Sprint(r.count("PASS"), r.count("FAIL"), r.count("SKIP")); got != "4 1 2" {
		t.Errorf("pass, fail, skip = %s, want 4 1 2 (top-level only)", got)
	}
	// A test whose every subtest skipped did not run: it counts as skipped.
	if e, _ := r.test("TestE"); e.Status != "SKIP" || e.Leaves != 2 || e.LeavesSkipped != 2 || e.Reason != "no tool" {
		t.Errorf("TestE = %+v, want SKIP with 2 of 2 leaves skipped", e)
	}
	if f, _ := r.test("TestF"); f.Status != "PASS" || f.Leaves != 2 || f.LeavesSkipped != 1 || f.Reason != "no tool" {
		t.Errorf("TestF = %+v, want PASS with 1 of 2 leaves skipped", f)
	}
	if b, _ := r.test("TestB"); b.Reason != "this kernel cannot create MPTCP sockets" {
		t.Errorf("TestB reason %q", b.Reason)
	}
	if c, _ := r.test("TestC"); c.Status != "FAIL" || c.Reason != "boom" {
		t.Errorf("TestC = %+v", c)
	}
	want := map[string]string{
		"expect": "6.1", "mptcp": "yes", "socket": "ok", "probe": "MPTCP_INFO", "info_len": "48",
		"subflows": "MPTCP_TCPINFO+MPTCP_SUBFLOW_ADDRS", "subflow_id": "0", "tcpinfo_len": "232",
	}
	if fmt.Sprint(r.Facts) != fmt.Sprint(want) {
		t.Errorf("facts %v, want %v", r.Facts, want)
	}
	if len(r.InitErrs) != 1 || r.InitErrs[0] != "something odd" {
		t.Errorf("init errors %q", r.InitErrs)
	}

	// A machine that died: no exit line, no facts.
	r = parseConsole("KMATRIX-BOOT release=5.10.0-32-cloud-amd64 expect=nomptcp\n=== RUN   TestA\n")
	if r.Exit != -1 || r.Facts != nil || len(r.Tests) != 0 {
		t.Errorf("truncated console: exit %d, facts %v, tests %v", r.Exit, r.Facts, r.Tests)
	}
}

// TestJudge checks that a row fails for each way a machine's run can go
// wrong, and passes only when everything needed ran.
func TestJudge(t *testing.T) {
	good := func(expect string) string {
		must := "--- PASS: TestKernelMPTCPLoopback (0.01s)\n=== RUN   TestKernelWithoutMPTCP\n" +
			"    kernel_loopback_linux_test.go:174: this kernel creates MPTCP sockets: TestKernelMPTCPLoopback covers it\n" +
			"--- SKIP: TestKernelWithoutMPTCP (0.00s)\n"
		if expect == "nomptcp" {
			must = "=== RUN   TestKernelMPTCPLoopback\n    conn_linux_test.go:26: this kernel cannot create MPTCP sockets (protocol not supported)\n" +
				"--- SKIP: TestKernelMPTCPLoopback (0.01s)\n--- PASS: TestKernelWithoutMPTCP (0.00s)\n"
		}
		out := "KMATRIX-BOOT release=6.1.0-R expect=" + expect + "\n" +
			"KMATRIX-PACKAGE name=mptcp\n" +
			"    kernel_linux_test.go:1: KMATRIX expect=" + expect + " mptcp=yes\n" +
			"--- PASS: TestKernelAnswers (0.02s)\n" + must + "PASS\nKMATRIX-PACKAGE-EXIT name=mptcp code=0\n"
		for _, dir := range kernelPackages[1:] {
			name := packageName(dir)
			out += "KMATRIX-PACKAGE name=" + name + "\n--- PASS: TestKernelAnswers (0.00s)\nPASS\nKMATRIX-PACKAGE-EXIT name=" + name + " code=0\n"
		}
		return out + "KMATRIX-EXIT code=0\n"
	}
	for _, tc := range []struct {
		name, expect, out string
		ok                bool
	}{
		{"good", "6.1", good("6.1"), true},
		{"good without MPTCP", "nomptcp", good("nomptcp"), true},
		{"never booted", "6.1", "SeaBIOS\n", false},
		{"no exit line", "6.1", strings.Replace(good("6.1"), "KMATRIX-EXIT code=0\n", "", 1), false},
		{"exit code", "6.1", strings.Replace(good("6.1"), "KMATRIX-EXIT code=0", "KMATRIX-EXIT code=1", 1), false},
		{"a package's exit code", "6.1", strings.Replace(good("6.1"), "name=diag code=0", "name=diag code=1", 1), false},
		{"a package's tests missing", "6.1", strings.Replace(good("6.1"), "KMATRIX-PACKAGE-EXIT name=pm code=0\n", "", 1), false},
		{"another package's test failed", "6.1", strings.Replace(good("6.1"), "KMATRIX-PACKAGE name=diag\n", "KMATRIX-PACKAGE name=diag\n--- FAIL: TestDiagX (0.00s)\n", 1), false},
		{"another package's test of the same name skipped", "6.1", strings.Replace(good("6.1"), "KMATRIX-PACKAGE name=pm\n--- PASS: TestKernelAnswers",
			"KMATRIX-PACKAGE name=pm\n=== RUN   TestKernelAnswers\n    a_test.go:1: needs promtool: exec: \"promtool\": executable file not found in $PATH\n--- SKIP: TestKernelAnswers", 1), true},
		{"a skip without a reason", "6.1", good("6.1") + "--- SKIP: TestX (0.00s)\n", false},
		{"a skip for a missing tool the machines should have", "6.1", good("6.1") +
			"=== RUN   TestX\n    x_test.go:1: the test bed needs ip: exec: \"ip\": executable file not found in $PATH\n--- SKIP: TestX (0.00s)\n", false},
		{"a subtest skip for a missing tool the machines should have", "6.1", good("6.1") +
			"=== RUN   TestX\n=== RUN   TestX/a\n    x_test.go:1: needs iptables: exec: \"iptables\": executable file not found in $PATH\n=== RUN   TestX/b\n" +
			"    x_test.go:2: needs chromium: exec: \"chromium\": executable file not found in $PATH\n" +
			"--- PASS: TestX (0.00s)\n    --- SKIP: TestX/a (0.00s)\n    --- SKIP: TestX/b (0.00s)\n", false},
		{"a subtest skip for a tool the machines lack on purpose", "6.1", good("6.1") +
			"=== RUN   TestX\n=== RUN   TestX/a\n    x_test.go:1: needs chromium: exec: \"chromium\": executable file not found in $PATH\n=== RUN   TestX/b\n" +
			"--- PASS: TestX (0.00s)\n    --- SKIP: TestX/a (0.00s)\n    --- PASS: TestX/b (0.00s)\n", true},
		{"a feature newer than the kernel", "6.1", good("6.1") +
			"=== RUN   TestX\n    x_test.go:1: kernel 6.1.0-R lacks the counter Blackhole (Linux 6.12 and later have it)\n--- SKIP: TestX (0.00s)\n", true},
		{"a feature the kernel should have", "6.1", good("6.1") +
			"=== RUN   TestX\n    x_test.go:1: kernel 6.1.0-R lacks the counter Y (Linux 6.1 and later have it)\n--- SKIP: TestX (0.00s)\n", false},
		{"a feature missing from another kernel", "6.1", good("6.1") +
			"=== RUN   TestX\n    x_test.go:1: kernel 5.10.0 lacks the counter Blackhole (Linux 6.12 and later have it)\n--- SKIP: TestX (0.00s)\n", false},
		{"no MPTCP is a kernel's reason only where it has none", "6.1", good("6.1") +
			"=== RUN   TestX\n    x_test.go:1: cannot set the MPTCP limits of a new namespace (x)\n--- SKIP: TestX (0.00s)\n", false},
		{"a failed test", "6.1", good("6.1") + "--- FAIL: TestX (0.00s)\n", false},
		{"no facts", "6.1", strings.Replace(good("6.1"), "KMATRIX expect", "KMATRIX-NOT expect", 1), false},
		{"other expectation", "6.12", strings.Replace(good("6.12"), "KMATRIX expect=6.12", "KMATRIX expect=6.1", 1), false},
		{"loopback test skipped", "6.1", strings.Replace(good("6.1"), "PASS: TestKernelMPTCPLoopback", "SKIP: TestKernelMPTCPLoopback", 1), false},
		{"nomptcp test skipped", "nomptcp", strings.Replace(good("nomptcp"), "PASS: TestKernelWithoutMPTCP", "SKIP: TestKernelWithoutMPTCP", 1), false},
		{"MPTCP skip on an MPTCP kernel", "6.1", good("6.1") + "=== RUN   TestY\n    y_test.go:1: this kernel cannot create MPTCP sockets (x)\n--- SKIP: TestY (0.00s)\n", false},
		{"MPTCP skip on a kernel without", "nomptcp", good("nomptcp") + "=== RUN   TestY\n    y_test.go:1: this kernel cannot create MPTCP sockets (x)\n--- SKIP: TestY (0.00s)\n", true},
		{"init error", "6.1", good("6.1") + "KMATRIX-ERROR setup: no\n", false},
		{"MPTCP subtest skip on an MPTCP kernel", "6.1", good("6.1") + "=== RUN   TestZ\n=== RUN   TestZ/a\n    z_test.go:1: this kernel cannot create MPTCP sockets (x)\n=== RUN   TestZ/b\n--- PASS: TestZ (0.00s)\n    --- SKIP: TestZ/a (0.00s)\n    --- PASS: TestZ/b (0.00s)\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &row{Name: "k", Expect: tc.expect, Result: parseConsole(tc.out), Packages: kernelPackages}
			judge(r, true)
			if r.ok() != tc.ok {
				t.Errorf("ok = %v, want %v; problems: %q", r.ok(), tc.ok, r.Problems)
			}
		})
	}
}

// The table counts each package's tests on each kernel, and says of
// every skip the rule that allows it, or that none does.
func TestPrintTableByPackage(t *testing.T) {
	out := "KMATRIX-BOOT release=R expect=6.1\nKMATRIX-PACKAGE name=mptcp\n--- PASS: TestA (0.00s)\n" +
		"=== RUN   TestB\n    b_test.go:1: needs go on the PATH: exec: \"go\": executable file not found in $PATH\n--- SKIP: TestB (0.00s)\n" +
		"KMATRIX-PACKAGE-EXIT name=mptcp code=0 elapsed=1m5s\nKMATRIX-PACKAGE name=pm\n--- PASS: TestA (0.00s)\n--- PASS: TestC (0.00s)\n" +
		"=== RUN   TestD\n    d_test.go:1: the test bed needs ip: exec: \"ip\": executable file not found in $PATH\n--- SKIP: TestD (0.00s)\n" +
		"--- FAIL: TestE (0.00s)\nKMATRIX-PACKAGE-EXIT name=pm code=1\nKMATRIX-EXIT code=1\n"
	m := &matrix{Packages: []string{".", "./pm"}, Rows: []*row{
		{Name: "6.1", Expect: "6.1", Result: parseConsole(out)},
		{Name: "5.10", Expect: "nomptcp", Skipped: missingf("no kernel")},
	}}
	var b strings.Builder
	printTable(&b, m)
	got := b.String()
	for _, want := range []string{
		"package  6.1\n", "mptcp    1/0/1 1m5s\n", "pm       2/1/1\n",
		"(allowed: a tool the machines lack on purpose",
		`"the test bed needs ip: exec: \"ip\": executable file not found in $PATH" (NOT ALLOWED on this kernel)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks %q:\n%s", want, got)
		}
	}
}

// readNewc reads back a newc cpio archive: name -> (mode, data, rdev).
func readNewc(t *testing.T, b []byte) map[string][3]string {
	t.Helper()
	out := map[string][3]string{}
	for len(b) > 0 {
		if len(b) < 110 || string(b[:6]) != "070701" {
			t.Fatalf("bad header at %q", b[:min(len(b), 16)])
		}
		field := func(i int) int {
			v, err := strconv.ParseUint(string(b[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(v)
		}
		mode, size, rmaj, rmin, namesize := field(1), field(6), field(9), field(10), field(11)
		name := string(b[110 : 110+namesize-1])
		if b[110+namesize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		off := (110 + namesize + 3) &^ 3
		data := b[off : off+size]
		b = b[(off+size+3)&^3:]
		if name == "TRAILER!!!" {
			if len(b) != 0 {
				t.Errorf("%d bytes after the trailer", len(b))
			}
			break
		}
		out[name] = [3]string{strconv.FormatInt(int64(mode), 8), string(data), fmt.Sprintf("%d:%d", rmaj, rmin)}
	}
	return out
}

func TestInitramfs(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"init": "INIT", "test": "TEST BINARY", "testdata/fuzz/F/seed": "go test fuzz v1\n", "testdata/a": "abc", "testdata/x.go": "package x", "rules/r.yml": "groups: []"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(dir, "initrd.gz")
	tests := []packageTest{{Name: "mptcp", Binary: filepath.Join(dir, "test"), Data: []string{filepath.Join(dir, "testdata"), filepath.Join(dir, "rules")}}, {Name: "diag", Binary: filepath.Join(dir, "init")}}
	in := initramfsFiles{
		Init: filepath.Join(dir, "init"), Tests: tests, Commands: []string{filepath.Join(dir, "test")},
		Tools: []hostFile{
			{Src: filepath.Join(dir, "init"), Dst: "usr/lib/x86_64-linux-gnu/libx.so.1", Mode: 0o755},
			{Dst: "bin/iptables", Link: "xtables-legacy-multi"},
		},
	}
	if err := writeInitramfs(dst, in); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	got := readNewc(t, raw)
	for name, want := range map[string][3]string{
		"init":                                   {"100755", "INIT", "0:0"},
		"kmatrix/test/00-mptcp.test":             {"100755", "TEST BINARY", "0:0"},
		"kmatrix/test/01-diag.test":              {"100755", "INIT", "0:0"},
		"kmatrix/pkg/mptcp/testdata/fuzz/F/seed": {"100644", "go test fuzz v1\n", "0:0"},
		"kmatrix/pkg/mptcp/testdata/a":           {"100644", "abc", "0:0"},
		"kmatrix/pkg/mptcp/testdata":             {"40755", "", "0:0"},
		"kmatrix/pkg/mptcp/testdata/x.go":        {"", "", ""},
		"kmatrix/pkg/mptcp/rules/r.yml":          {"100644", "groups: []", "0:0"},
		"kmatrix/cmd/test":                       {"100755", "TEST BINARY", "0:0"},
		"usr/lib/x86_64-linux-gnu":               {"40755", "", "0:0"},
		"usr/lib/x86_64-linux-gnu/libx.so.1":     {"100755", "INIT", "0:0"},
		"bin/iptables":                           {"120777", "xtables-legacy-multi", "0:0"},
		"var/run":                                {"120777", "../run", "0:0"},
		"kmatrix/pkg/diag":                       {"40755", "", "0:0"},
		"dev/console":                            {"20600", "", "5:1"},
		"tmp":                                    {"40755", "", "0:0"},
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	// The system's cpio, where installed, reads the archive too.
	if cpio, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command(cpio, "-t", "--quiet")
		cmd.Stdin = bytes.NewReader(raw)
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "kmatrix/test/00-mptcp.test\n") {
			t.Errorf("cpio -t: %v\n%s", err, out)
		}
	}
}

func TestAptSources(t *testing.T) {
	deb822 := `Types: deb
# a comment
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`
	e, ok := pickDebianArchive(parseDeb822Sources(deb822))
	if !ok || e.URI != "http://mirror.invalid/debian" || e.SignedBy != "/usr/share/keyrings/debian-archive-keyring.gpg" {
		t.Errorf("deb822: %+v, %v", e, ok)
	}
	// The security archive alone is not the one kernels come from.
	if e, ok := pickDebianArchive(parseDeb822Sources(deb822[strings.Index(deb822, "\n\n")+2:])); ok {
		t.Errorf("security archive picked: %+v", e)
	}
	oneLine := "# deb http://old.invalid/debian buster main\n" +
		"deb-src http://src.invalid/debian bookworm main\n" +
		"deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main contrib\n"
	e, ok = pickDebianArchive(parseOneLineSources(oneLine))
	if !ok || e.URI != "http://mirror.invalid/debian" || e.SignedBy != "/k.gpg" {
		t.Errorf("one-line: %+v, %v", e, ok)
	}
	disabled := strings.Replace(deb822, "Types: deb\n# a comment", "Types: deb\nEnabled: no", 1)
	if e, ok := pickDebianArchive(parseDeb822Sources(disabled)); ok {
		t.Errorf("disabled entry picked: %+v", e)
	}
	// This machine's own sources name a Debian archive where it is Debian.
	if _, err := os.Stat("/etc/debian_version"); err == nil && os.Getenv(mirrorEnv) == "" {
		if m, _, err := debianMirror(); err != nil || m == "" {
			t.Errorf("debianMirror on a Debian machine: %q, %v", m, err)
		}
	}
}

func TestParseMetaDepends(t *testing.T) {
	show := "Package: linux-image-cloud-amd64\nVersion: 6.12.117-1\nDepends: linux-image-6.12.117+deb13-cloud-amd64 (= 6.12.117-1)\n"
	pkg, v, ok := parseMetaDepends(show)
	if !ok || pkg != "linux-image-6.12.117+deb13-cloud-amd64" || v != "6.12.117-1" {
		t.Errorf("got %q %q %v", pkg, v, ok)
	}
	if _, _, ok := parseMetaDepends("Package: x\nDepends: libc6\n"); ok {
		t.Error("a non-kernel dependency was taken for the kernel")
	}
}

func TestKernelInitramfs(t *testing.T) {
	dir := t.TempDir()
	mods := filepath.Join(dir, "modules")
	os.Mkdir(mods, 0o755)
	for name, content := range map[string]string{"init": "INIT", "test": "TEST", "modules/inet_diag.ko": "INET", "modules/mptcp_diag.ko": "MPTCP",
		"modules/unused.ko": "NOT LOADED", "modules/order": "inet_diag\nmptcp_diag\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base, dst := filepath.Join(dir, "initrd.gz"), filepath.Join(dir, "initrd-k.gz")
	if err := writeInitramfs(base, initramfsFiles{Init: filepath.Join(dir, "init"), Tests: []packageTest{{Name: "mptcp", Binary: filepath.Join(dir, "test")}}}); err != nil {
		t.Fatal(err)
	}
	if err := writeKernelInitramfs(dst, base, mods); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	// Two gzip members, each a whole cpio archive: the base, then the modules.
	var archives []map[string][3]string
	for range 2 {
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, readNewc(t, raw))
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("bytes after the second archive: %v", err)
	}
	if archives[0]["init"][1] != "INIT" {
		t.Errorf("the base archive: %v", archives[0])
	}
	want := map[string][3]string{
		"kmatrix/modules":               {"40755", "", "0:0"},
		"kmatrix/modules/inet_diag.ko":  {"100644", "INET", "0:0"},
		"kmatrix/modules/mptcp_diag.ko": {"100644", "MPTCP", "0:0"},
		"kmatrix/modules/order":         {"100644", "inet_diag\nmptcp_diag\n", "0:0"},
	}
	if !reflect.DeepEqual(archives[1], want) {
		t.Errorf("the modules' archive: %v, want %v", archives[1], want)
	}
}

func TestModuleFile(t *testing.T) {
	for name, want := range map[string]string{
		"lib/modules/6.1.0-50-cloud-amd64/kernel/net/ipv4/inet_diag.ko":                "inet_diag .ko",
		"usr/lib/modules/6.12.117+deb13-cloud-amd64/kernel/net/ipv4/tcp_diag.ko.xz":    "tcp_diag .ko.xz",
		"lib/modules/6.1.0-50-cloud-amd64/kernel/net/mptcp/mptcp_diag.ko.zst":          "mptcp_diag .ko.zst",
		"lib/modules/6.1.0-50-cloud-amd64/kernel/drivers/net/veth.ko":                  "veth .ko",
		"lib/modules/6.1.0-50-cloud-amd64/kernel/net/netfilter/xt_TCPOPTSTRIP.ko":      "xt_TCPOPTSTRIP .ko",
		"lib/modules/6.1.0-50-cloud-amd64/kernel/net/ipv6/netfilter/nf-defrag-ipv6.ko": "nf_defrag_ipv6 .ko",
		"lib/modules/6.1.0-50-cloud-amd64/kernel/net/ipv4/inet_diag.ko.gz":             "",
		"lib/modules/6.1.0-50-cloud-amd64/modules.order":                               "",
		"usr/share/doc/inet_diag.ko":                                                   "",
	} {
		m, suffix, ok := moduleFile(name)
		if got := strings.TrimSpace(m + " " + suffix); got != want || ok != (want != "") {
			t.Errorf("moduleFile(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

// The modules are loaded each after what it depends on, as .modinfo's
// depends= says; a wanted module the package lacks is reported, one
// another needs fails the fetch.
func TestSelectModules(t *testing.T) {
	gcc, err := exec.LookPath("cc")
	if err != nil {
		testenv.SkipOrFail(t, "needs a C compiler (Debian package build-essential) to make ELF objects with a .modinfo section: %v", err)
	}
	all, dir := t.TempDir(), t.TempDir()
	obj := func(name, depends string) {
		src := filepath.Join(t.TempDir(), name+".c")
		code := fmt.Sprintf("__attribute__((section(\".modinfo\"), used)) static const char info[] = \"license=GPL\\0depends=%s\\0name=%s\";\n", depends, name)
		if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(gcc, "-c", "-o", filepath.Join(all, name+".ko"), src).CombinedOutput(); err != nil {
			t.Fatalf("cc: %v\n%s", err, out)
		}
	}
	obj("x_tables", "")
	obj("ip_tables", "x_tables")
	obj("iptable_mangle", "ip_tables,x_tables")
	obj("xt_TCPOPTSTRIP", "x_tables")
	absent, err := selectModules(context.Background(), all, dir, []string{"iptable_mangle", "veth", "xt_TCPOPTSTRIP"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(absent) != "[veth]" {
		t.Errorf("absent %v, want [veth]", absent)
	}
	order, _ := os.ReadFile(filepath.Join(dir, moduleOrderFile))
	if string(order) != "x_tables\nip_tables\niptable_mangle\nxt_TCPOPTSTRIP\n" {
		t.Errorf("order:\n%s", order)
	}
	obj("broken", "gone")
	if _, err := selectModules(context.Background(), all, t.TempDir(), []string{"broken"}); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("a missing dependency: %v, want an error naming it", err)
	}
}

// Each package's tests are told apart: the root package's by their own
// names, the others' as PACKAGE.Test, and each binary's exit is kept.
func TestParseConsolePackages(t *testing.T) {
	out := "KMATRIX-BOOT release=R expect=6.1\nKMATRIX-PACKAGE name=mptcp\n=== RUN   TestA\n--- PASS: TestA (0.00s)\n" +
		"KMATRIX-PACKAGE-EXIT name=mptcp code=0\nKMATRIX-PACKAGE name=diag\n=== RUN   TestA\n    a_test.go:1: boom\n--- FAIL: TestA (0.00s)\n" +
		"KMATRIX-PACKAGE-EXIT name=diag code=1\nKMATRIX-EXIT code=1\n"
	r := parseConsole(out)
	a, _ := r.test("TestA")
	d, _ := r.test("diag.TestA")
	if a.Status != "PASS" || d.Status != "FAIL" || d.Reason != "boom" {
		t.Errorf("TestA %+v, diag.TestA %+v", a, d)
	}
	if fmt.Sprint(r.Packages) != "[{mptcp 0 0s} {diag 1 0s}]" || r.Exit != 1 {
		t.Errorf("packages %v, exit %d", r.Packages, r.Exit)
	}
}

func TestParseLdd(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007fc53fa03000)\n" +
		"\tlibbpf.so.1 => /lib/x86_64-linux-gnu/libbpf.so.1 (0x00007fc53f8a2000)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fc53f679000)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007fc53fa05000)\n"
	got := parseLdd(out)
	want := []string{"/lib/x86_64-linux-gnu/libbpf.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseLdd = %q, want %q", got, want)
	}
}

// The machines get every tool the tests run, iptables by the name the
// multi-call binary answers to, with the loader and libraries ldd names.
func TestToolFiles(t *testing.T) {
	files, err := toolFiles(context.Background())
	if isMissing(err) {
		testenv.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]hostFile{}
	for _, f := range files {
		have[f.Dst] = f
	}
	for _, tool := range vmTools {
		if _, ok := have["bin/"+tool.name]; !ok {
			t.Errorf("no bin/%s in the machines", tool.name)
		}
	}
	if l := have["bin/iptables"].Link; l != "xtables-legacy-multi" {
		t.Errorf("bin/iptables links to %q, want xtables-legacy-multi", l)
	}
	var loader, tcpExt bool
	for dst := range have {
		loader = loader || strings.HasPrefix(path.Base(dst), "ld-linux")
		tcpExt = tcpExt || path.Base(dst) == "libxt_tcp.so"
	}
	if !loader || !tcpExt {
		t.Errorf("dynamic loader %v, iptables' tcp extension %v; want both", loader, tcpExt)
	}
}
