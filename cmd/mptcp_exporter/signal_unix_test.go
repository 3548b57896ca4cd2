//go:build unix

package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM shuts the exporter down cleanly: exit status 0, and it says so.
func TestSIGTERM(t *testing.T) {
	e := startExporter(t)
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the exporter still runs 10 s after SIGTERM")
	}
	if e.waitErr != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", e.waitErr)
	}
	if log := e.Log(); !strings.Contains(log, "Shutting down") {
		t.Errorf("no shutdown in the log:\n%s", log)
	}
}
