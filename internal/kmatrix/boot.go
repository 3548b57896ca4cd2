package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// qemuBinary is the emulator the matrix boots kernels with.
const qemuBinary = "qemu-system-x86_64"

// qemuVersion returns the first line of qemu --version.
func qemuVersion(ctx context.Context, qemu string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, qemu, "--version").Output()
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// bootArgs returns qemu's command line for one machine. KVM fails on the
// machines this runs on (nested virtualisation lacks what the kernels
// need), so the CPU is emulated (TCG). The machine has no disk, no
// network card (-nic none: its only network is its own loopback) and no
// display: the initramfs is its whole world and the serial console its
// only output.
func bootArgs(vmlinuz, initrd, appendLine string) []string {
	return []string{
		"-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "512",
		"-kernel", vmlinuz, "-initrd", initrd,
		"-append", appendLine,
		"-nographic", "-no-reboot", "-nic", "none",
	}
}

// kernelCmdline is what the kernel and the init are told.
// skips are -test.skip patterns by package: the key "" holds those of
// every package (kmatrix.skip), another those of the package it names
// (kmatrix.skip.NAME).
func kernelCmdline(expect string, testTimeout time.Duration, run string, skips map[string]string) string {
	s := fmt.Sprintf("console=ttyS0 rdinit=/init panic=-1 quiet kmatrix.expect=%s kmatrix.timeout=%s", expect, testTimeout)
	if run != "" {
		s += " kmatrix.run=" + run
	}
	for _, pkg := range slices.Sorted(maps.Keys(skips)) {
		if skips[pkg] == "" {
			continue
		}
		if pkg == "" {
			s += " kmatrix.skip=" + skips[pkg]
		} else {
			s += " kmatrix.skip." + pkg + "=" + skips[pkg]
		}
	}
	return s
}

// boot runs one machine until it powers off or timeout passes, copying
// its serial console to log. It returns the console output.
func boot(ctx context.Context, qemu string, args []string, timeout time.Duration, log io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.Stdin = nil // /dev/null: qemu must not touch a terminal
	cmd.Stdout = io.MultiWriter(&out, log)
	cmd.Stderr = io.MultiWriter(&out, log)
	cmd.WaitDelay = 10 * time.Second
	dieWithParent(cmd)
	err := cmd.Start()
	if err == nil {
		yieldCPU(cmd.Process.Pid)
		err = cmd.Wait()
	}
	if ctx.Err() == context.DeadlineExceeded {
		return out.String(), fmt.Errorf("the machine did not power off within %v: killed", timeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w", qemu, err)
	}
	return out.String(), nil
}

// runOnHost runs the test binaries directly on this machine, each in its
// package's directory, as the matrix's row for the host's own kernel, and
// returns what the init would have printed in a machine.
func runOnHost(ctx context.Context, tests []packageTest, moduleDir, expect string, timeout time.Duration, run, skip string, log io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	var out bytes.Buffer
	w := io.MultiWriter(&out, log)
	var uts string
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		uts = strings.TrimSpace(string(b))
	}
	fmt.Fprintf(w, "KMATRIX-BOOT release=%s expect=%s\n", uts, expect)
	deadline := time.Now().Add(timeout)
	code := 0
	for _, pt := range tests {
		args := []string{"-test.v", "-test.count=1", "-test.timeout=" + time.Until(deadline).Round(time.Second).String()}
		if run != "" {
			args = append(args, "-test.run="+run)
		}
		if skip != "" {
			args = append(args, "-test.skip="+skip)
		}
		fmt.Fprintf(w, "KMATRIX-PACKAGE name=%s\n", pt.Name)
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, pt.Binary, args...)
		cmd.Dir = filepath.Join(moduleDir, pt.Dir)
		cmd.Env = append(os.Environ(), "MPTCP_KMATRIX_EXPECT="+expect)
		cmd.Stdout, cmd.Stderr = w, w
		cmd.WaitDelay = 10 * time.Second
		dieWithParent(cmd)
		err := cmd.Run()
		c := 0
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Exited():
			c = ee.ExitCode()
		default:
			return out.String(), err
		}
		fmt.Fprintf(w, "KMATRIX-PACKAGE-EXIT name=%s code=%d elapsed=%s\n", pt.Name, c, time.Since(t0).Round(time.Second))
		if code == 0 {
			code = c
		}
	}
	fmt.Fprintf(w, "KMATRIX-EXIT code=%d\n", code)
	return out.String(), nil
}
