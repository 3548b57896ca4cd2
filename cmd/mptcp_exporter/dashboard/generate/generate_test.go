package main

import (
	"bytes"
	"os"
	"testing"
)

// The committed dashboard is what the code generates: a change to the
// code without "go generate" fails here.
func TestCommittedDashboardIsGenerated(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../mptcp.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("../mptcp.json differs from what the code generates (%d bytes, want %d): run go generate in this directory", len(got), len(want))
	}
}
