//go:build linux

package testbed

import (
	"regexp"
	"strconv"
	"strings"
)

// What ss, an independent view of the kernel's sockets, says of the MPTCP
// connections and subflows of a namespace, for tests that compare the
// package's listings with it.

// SSConn is one connection of "ss -MHni".
type SSConn struct {
	State         string // as ss prints it: ESTAB, LISTEN, ...
	RecvQ, SendQ  string // the Recv-Q and Send-Q columns
	Users         string // with -p: "users:((...))", else ""
	Local, Remote string // as ss prints them, without "%DEV"
	Token         string // hexadecimal, without leading zeros
	Fallback      bool
	Subflows      int // additional subflows: ss leaves the count out when it is 0
}

// SSSubflow is one MPTCP subflow of "ss -tHni".
type SSSubflow struct {
	RecvQ, SendQ       string // the Recv-Q and Send-Q columns
	Local, Remote      string
	TokenRem, TokenLoc string
	IDRem, IDLoc       string
	BytesAcked         string   // "0" where ss leaves the counter out
	Flags              []string // ss's letters, by package diag's names
}

var (
	ssAddrs = regexp.MustCompile(`^(\S+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)(?:\s+(users:\(.*\)))?`)
	// ssDev matches the "%DEV" ss adds to an address bound to a device.
	ssDev = regexp.MustCompile(`%[^:\]]+`)
	ssULP = regexp.MustCompile(`tcp-ulp-mptcp flags:(\S*) token:([0-9a-f]+)\(id:(\d+)\)/([0-9a-f]+)\(id:(\d+)\)`)
)

// ssFlags are ss's letters for the subflow flags, in package diag's order.
var ssFlags = []struct {
	letter byte
	name   string
}{{'M', "mp-capable-remote"}, {'m', "mp-capable-local"}, {'J', "join-remote"}, {'j', "join-local"},
	{'B', "backup-remote"}, {'b', "backup-local"}, {'e', "fully-established"}, {'c', "connected"}, {'v', "map-valid"}}

func ssAddr(s string) string { return ssDev.ReplaceAllString(s, "") }

// SSMPTCP runs "ss -MHni" in n, with flags such as -a, -l or -p, and
// returns its connections by "LOCAL REMOTE".
func (n *NS) SSMPTCP(flags ...string) map[string]SSConn {
	n.t.Helper()
	out := n.Run("ss", append([]string{"-MHni"}, flags...)...)
	conns := map[string]SSConn{}
	var cur *SSConn
	for _, line := range strings.Split(out, "\n") {
		if m := ssAddrs.FindStringSubmatch(line); m != nil {
			cur = &SSConn{State: m[1], RecvQ: m[2], SendQ: m[3], Local: ssAddr(m[4]), Remote: ssAddr(m[5]), Users: m[6]}
			conns[cur.Local+" "+cur.Remote] = *cur
			continue
		}
		if cur == nil {
			continue
		}
		for _, f := range strings.Fields(line) {
			switch {
			case strings.HasPrefix(f, "token:"):
				cur.Token = strings.TrimPrefix(f, "token:")
			case f == "fallback":
				cur.Fallback = true
			case strings.HasPrefix(f, "subflows:"):
				cur.Subflows, _ = strconv.Atoi(strings.TrimPrefix(f, "subflows:"))
			}
		}
		conns[cur.Local+" "+cur.Remote] = *cur
	}
	return conns
}

// SSSubflows runs "ss -tHni" in n and returns its MPTCP subflows.
func (n *NS) SSSubflows() []SSSubflow {
	n.t.Helper()
	out := n.Run("ss", "-tHni")
	var subs []SSSubflow
	var local, remote, recvQ, sendQ string
	for _, line := range strings.Split(out, "\n") {
		if m := ssAddrs.FindStringSubmatch(line); m != nil {
			recvQ, sendQ, local, remote = m[2], m[3], ssAddr(m[4]), ssAddr(m[5])
			continue
		}
		m := ssULP.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := SSSubflow{RecvQ: recvQ, SendQ: sendQ, Local: local, Remote: remote, TokenRem: m[2], IDRem: m[3], TokenLoc: m[4], IDLoc: m[5], BytesAcked: "0", Flags: []string{}}
		for _, f := range ssFlags {
			if strings.IndexByte(m[1], f.letter) >= 0 {
				s.Flags = append(s.Flags, f.name)
			}
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "bytes_acked:"); ok {
				s.BytesAcked = v
			}
		}
		subs = append(subs, s)
	}
	return subs
}
