//go:build linux

package testbed

import (
	"strconv"
	"strings"
)

// SYNs counts the connection requests (SYN without ACK) a namespace sent.
type SYNs struct {
	MPTCP int // with the MPTCP option (MP_CAPABLE, or MP_JOIN)
	Plain int // without it: plain TCP
}

// CountSYNs counts, from now on, the SYNs ns sends, IPv4 and IPv6, with
// and without the MPTCP option (TCP option 30), and returns a function
// that reads the counts. The counters sit in the raw table's OUTPUT
// chain, which packets cross before the mangle table's: they see what the
// namespace's sockets sent, before a middlebox rule of the namespace
// itself (StripMPTCPOption) touches it. It needs iptables.
func (n *NS) CountSYNs() func() SYNs {
	n.t.Helper()
	Require(n.t, "iptables")
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for _, r := range []struct{ not, comment string }{{"", synMPTCP}, {"!", synPlain}} {
			args := []string{"-t", "raw", "-A", "OUTPUT", "-p", "tcp", "--syn", "-m", "tcp"}
			if r.not != "" {
				args = append(args, r.not)
			}
			n.Run(cmd, append(args, "--tcp-option", "30", "-m", "comment", "--comment", r.comment)...)
		}
	}
	return func() SYNs {
		n.t.Helper()
		var s SYNs
		for _, cmd := range []string{"iptables", "ip6tables"} {
			// -S -v ends each rule with "-c PACKETS BYTES".
			for _, line := range strings.Split(n.Run(cmd, "-t", "raw", "-S", "OUTPUT", "-v"), "\n") {
				f := strings.Fields(line)
				if len(f) < 3 || f[len(f)-3] != "-c" {
					continue
				}
				pkts, err := strconv.Atoi(f[len(f)-2])
				if err != nil {
					n.t.Fatalf("testbed: %s -S: %q: %v", cmd, line, err)
				}
				switch {
				case strings.Contains(line, synMPTCP):
					s.MPTCP += pkts
				case strings.Contains(line, synPlain):
					s.Plain += pkts
				}
			}
		}
		return s
	}
}

// The comments that name CountSYNs's rules.
const (
	synMPTCP = "testbed-syn-mptcp"
	synPlain = "testbed-syn-plain"
)
