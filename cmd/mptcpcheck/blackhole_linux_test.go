package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// The server's host drops SYNs that carry the MPTCP option. The client's
// first connection retransmits its MPTCP SYN, retries as plain TCP and
// gets through, which trips the kernel's blackhole detection (6.12+): the
// namespace's later connections do not even offer MPTCP. why names the
// detection for the first connection and the next, doctor reports it as
// a problem (status 1), and both say how long it lasts and how to end
// it; the sysctl they name ends it.
func TestBlackholeDetection(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/mptcp/blackhole_timeout"); err != nil {
		testenv.SkipKernelLacks(t, "MPTCP blackhole detection (net.mptcp.blackhole_timeout)", "6.12")
	}
	b := testbed.New(t, 1)
	testbed.Require(t, "iptables")
	b.Server.Run("iptables", "-A", "INPUT", "-p", "tcp", "--syn", "-m", "tcp", "--tcp-option", "30", "-j", "DROP")
	addr := bannerServer(t, b, true, "hello\n")

	// The SYNs dropped: 2 retransmissions (about 3 s), then plain TCP.
	rep := whyIn(t, b.Client, addr)
	wantCodes(t, rep, "option-stripped", "blackhole")
	if msg := rep.Explanations[1].Message; !strings.Contains(msg, "for 1h0m0s from now") {
		t.Errorf("blackhole: does not say how long it lasts: %s", msg)
	}

	// The next connection: the kernel never offers MPTCP.
	rep = whyIn(t, b.Client, addr)
	wantCodes(t, rep, "blackhole")
	e := rep.Explanations[0]
	all := e.Message + "\n" + strings.Join(e.Evidence, "\n")
	for _, want := range []string{"blackhole detection", "for 1h0m0s", "sysctl -w net.mptcp.blackhole_timeout=3600",
		"net.mptcp.blackhole_timeout=0", "MPTCP socket", "fell back before"} {
		if !strings.Contains(all, want) {
			t.Errorf("blackhole: %q missing from\n%s", want, all)
		}
	}
	if e.Inference {
		t.Error("blackhole: the probe and the connection's own socket show it, yet it is marked an inference")
	}
	if strings.Contains(all, "plain TCP socket") {
		t.Errorf("blackhole: calls the fallen-back MPTCP socket a plain TCP socket:\n%s", all)
	}

	code, out := doctorIn(t, b.Client, "-json")
	var doc doctorReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor -json: %v\n%s", err, out)
	}
	problems := strings.Join(doc.Host.Problems, "\n")
	if code != exitFail || !strings.Contains(problems, "blackhole detection") ||
		!strings.Contains(problems, "for 1h0m0s after it tripped") || !strings.Contains(problems, "sysctl -w net.mptcp.blackhole_timeout=3600") {
		t.Errorf("doctor with the blackhole detection on: status %d, want %d and the detection named\n%s", code, exitFail, out)
	}
	if len(doc.Explanations) != 1 || doc.Explanations[0].Code != "blackhole" {
		t.Errorf("doctor's explanations: %+v; want why's code, blackhole", doc.Explanations)
	}

	// The probe needs no loopback: with it down, the same verdict.
	b.Client.IP("link", "set", "lo", "down")
	if code, out := doctorIn(t, b.Client); code != exitFail || !strings.Contains(out, "blackhole detection") {
		t.Errorf("doctor with loopback down: status %d, want %d and the detection named\n%s", code, exitFail, out)
	}
	b.Client.IP("link", "set", "lo", "up")

	// The fix doctor names: writing the sysctl ends the period.
	b.Client.Sysctl("net.mptcp.blackhole_timeout", "3600")
	code, out = doctorIn(t, b.Client)
	if code != exitOK || !strings.Contains(out, "tripped 1 times") {
		t.Errorf("doctor after the sysctl: status %d, want 0 and a note\n%s", code, out)
	}
}
