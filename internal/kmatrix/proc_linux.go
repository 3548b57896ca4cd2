package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd's process when this one dies,
// so that no virtual machine outlives an interrupted run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// yieldCPU lowers the process's scheduling priority (nice 10), so that
// machines booted while other tests run on the host (go test ./...) take
// only the CPU time those tests leave.
func yieldCPU(pid int) {
	syscall.Setpriority(syscall.PRIO_PROCESS, pid, 10)
}

// ownProcessGroup puts cmd in a process group of its own, killed whole
// when cmd's context ends (make's compilers with make), and kills cmd
// when this process dies.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
