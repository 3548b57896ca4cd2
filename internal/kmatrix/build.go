package main

// Building a kernel from a Debian kernel source package. Debian ships no
// kernel of 5.6 - 5.15 with MPTCP on (Debian 11's 5.10 has it off), yet
// those are the kernels that have MPTCP sockets but no SOL_MPTCP; the
// matrix builds one from Debian 11's linux-source-5.10 (KERNEL.md,
// "Building a 5.10 kernel with MPTCP"): about 5 minutes of make on two
// cores, once per source package version.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// buildOptions are the options set on top of make tinyconfig: what boots
// in qemu with a serial console and an initramfs, runs a static Go test
// binary, and has what the package's tests use.
var buildOptions = []string{
	// A 64-bit kernel, its console and its initramfs.
	"64BIT", "PRINTK", "TTY", "SERIAL_8250", "SERIAL_8250_CONSOLE", "BLK_DEV_INITRD", "RD_GZIP", "BINFMT_ELF",
	// What a Go program and vminit need of the system.
	"PROC_FS", "SYSFS", "DEVTMPFS", "TMPFS", "FUTEX", "EPOLL", "SIGNALFD", "TIMERFD", "EVENTFD", "SHMEM",
	"MULTIUSER", "PROC_SYSCTL",
	// flock(2): iptables takes its lock (/run/xtables.lock) with it.
	"FILE_LOCKING",
	// IPv4 and IPv6, MPTCP and the socket diagnostics of both (ss -M).
	"NET", "INET", "IPV6", "UNIX", "PACKET", "INET_DIAG", "INET_TCP_DIAG", "MPTCP", "MPTCP_IPV6",
	// What the test bed builds networks with: namespaces joined by veth
	// links, shaped by tc, routed by source address (ip rule)...
	"NAMESPACES", "NET_NS", "NETDEVICES", "VETH", "NET_SCHED", "NET_SCH_TBF", "NET_SCH_NETEM",
	"IP_ADVANCED_ROUTER", "IP_MULTIPLE_TABLES", "IPV6_MULTIPLE_TABLES",
	// ... and firewalled by iptables (legacy, x_tables, as the machines'
	// iptables is; vmModules): the filter, mangle and raw tables, the tcp
	// match (NETFILTER_XTABLES), the comment match and the target that
	// strips the MPTCP option.
	"NETFILTER", "NETFILTER_ADVANCED", "NETFILTER_XTABLES", "NETFILTER_XT_MATCH_COMMENT", "NETFILTER_XT_TARGET_TCPOPTSTRIP",
	"IP_NF_IPTABLES", "IP_NF_FILTER", "IP_NF_MANGLE", "IP_NF_RAW",
	"IP6_NF_IPTABLES", "IP6_NF_FILTER", "IP6_NF_MANGLE", "IP6_NF_RAW",
	// nftables, for the rule that rewrites payload bytes on a path.
	"NF_TABLES", "NF_TABLES_INET", "NF_TABLES_IPV4", "NF_TABLES_IPV6",
	// Per-thread I/O accounting (/proc/thread-self/io): the zero-copy
	// tests measure with it, and skip without it.
	"TASKSTATS", "TASK_XACCT", "TASK_IO_ACCOUNTING",
	// Power off: with ACPI but no PCI, qemu's ACPI tables fail to load and
	// reboot(POWER_OFF) only halts, so qemu never exits.
	"ACPI", "PCI",
}

// impliedOptions are not set, but must follow from buildOptions:
// mptcp_diag (sock_diag for MPTCP) comes with INET_DIAG and MPTCP.
var impliedOptions = []string{"INET_MPTCP_DIAG"}

// buildLocalVersion ends the built kernel's release ("5.10.223-mptcp"),
// so that it is never taken for Debian's own.
const buildLocalVersion = "-mptcp"

// builtOptions are the options a built kernel's config must have =y.
func builtOptions() []string {
	return append(slices.Clone(buildOptions), impliedOptions...)
}

// buildRecipe names the way kernels are configured and built here: a
// cached kernel built by another recipe is built again.
func buildRecipe() string {
	h := sha256.Sum256([]byte("tinyconfig " + strings.Join(buildOptions, " ") +
		" LOCALVERSION=" + buildLocalVersion + " bzImage"))
	return "tinyconfig-" + hex.EncodeToString(h[:6])
}

// buildTools are what building a kernel needs, and the Debian package of
// each: a program on PATH, or a header file where the name is a path.
var buildTools = []struct{ name, pkg string }{
	{"make", "build-essential"},
	{"gcc", "build-essential"},
	{"ld", "build-essential"},
	{"flex", "flex"},
	{"bison", "bison"},
	{"bc", "bc"},
	{"perl", "perl"},
	{"tar", "tar"},
	{"xz", "xz-utils"},
	{"/usr/include/libelf.h", "libelf-dev"},
	{"/usr/include/openssl/opensslv.h", "libssl-dev"},
}

// missingBuildTools returns the build tools this machine lacks, and the
// Debian packages that hold them.
func missingBuildTools() (tools, pkgs []string) {
	for _, t := range buildTools {
		var err error
		if strings.HasPrefix(t.name, "/") {
			_, err = os.Stat(t.name)
		} else {
			_, err = exec.LookPath(t.name)
		}
		if err != nil {
			tools = append(tools, t.name)
			if !slices.Contains(pkgs, t.pkg) {
				pkgs = append(pkgs, t.pkg)
			}
		}
	}
	return tools, pkgs
}

// build returns spec's kernel built from its source package, from the
// cache when the cached one was built from the suite's current version
// of the package by the current recipe: then nothing is built.
func (f *fetcher) build(ctx context.Context, spec kernelSpec, dir string, cached *kernel) (*kernel, error) {
	if runtime.GOARCH != "amd64" {
		return nil, missingf("building the %s kernel needs an amd64 host (no cross-compiler is set up)", spec.Name)
	}
	a, err := f.openApt(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer a.remove()
	out, err := a.run(ctx, "apt-cache", "show", "--no-all-versions", spec.Source)
	if err != nil {
		return nil, missingf("no %s in %s: %v\n%s", spec.Source, spec.Suite, err, lastLines(out, 5))
	}
	version, ok := parseVersion(string(out))
	if !ok {
		return nil, fmt.Errorf("apt-cache show %s: no Version line:\n%s", spec.Source, lastLines(out, 10))
	}
	now := time.Now().UTC().Truncate(time.Second)
	if cached != nil && cached.Version == version {
		f.logf("%s: the cached kernel %s is built from %s %s, the current version: not building", spec.Name, cached.Release, spec.Source, version)
		cached.Fetched = now
		return cached, writeKernelJSON(dir, cached)
	}
	if tools, pkgs := missingBuildTools(); len(tools) > 0 {
		return nil, missingf("cannot build the %s kernel from %s: %s not found (Debian: apt-get install %s)",
			spec.Name, spec.Source, strings.Join(tools, ", "), strings.Join(pkgs, " "))
	}
	deb, err := a.download(ctx, spec, spec.Source, version)
	if err != nil {
		return nil, err
	}

	t0 := time.Now()
	tmp, err := os.MkdirTemp(f.cacheDir, "build-"+spec.Name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	f.logf("%s: unpacking %s", spec.Name, filepath.Base(deb))
	src, err := unpackSource(ctx, deb, filepath.Join(tmp, "src"))
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", filepath.Base(deb), err)
	}
	os.Remove(deb)
	jobs := runtime.NumCPU()
	f.logf("%s: unpacked in %v; building %s %s (make tinyconfig, then make -j%d bzImage: about 5 minutes on 2 cores)",
		spec.Name, time.Since(t0).Round(time.Second), spec.Source, version, jobs)
	logPath := filepath.Join(tmp, "build.log")
	release, err := makeKernel(ctx, src, logPath, jobs)
	if err != nil {
		return nil, fmt.Errorf("building the %s kernel from %s %s: %w", spec.Name, spec.Source, version, err)
	}
	kdir := filepath.Join(tmp, "kernel")
	if err := os.Mkdir(kdir, 0o755); err != nil {
		return nil, err
	}
	for _, c := range []struct{ from, to string }{
		{filepath.Join(src, "arch/x86/boot/bzImage"), "vmlinuz"},
		{filepath.Join(src, ".config"), "config"},
		{logPath, "build.log"},
	} {
		if err := copyFile(c.from, filepath.Join(kdir, c.to)); err != nil {
			return nil, err
		}
	}
	k := &kernel{
		Spec: spec, Package: spec.Source, Version: version, Release: release,
		Vmlinuz: filepath.Join(kdir, "vmlinuz"), Config: filepath.Join(kdir, "config"),
		Fetched: now, Recipe: buildRecipe(),
	}
	if k, err = installKernel(k, kdir, dir); err != nil {
		return nil, err
	}
	k.Built = time.Since(t0)
	f.logf("%s: built %s in %v", spec.Name, k.Release, k.Built.Round(time.Second))
	return k, nil
}

// parseVersion reads the Version line of apt-cache show.
func parseVersion(show string) (string, bool) {
	m := regexp.MustCompile(`(?m)^Version: (\S+)$`).FindStringSubmatch(show)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// unpackSource unpacks the kernel source tarball that a linux-source
// package holds (/usr/src/linux-source-*.tar.xz) into dir, and returns the
// directory of the source tree.
func unpackSource(ctx context.Context, deb, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var tarball string
	err := readDeb(ctx, deb, func(r io.Reader) (err error) {
		tarball, err = extractSourceTarball(r, filepath.Dir(dir))
		return err
	})
	if err != nil {
		return "", err
	}
	defer os.Remove(tarball)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tar", "-xJf", tarball, "--no-same-owner", "-C", dir)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar -xJf %s: %v\n%s", filepath.Base(tarball), err, lastLines(out, 10))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) != 1 || !entries[0].IsDir() {
		return "", fmt.Errorf("%s holds %d entries, want one source directory", filepath.Base(tarball), len(entries))
	}
	src := filepath.Join(dir, entries[0].Name())
	if _, err := os.Stat(filepath.Join(src, "Makefile")); err != nil {
		return "", fmt.Errorf("no kernel source tree in %s: %w", filepath.Base(tarball), err)
	}
	return src, nil
}

// extractSourceTarball writes the usr/src/linux-source-*.tar.* file of a
// package's tar archive into dir, and returns its path.
func extractSourceTarball(r io.Reader, dir string) (string, error) {
	re := regexp.MustCompile(`^usr/src/(linux-source-[^/]+\.tar\.[a-z0-9]+)$`)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", errors.New("no usr/src/linux-source-*.tar.* in the package")
		}
		if err != nil {
			return "", err
		}
		m := re.FindStringSubmatch(strings.TrimPrefix(h.Name, "./"))
		if m == nil || h.Typeflag != tar.TypeReg {
			continue
		}
		dst := filepath.Join(dir, m[1])
		w, err := os.Create(dst)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(w, io.LimitReader(tr, 4<<30))
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		return dst, err
	}
}

// makeKernel configures and builds the kernel in src, logging make's
// output to logPath, and returns the kernel's release.
func makeKernel(ctx context.Context, src, logPath string, jobs int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logFile.Close()
	runMake := func(stdout io.Writer, args ...string) error {
		// ARCH on the command line: a 64-bit x86 kernel whatever the
		// environment says; the environment is cleaned of what else
		// steers kbuild.
		args = append([]string{"-C", src, "ARCH=x86_64"}, args...)
		fmt.Fprintf(logFile, "\n$ make %s\n", strings.Join(args, " "))
		t0 := time.Now()
		defer func() { fmt.Fprintf(logFile, "# make %s: %v\n", args[len(args)-1], time.Since(t0).Round(time.Second)) }()
		cmd := exec.CommandContext(ctx, "make", args...)
		cmd.Env = makeEnv(os.Environ())
		var tail tailBuffer
		cmd.Stdout = io.MultiWriter(stdout, &tail)
		cmd.Stderr = io.MultiWriter(logFile, &tail)
		cmd.WaitDelay = 10 * time.Second
		ownProcessGroup(cmd)
		err := cmd.Start()
		if err == nil {
			yieldCPU(cmd.Process.Pid)
			err = cmd.Wait()
		}
		if err != nil {
			return fmt.Errorf("make %s: %v\n%s", strings.Join(args[3:], " "), err, tail.lastLines(25))
		}
		return nil
	}
	if err := runMake(logFile, "tinyconfig"); err != nil {
		return "", err
	}
	cfgPath := filepath.Join(src, ".config")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", err
	}
	cfg = setOptions(cfg, buildOptions, map[string]string{"LOCALVERSION": strconv.Quote(buildLocalVersion)})
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return "", err
	}
	if err := runMake(logFile, "olddefconfig"); err != nil {
		return "", err
	}
	if cfg, err = os.ReadFile(cfgPath); err != nil {
		return "", err
	}
	if missing := missingOptions(cfg, builtOptions()); len(missing) > 0 {
		return "", fmt.Errorf("after make olddefconfig these options are not =y (a dependency is off): %s", strings.Join(missing, " "))
	}
	if err := runMake(logFile, "-j"+strconv.Itoa(jobs), "bzImage"); err != nil {
		return "", err
	}
	var rel bytes.Buffer
	if err := runMake(&rel, "-s", "--no-print-directory", "kernelrelease"); err != nil {
		return "", err
	}
	release := strings.TrimSpace(rel.String())
	if strings.ContainsAny(release, " \n") || !strings.HasSuffix(release, buildLocalVersion) {
		return "", fmt.Errorf("make kernelrelease says %q, want a release ending in %s", release, buildLocalVersion)
	}
	return release, nil
}

// makeEnv is the environment for make: env without the variables that
// would change what kbuild builds or where.
func makeEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "KBUILD_"), strings.HasPrefix(k, "KCONFIG_"),
			slices.Contains([]string{"ARCH", "SUBARCH", "CROSS_COMPILE", "O", "LOCALVERSION", "CC", "LD",
				"CFLAGS", "KCFLAGS", "KCPPFLAGS", "LDFLAGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "LC_ALL"}, k):
			continue
		}
		out = append(out, kv)
	}
	// The build's user and host go into the kernel's version string.
	return append(out, "LC_ALL=C", "KBUILD_BUILD_USER=kmatrix", "KBUILD_BUILD_HOST=kmatrix")
}

// setOptions sets each option of enable to y, and each of values to its
// value, in a kernel config: existing lines for them, set or "is not
// set", are replaced.
func setOptions(cfg []byte, enable []string, values map[string]string) []byte {
	want := map[string]string{}
	var order []string
	for _, o := range enable {
		want[o] = "y"
		order = append(order, o)
	}
	for _, o := range slices.Sorted(maps.Keys(values)) {
		want[o] = values[o]
		order = append(order, o)
	}
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name := configLineOption(line); name != "" {
			if _, ok := want[name]; ok {
				continue
			}
		}
		b.WriteString(line + "\n")
	}
	for _, o := range order {
		fmt.Fprintf(&b, "CONFIG_%s=%s\n", o, want[o])
	}
	return b.Bytes()
}

// configLineOption returns the option a config line sets ("CONFIG_X=v"
// or "# CONFIG_X is not set"), without its prefix, or "".
func configLineOption(line string) string {
	if rest, ok := strings.CutPrefix(line, "CONFIG_"); ok {
		name, _, _ := strings.Cut(rest, "=")
		return name
	}
	if rest, ok := strings.CutPrefix(line, "# CONFIG_"); ok {
		if name, ok := strings.CutSuffix(rest, " is not set"); ok {
			return name
		}
	}
	return ""
}

// missingOptions returns the options that are not =y in a config.
func missingOptions(cfg []byte, options []string) []string {
	set := map[string]bool{}
	for _, line := range strings.Split(string(cfg), "\n") {
		if rest, ok := strings.CutPrefix(line, "CONFIG_"); ok {
			if name, v, _ := strings.Cut(rest, "="); v == "y" {
				set[name] = true
			}
		}
	}
	var missing []string
	for _, o := range options {
		if !set[o] {
			missing = append(missing, o)
		}
	}
	return missing
}

// copyFile copies a regular file.
func copyFile(from, to string) error {
	r, err := os.Open(from)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// tailBuffer keeps the last 64 KiB written to it. A command's stdout
// and stderr write to it from two goroutines.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	const keep = 64 << 10
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > keep {
		t.b = append(t.b[:0], t.b[len(t.b)-keep:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLines(t.b, n)
}
