//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing off Linux, where the matrix does not run.
func dieWithParent(*exec.Cmd) {}

// yieldCPU does nothing off Linux.
func yieldCPU(int) {}

// ownProcessGroup does nothing off Linux.
func ownProcessGroup(*exec.Cmd) {}
