package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// hostFile is a file of the host that goes into the machines.
type hostFile struct {
	Src  string // on the host
	Dst  string // in the machine, relative to its root
	Mode uint32
	Link string // when set, Dst is a symbolic link to Link and Src is unused
}

// vmTools are the host's programs the machines get in /bin, by the name
// the tests run them by: what the test bed (internal/testbed) and the
// tests themselves exec. The tools that are not there (go, git, curl,
// mptcpize, chromium, promtool, prometheus, systemd-analyze) are left out
// on purpose: they test the toolchain or user space, not the kernel, and
// the tests that need them skip there (allowedSkips).
var vmTools = []struct{ name, program, pkg string }{
	{"ip", "ip", "iproute2"},
	{"ss", "ss", "iproute2"},
	{"tc", "tc", "iproute2"},
	// iptables-legacy: its x_tables rules need fewer kernel modules than
	// nf_tables' (vmModules), and every kernel of the matrix has them.
	{"iptables", "xtables-legacy-multi", "iptables"},
	{"ip6tables", "xtables-legacy-multi", "iptables"},
	// nft: the rule that changes payload bytes on a path.
	{"nft", "nft", "nftables"},
	{"cat", "cat", "coreutils"},
	{"sleep", "sleep", "coreutils"},
}

// xtablesDirs are where iptables finds its extensions (libxt_tcp.so,
// libxt_TCPOPTSTRIP.so...), which it loads by path at run time.
var xtablesDirs = []string{"/usr/lib/x86_64-linux-gnu/xtables", "/usr/lib/xtables", "/usr/lib64/xtables"}

// toolFiles returns what the machines need of the host to run vmTools:
// the programs, under bin, the iptables extensions, and every shared
// library they load (ldd), at the paths the host's loader finds them.
// A missing tool is an errMissing naming the Debian package.
func toolFiles(ctx context.Context) ([]hostFile, error) {
	var files []hostFile
	var binaries []string
	var missing, pkgs []string
	for _, t := range vmTools {
		p, err := lookTool(t.program)
		if err != nil {
			missing = append(missing, t.program)
			if !slices.Contains(pkgs, t.pkg) {
				pkgs = append(pkgs, t.pkg)
			}
			continue
		}
		if !slices.Contains(binaries, p) {
			binaries = append(binaries, p)
			files = append(files, hostFile{Src: p, Dst: path.Join("bin", filepath.Base(p)), Mode: 0o755})
		}
		if filepath.Base(p) != t.name {
			// A multi-call program tells what to be from the name it is run by.
			files = append(files, hostFile{Dst: path.Join("bin", t.name), Link: filepath.Base(p)})
		}
	}
	if len(missing) > 0 {
		return nil, missingf("the machines need the host's %s (Debian: apt-get install %s)", strings.Join(missing, ", "), strings.Join(pkgs, " "))
	}
	for _, dir := range xtablesDirs {
		exts, _ := filepath.Glob(filepath.Join(dir, "*.so"))
		for _, e := range exts {
			files = append(files, hostFile{Src: e, Dst: strings.TrimPrefix(e, "/"), Mode: 0o644})
			binaries = append(binaries, e)
		}
	}
	l, err := sharedLibraries(ctx, binaries)
	if err != nil {
		return nil, err
	}
	libs := map[string]bool{}
	for _, p := range l {
		libs[p] = true
	}
	for _, l := range slices.Sorted(maps.Keys(libs)) {
		files = append(files, hostFile{Src: l, Dst: strings.TrimPrefix(l, "/"), Mode: 0o755})
	}
	return files, nil
}

// lookTool finds a program on PATH or in the system's sbin directories,
// which a PATH without them (a user's) lacks.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// lddLine matches the libraries in ldd's output: "libc.so.6 =>
// /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the loader,
// "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddLine = regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$`)

// sharedLibraries returns the shared libraries bins load, the dynamic
// loader included, as ldd names them: one ldd for them all (a static
// program among them has none).
func sharedLibraries(ctx context.Context, bins []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ldd", bins...).CombinedOutput()
	// ldd exits 1 when one file is not dynamic; what it says decides.
	if err != nil && !strings.Contains(string(out), "not a dynamic executable") {
		return nil, fmt.Errorf("ldd: %v: %s", err, lastLines(out, 10))
	}
	if strings.Contains(string(out), "=> not found") {
		return nil, fmt.Errorf("ldd: a library is missing:\n%s", out)
	}
	return parseLdd(string(out)), nil
}

// parseLdd reads the libraries' paths from ldd's output.
func parseLdd(out string) []string {
	var libs []string
	for _, m := range lddLine.FindAllStringSubmatch(out, -1) {
		libs = append(libs, m[1])
	}
	return libs
}
