//go:build linux

// Command vminit is the /init of the kernel matrix's virtual machines
// (see package internal/kmatrix). The kernel runs it as process 1 from
// the initramfs. It prepares the little a Go test binary needs (/proc,
// /sys, /dev, /tmp, loopback up, MPTCP on where the kernel has it), runs
// each test binary of /kmatrix/test (NN-NAME.test, in name order: one per
// package that talks to the kernel) with -test.v inside /kmatrix/pkg/NAME,
// prints lines the harness parses on the serial console, and powers the
// machine off.
//
// Settings come from the kernel command line:
//
//	kmatrix.expect=6.1       passed to the tests as MPTCP_KMATRIX_EXPECT
//	kmatrix.timeout=600s     all the test binaries' time, shared; each is killed 30 s after its -test.timeout
//	kmatrix.run=REGEXP       the test binaries' -test.run (default: every test)
//	kmatrix.skip=REGEXP      the test binaries' -test.skip
//	kmatrix.skip.NAME=REGEXP more of it for the tests of package NAME
//
// Before the tests it loads the kernel modules the harness put in
// /kmatrix/modules (Debian builds them as modules: socket diagnostics,
// veth, qdiscs, iptables), in the order /kmatrix/modules/order lists
// them, one "vminit: module" line each; where there is no such directory
// (the kernel has the code built in) it loads nothing. The tests find
// the module's prebuilt commands in /kmatrix/cmd (MPTCP_TEST_COMMANDS)
// and the host's tools (ip, ss, tc, iptables) in /bin.
//
// Lines for the harness start with "KMATRIX-": KMATRIX-BOOT once the
// machine is ready, KMATRIX-PACKAGE before each test binary and
// KMATRIX-PACKAGE-EXIT with its exit code and time, KMATRIX-EXIT with the first
// exit code that is not 0 (or 0), and KMATRIX-ERROR when the init itself
// fails.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	testBinaries = "/kmatrix/test/*.test"
	testDirs     = "/kmatrix/pkg"     // one directory a package: its testdata lives there
	modulesDir   = "/kmatrix/modules" // the kernel modules to load, and their order
	commandsDir  = "/kmatrix/cmd"     // the module's commands, for the tests that run them
)

func main() {
	code := run()
	fmt.Printf("KMATRIX-EXIT code=%d\n", code)
	os.Stdout.Sync()
	unix.Sync()
	// Power off; if that fails, returning from process 1 panics the
	// kernel, and panic=-1 with qemu's -no-reboot ends the machine too.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Printf("KMATRIX-ERROR power off: %v\n", err)
	}
	select {}
}

func run() int {
	if err := setup(); err != nil {
		fmt.Printf("KMATRIX-ERROR setup: %v\n", err)
		return 125
	}
	loadModules()
	params := cmdline()
	timeout, err := time.ParseDuration(params["kmatrix.timeout"])
	if err != nil || timeout <= 0 {
		timeout = 10 * time.Minute
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	mptcpSysctl := "absent"
	if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err == nil {
		mptcpSysctl = "1"
	}
	fmt.Printf("KMATRIX-BOOT release=%s expect=%s net.mptcp.enabled=%s\n",
		unix.ByteSliceToString(uts.Release[:]), params["kmatrix.expect"], mptcpSysctl)

	bins, _ := filepath.Glob(testBinaries) // sorted
	if len(bins) == 0 {
		fmt.Printf("KMATRIX-ERROR no test binary in %s\n", testBinaries)
		return 125
	}
	deadline := time.Now().Add(timeout)
	code := 0
	for _, bin := range bins {
		_, name, _ := strings.Cut(strings.TrimSuffix(filepath.Base(bin), ".test"), "-")
		fmt.Printf("KMATRIX-PACKAGE name=%s\n", name)
		t0 := time.Now()
		c := runTests(bin, filepath.Join(testDirs, name), time.Until(deadline), params)
		fmt.Printf("KMATRIX-PACKAGE-EXIT name=%s code=%d elapsed=%s\n", name, c, time.Since(t0).Round(time.Second))
		if code == 0 {
			code = c
		}
	}
	return code
}

// runTests runs one test binary in dir and returns its exit code.
func runTests(bin, dir string, timeout time.Duration, params map[string]string) int {
	if timeout < time.Second {
		fmt.Printf("KMATRIX-ERROR %s: no time left\n", bin)
		return 124
	}
	args := []string{"-test.v", "-test.count=1", "-test.timeout=" + timeout.Round(time.Second).String()}
	if r := params["kmatrix.run"]; r != "" {
		args = append(args, "-test.run="+r)
	}
	skip := params["kmatrix.skip"]
	if s := params["kmatrix.skip."+filepath.Base(dir)]; s != "" {
		if skip != "" {
			skip += "|"
		}
		skip += s
	}
	if skip != "" {
		args = append(args, "-test.skip="+skip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	cmd.Env = []string{
		"PATH=/bin",
		"MPTCP_TEST_COMMANDS=" + commandsDir,
		"HOME=/root",
		"TMPDIR=/tmp",
		"GOTRACEBACK=all",
		"MPTCP_KMATRIX_EXPECT=" + params["kmatrix.expect"],
	}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Printf("KMATRIX-ERROR test binary killed after %v\n", timeout+30*time.Second)
		return 124
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode()
	default:
		fmt.Printf("KMATRIX-ERROR test binary: %v\n", err)
		return 126
	}
}

// setup mounts what a test binary expects and brings loopback up.
func setup() error {
	for _, m := range []struct{ fstype, target string }{
		{"proc", "/proc"},
		{"sysfs", "/sys"},
		{"devtmpfs", "/dev"},
		{"tmpfs", "/tmp"},
		{"tmpfs", "/run"},
	} {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	os.Chmod("/tmp", 0o1777)
	// Keep kernel messages off the console the harness parses; a panic
	// still shows.
	os.WriteFile("/proc/sys/kernel/printk", []byte("1"), 0o644)
	if err := linkUp("lo"); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	// MPTCP is on by default where the kernel has it; make sure.
	if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err == nil {
		if err := os.WriteFile("/proc/sys/net/mptcp/enabled", []byte("1"), 0o644); err != nil {
			return fmt.Errorf("net.mptcp.enabled=1: %w", err)
		}
	}
	return nil
}

// loadModules loads the modules modulesDir's order file lists, in that
// order: each after what it depends on. A module that fails to load is
// reported, not fatal: the tests that need it say what is missing.
func loadModules() {
	order, err := os.ReadFile(modulesDir + "/order")
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		fmt.Printf("vminit: modules: %v\n", err)
		return
	}
	for _, m := range strings.Fields(string(order)) {
		name := modulesDir + "/" + m + ".ko"
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = unix.FinitModule(int(f.Fd()), "", 0)
			f.Close()
		}
		if err != nil {
			fmt.Printf("vminit: module %s: not loaded: %v\n", m, err)
			continue
		}
		fmt.Printf("vminit: module %s: loaded\n", m)
	}
}

func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// cmdline returns the key=value words of the kernel command line.
func cmdline() map[string]string {
	b, _ := os.ReadFile("/proc/cmdline")
	m := make(map[string]string)
	for _, w := range strings.Fields(string(b)) {
		if k, v, ok := strings.Cut(w, "="); ok {
			m[k] = v
		}
	}
	return m
}
