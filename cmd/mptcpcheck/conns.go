package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
	mptcpnetns "github.com/multipath-go/mptcp/netns"
)

// connsOptions are the settings of "mptcpcheck conns".
type connsOptions struct {
	filter diag.Filter   // Subflows: list them
	json   bool          // JSON instead of the table
	watch  time.Duration // 0: one listing; else the interval between samples
	count  int           // samples to print with watch; 0: until ctx ends
	clear  bool          // redraw a terminal instead of separating samples by a blank line
	procs  bool          // find each socket's processes, as ss -p
	// proc is where socketOwners looks: /proc when empty.
	proc string
	// list returns the connections f selects; connsCmd sets it to a
	// diag.Conn's All.
	list func(f *diag.Filter) ([]diag.Connection, error)
	// tcpListeners returns the MPTCP listeners f selects as the kernel's
	// TCP sockets show them; connsCmd sets it to tcpListeners in the
	// namespace read. nil: none are looked for.
	tcpListeners func(f *diag.Filter) ([]netip.AddrPort, error)
	now          func() time.Time // time.Now when nil
}

func connsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("conns", flag.ContinueOnError)
	var opts connsOptions
	var states stateFlag
	var local, remote prefixFlag
	var sport, dport portFlag
	fs.BoolVar(&opts.json, "json", false, "print the connections as JSON: one document, or one line per sample with -watch")
	fs.Var(&states, "state", "list only connections in `STATE` (repeatable, or a comma list): established, syn-sent, syn-recv,\n"+
		"fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or ss's\n"+
		"groups all, connected, synchronized, bucket, big (default: every state)")
	fs.Var(&local, "local", "list only connections whose local address lies in `PREFIX` (an address alone: /32 or /128)")
	fs.Var(&remote, "remote", "list only connections whose remote address lies in `PREFIX` (an address alone: /32 or /128)")
	fs.Var(&sport, "sport", "list only connections with local `PORT`")
	fs.Var(&dport, "dport", "list only connections with remote `PORT`")
	only4 := fs.Bool("4", false, "list only IPv4 connections, as shown: a dual-stack listener's IPv4 clients included")
	only6 := fs.Bool("6", false, "list only IPv6 connections, as shown: IPv4-mapped addresses excluded")
	listening := fs.Bool("l", false, "list only listeners, as ss -l")
	all := fs.Bool("a", false, "list listeners and connections in every state, as ss -a")
	fs.BoolVar(&opts.procs, "p", false, "show the processes holding each socket, as ss -p (other users' need privilege)")
	netns := netnsFlag(fs)
	fs.BoolVar(&opts.filter.Subflows, "subflows", true, "list each connection's subflows")
	fs.DurationVar(&opts.watch, "watch", 0, "redraw every `INTERVAL` (such as 1s) with each subflow's rates, until interrupted")
	fs.IntVar(&opts.count, "count", 0, "with -watch, stop after `N` samples (0: until interrupted)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck conns [-json] [-l|-a] [-p] [-watch INTERVAL [-count N]] [filters]\n\n"+
			"Lists every MPTCP connection of this network namespace (or of -netns), whichever\n"+
			"process owns it, with its subflows, as \"ss -M\" and \"ss -ti\" do: one line per\n"+
			"connection (state, addresses, token, fallback, subflows, queues, MPTCP-level\n"+
			"bytes, with -p its processes), then one indented line per subflow (address ids,\n"+
			"addresses, TCP state, RTT, cwnd, queues, bytes, retransmissions, backup). As ss,\n"+
			"it lists connections by default, listeners alone with -l, both and every state\n"+
			"with -a. With -watch it redraws every interval with each subflow's rates,\n"+
			"out (bytes acknowledged by the peer per second) and in (bytes received per\n"+
			"second). Exit status 0 when the listing works, even with no connection.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mptcpcheck conns: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case opts.watch < 0:
		return usageErr("-watch %v: want a positive interval", opts.watch)
	case opts.count < 0:
		return usageErr("-count %d: want 0 or more", opts.count)
	case opts.count > 0 && opts.watch == 0:
		return usageErr("-count goes with -watch")
	case *listening && *all:
		return usageErr("-l lists listeners only, -a everything: give one")
	case len(states) > 0 && (*listening || *all):
		return usageErr("-state names the states itself: leave out -l and -a")
	}
	// ss's defaults: the connections (its "connected" states), the
	// listeners with -l, every socket with -a.
	switch {
	case *all:
	case *listening:
		states = stateFlag{mptcp.StateListen}
	case len(states) == 0:
		states = ssStates["connected"]
	}
	opts.filter.States = states
	opts.filter.Local, opts.filter.Remote = local.p, remote.p
	opts.filter.LocalPort, opts.filter.RemotePort = uint16(sport), uint16(dport)
	switch {
	case *only4 && !*only6:
		opts.filter.Network = "tcp4"
	case *only6 && !*only4:
		opts.filter.Network = "tcp6"
	}
	dc, err := diag.Dial(&diag.Config{NetNS: mptcpnetns.Path(*netns)})
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck conns: %v\n", err)
		return exitFail
	}
	defer dc.Close()
	opts.list = dc.List
	opts.tcpListeners = func(f *diag.Filter) ([]netip.AddrPort, error) { return tcpListeners(mptcpnetns.Path(*netns), f) }
	opts.clear = opts.watch > 0 && !opts.json && isTerminal(stdout)
	return conns(ctx, opts, stdout, stderr)
}

// conns lists the connections once, or every opts.watch.
func conns(ctx context.Context, opts connsOptions, stdout, stderr io.Writer) int {
	now := opts.now
	if now == nil {
		now = time.Now
	}
	f := opts.filter
	var tick *time.Ticker
	if opts.watch > 0 {
		tick = time.NewTicker(opts.watch)
		defer tick.Stop()
	}
	var prev map[fourTuple]counters
	var prevAt time.Time
	enc := json.NewEncoder(stdout)
	if opts.watch == 0 {
		enc.SetIndent("", "  ")
	}
	for n := 1; ; n++ {
		all, err := opts.list(&f)
		if err != nil && f.Subflows && errors.Is(err, os.ErrPermission) {
			fmt.Fprintf(stderr, "mptcpcheck conns: no subflows: %v; listing the connections alone (run with CAP_NET_ADMIN, or -subflows=false)\n", unwrapOpError(err))
			f.Subflows = false
			all, err = opts.list(&f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mptcpcheck conns: %v\n", err)
			return exitFail
		}
		if n == 1 {
			noteUnlistedListeners(stderr, opts.tcpListeners, &f, all)
		}
		at := now()
		s := sample{Connections: make([]connRecord, 0, len(all))}
		cur := make(map[fourTuple]counters)
		for i := range all {
			s.Connections = append(s.Connections, connJSON(&all[i], f.Subflows))
		}
		if opts.procs {
			s.addOwners(cmp.Or(opts.proc, "/proc"))
		}
		if opts.watch > 0 {
			s.Time = at.Format(time.RFC3339Nano)
			for i := range s.Connections {
				for j := range s.Connections[i].Subflows {
					sf := &s.Connections[i].Subflows[j]
					k, c := sf.key(), counters{sf.BytesAcked, sf.BytesReceived}
					cur[k] = c
					if p, ok := prev[k]; ok && c.acked >= p.acked && c.received >= p.received && at.After(prevAt) {
						dt := at.Sub(prevAt).Seconds()
						out, in := float64(c.acked-p.acked)/dt, float64(c.received-p.received)/dt
						sf.SendRate, sf.ReceiveRate = &out, &in
					}
				}
			}
		}
		switch {
		case opts.json:
			enc.Encode(s)
		default:
			if opts.clear {
				io.WriteString(stdout, "\x1b[H\x1b[2J") // home, clear the screen
			} else if n > 1 {
				fmt.Fprintln(stdout)
			}
			if opts.watch > 0 {
				fmt.Fprintf(stdout, "%s  %s, every %v\n", at.Format("15:04:05.000"), plural(len(s.Connections), "connection"), opts.watch)
			}
			s.writeText(stdout)
		}
		if opts.watch == 0 || (opts.count > 0 && n >= opts.count) {
			return exitOK
		}
		prev, prevAt = cur, at
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick.C:
		}
	}
}

// noteUnlistedListeners says on stderr which MPTCP listeners the listing
// left out: where the filter selects listeners and the kernel listed
// none, tcpListeners looks among its TCP sockets, and the listeners found
// there are ones the kernel's MPTCP socket diagnostics do not list
// (before Linux 5.19 they list none). Listing them as the others would
// take what those kernels do not give (the MPTCP socket's inode, hence
// its processes), so conns names them instead. A failure to look is no
// failure of the listing, which is complete as the kernel gives it: it
// is left unsaid.
func noteUnlistedListeners(stderr io.Writer, tcpListeners func(*diag.Filter) ([]netip.AddrPort, error), f *diag.Filter, listed []diag.Connection) {
	if tcpListeners == nil || (len(f.States) > 0 && !slices.Contains(f.States, mptcp.StateListen)) ||
		slices.ContainsFunc(listed, func(c diag.Connection) bool { return c.State == mptcp.StateListen }) {
		return
	}
	found, err := tcpListeners(f)
	if err != nil || len(found) == 0 {
		return
	}
	addrs := make([]string, len(found))
	for i, a := range found {
		addrs[i] = a.String()
	}
	slices.Sort(addrs)
	fmt.Fprintf(stderr, "mptcpcheck conns: this kernel's socket diagnostics list no MPTCP listeners (Linux 5.19 and later do); "+
		"its TCP sockets show %s, not listed: %s\n", plural(len(found), "MPTCP listener"), strings.Join(addrs, ", "))
}

// unwrapOpError drops the "list sock_diag: " of a diag error, for a note
// that says it another way.
func unwrapOpError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

// fourTuple names a subflow across samples.
type fourTuple struct{ local, remote string }

// counters are the subflow counters the rates come from.
type counters struct{ acked, received uint64 }

// sample is one listing: the JSON document of "mptcpcheck conns".
type sample struct {
	Time        string       `json:"time,omitempty"` // with -watch: when it was taken, RFC 3339
	Connections []connRecord `json:"connections"`
}

// connRecord is one connection, for JSON and the table.
type connRecord struct {
	State    string `json:"state"`
	Local    string `json:"local"`
	Remote   string `json:"remote"`
	Token    string `json:"token,omitempty"` // this side's token, hexadecimal; none for a listener
	Fallback bool   `json:"fallback"`
	UID      uint32 `json:"uid"`
	Inode    uint32 `json:"inode"`
	// RecvQ and SendQ are ss's Recv-Q and Send-Q: the bytes in the
	// socket's queues; for a listener, the connections waiting to be
	// accepted and the backlog.
	RecvQ uint32 `json:"recv_q"`
	SendQ uint32 `json:"send_q"`
	// Processes hold the socket, with -p; nil, and left out, without.
	Processes []owner `json:"processes,omitzero"`
	// SubflowCount is the kernel's count of subflows, the first included.
	SubflowCount int `json:"subflow_count"`
	// MPTCP-level counters, on Linux 6.5 and later only.
	BytesSent     *uint64 `json:"bytes_sent,omitempty"`
	BytesReceived *uint64 `json:"bytes_received,omitempty"`
	BytesAcked    *uint64 `json:"bytes_acked,omitempty"`
	BytesRetrans  *uint64 `json:"bytes_retrans,omitempty"`
	// Subflows is nil, and left out, when they were not listed.
	Subflows []subflowRecord `json:"subflows,omitzero"`
}

// subflowRecord is one subflow of a connRecord. Its ids are the path
// manager's address ids of its two ends ("addr id" in the text), not the
// subflow's own id, which socket diagnostics do not give.
type subflowRecord struct {
	LocalAddrID   uint8    `json:"local_addr_id"`
	RemoteAddrID  uint8    `json:"remote_addr_id"`
	Local         string   `json:"local"`
	Remote        string   `json:"remote"`
	Token         string   `json:"token"`
	RemoteToken   string   `json:"remote_token,omitempty"` // the peer's; unknown on a connection's first subflow
	State         string   `json:"state"`
	RecvQ         uint32   `json:"recv_q"` // TCP's queues, as ss -t shows them
	SendQ         uint32   `json:"send_q"`
	RTTMillis     float64  `json:"rtt_ms"`
	Cwnd          uint32   `json:"cwnd"`
	BytesSent     uint64   `json:"bytes_sent"`
	BytesAcked    uint64   `json:"bytes_acked"`
	BytesReceived uint64   `json:"bytes_received"`
	Retrans       uint32   `json:"retrans"` // segments retransmitted over the subflow's life
	Flags         []string `json:"flags"`
	Backup        bool     `json:"backup"`        // this side marked it backup
	RemoteBackup  bool     `json:"remote_backup"` // the peer did
	// With -watch, from the second sample on: bytes acknowledged by the
	// peer and bytes received per second since the previous sample.
	SendRate    *float64 `json:"send_bytes_per_second,omitempty"`
	ReceiveRate *float64 `json:"receive_bytes_per_second,omitempty"`

	hasTCP bool          // the kernel gave the subflow's tcp_info
	rtt    time.Duration // RTTMillis, for the text
}

func (s *subflowRecord) key() fourTuple { return fourTuple{s.Local, s.Remote} }

func hexToken(t uint32) string {
	if t == 0 {
		return ""
	}
	return fmt.Sprintf("%08x", t)
}

func connJSON(c *diag.Connection, subflows bool) connRecord {
	r := connRecord{
		State:        c.State.String(),
		Local:        addrString(c.Local),
		Remote:       addrString(c.Remote),
		Token:        hexToken(c.Token()),
		Fallback:     c.FellBack(),
		UID:          c.UID,
		Inode:        c.Inode,
		RecvQ:        c.RecvQueue,
		SendQ:        c.SendQueue,
		SubflowCount: c.Info.TotalSubflows(),
	}
	if c.Info.Has(mptcp.InfoCounters) {
		r.BytesSent, r.BytesReceived = &c.Info.BytesSent, &c.Info.BytesReceived
		r.BytesAcked, r.BytesRetrans = &c.Info.BytesAcked, &c.Info.BytesRetrans
	}
	if subflows {
		r.Subflows = make([]subflowRecord, 0, len(c.Subflows))
	}
	for _, s := range c.Subflows {
		flags := []string{}
		if s.Flags != 0 {
			flags = strings.Split(s.Flags.String(), "|")
		}
		r.Subflows = append(r.Subflows, subflowRecord{
			LocalAddrID:   s.LocalID,
			RemoteAddrID:  s.RemoteID,
			Local:         addrString(s.Local),
			Remote:        addrString(s.Remote),
			Token:         hexToken(s.Token),
			RemoteToken:   hexToken(s.RemoteToken),
			State:         s.TCP.State.String(),
			RecvQ:         s.RecvQueue,
			SendQ:         s.SendQueue,
			RTTMillis:     float64(s.TCP.RTT.Microseconds()) / 1000,
			Cwnd:          s.TCP.SndCwnd,
			BytesSent:     s.TCP.BytesSent,
			BytesAcked:    s.TCP.BytesAcked,
			BytesReceived: s.TCP.BytesReceived,
			Retrans:       s.TCP.TotalRetrans,
			Flags:         flags,
			Backup:        s.Flags&diag.SubflowFlagBackupLocal != 0,
			RemoteBackup:  s.Flags&diag.SubflowFlagBackupRemote != 0,
			hasTCP:        s.TCP.Has(mptcp.TCPInfoBase),
			rtt:           s.TCP.RTT,
		})
	}
	return r
}

// addOwners sets each connection's Processes, from proc.
func (s sample) addOwners(proc string) {
	want := map[uint32]bool{}
	for _, c := range s.Connections {
		if c.Inode != 0 {
			want[c.Inode] = true
		}
	}
	owners := socketOwners(proc, want)
	for i := range s.Connections {
		c := &s.Connections[i]
		c.Processes = owners[c.Inode]
		if c.Processes == nil {
			c.Processes = []owner{}
		}
	}
}

// writeText prints the table: a line per connection, an indented line
// per subflow, in aligned columns; then, as ss -a does after a fashion,
// the listeners, a line each with their queues and processes and none of
// a connection's columns, which a listener has no use for.
func (s sample) writeText(w io.Writer) {
	if len(s.Connections) == 0 {
		fmt.Fprintln(w, "no MPTCP connections")
		return
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	var listeners []connRecord
	for _, c := range s.Connections {
		if c.State == mptcp.StateListen.String() {
			listeners = append(listeners, c)
			continue
		}
		token := "token -"
		if c.Token != "" {
			token = "token " + c.Token
		}
		count := plural(c.SubflowCount, "subflow")
		if c.Fallback {
			count = "fallback, " + count
		}
		fmt.Fprintf(tw, "%s\t%s -> %s\t%s\t%s\trecv-q %d send-q %d\t", c.State, c.Local, c.Remote, token, count, c.RecvQ, c.SendQ)
		if c.BytesSent != nil {
			fmt.Fprintf(tw, "sent %s\tacked %s\treceived %s\t", humanBytes(*c.BytesSent), humanBytes(*c.BytesAcked), humanBytes(*c.BytesReceived))
		} else {
			fmt.Fprint(tw, "sent -\tacked -\treceived -\t")
		}
		if c.Processes != nil {
			fmt.Fprintf(tw, "%s\t", ssUsers(c.Processes))
		}
		fmt.Fprintln(tw)
		for _, sf := range c.Subflows {
			fmt.Fprintf(tw, "  addr id %d/%d\t%s -> %s\t%s\t", sf.LocalAddrID, sf.RemoteAddrID, sf.Local, sf.Remote, sf.State)
			// The columns of mptcp.SubflowTable, in its order and units
			// (the RTT as a time.Duration), bytes made readable, and the
			// queues.
			if sf.hasTCP {
				fmt.Fprintf(tw, "rtt %v cwnd %d\trecv-q %d send-q %d\tsent %s\tacked %s\treceived %s\tretrans %d\t",
					sf.rtt.Round(time.Microsecond), sf.Cwnd, sf.RecvQ, sf.SendQ, humanBytes(sf.BytesSent), humanBytes(sf.BytesAcked), humanBytes(sf.BytesReceived), sf.Retrans)
			} else {
				fmt.Fprintf(tw, "rtt - cwnd -\trecv-q %d send-q %d\tsent -\tacked -\treceived -\tretrans -\t", sf.RecvQ, sf.SendQ)
			}
			if s.Time != "" {
				fmt.Fprintf(tw, "out %s\tin %s\t", fmtRate(sf.SendRate), fmtRate(sf.ReceiveRate))
			}
			if sf.Backup {
				fmt.Fprint(tw, "backup\t")
			}
			if sf.RemoteBackup {
				fmt.Fprint(tw, "peer-backup\t")
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
	// The listeners align among themselves.
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range listeners {
		fmt.Fprintf(tw, "%s\t%s\trecv-q %d send-q %d\t", c.State, c.Local, c.RecvQ, c.SendQ)
		if c.Processes != nil {
			fmt.Fprintf(tw, "%s\t", ssUsers(c.Processes))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	// Every cell ends with a tab, so that all align; drop the padding
	// that leaves at the ends of lines.
	for line := range strings.Lines(b.String()) {
		io.WriteString(w, strings.TrimRight(line, " \n")+"\n")
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// humanBytes formats a count of bytes with binary units: 512 B, 1.5 KiB,
// 12.0 MiB.
func humanBytes(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v := float64(n)
	i := -1
	for v >= 1024 && i < len("KMGTPE")-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

// fmtRate formats bytes per second; nil, for a subflow without a
// previous sample, is "-".
func fmtRate(r *float64) string {
	if r == nil {
		return "-"
	}
	return humanBytes(uint64(*r+0.5)) + "/s"
}

// stateFlag is -state: TCP states by ss's names, repeatable, or a comma
// list.
type stateFlag []mptcp.TCPState

// ssStates are ss's state names, the kernel's ("syn_sent", "close",
// "listen") folded onto them, and ss's groups.
var ssStates = map[string][]mptcp.TCPState{
	"established": {1}, "syn-sent": {2}, "syn-recv": {3}, "fin-wait-1": {4}, "fin-wait-2": {5},
	"time-wait": {6}, "closed": {7}, "close-wait": {8}, "last-ack": {9}, "listening": {10}, "closing": {11},
	// The kernel's names, as TCPState.String gives them, where they differ.
	"fin-wait1": {4}, "fin-wait2": {5}, "close": {7}, "listen": {10},
	// ss's groups.
	"all":          {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	"connected":    {1, 2, 4, 5, 8, 9, 11},
	"synchronized": {1, 4, 5, 8, 9, 11},
	"bucket":       {3, 6},
	"big":          {1, 2, 4, 5, 7, 8, 9, 10, 11},
}

func (s *stateFlag) String() string {
	if s == nil {
		return ""
	}
	names := make([]string, len(*s))
	for i, st := range *s {
		names[i] = st.String()
	}
	return strings.Join(names, ",")
}

func (s *stateFlag) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
		states, ok := ssStates[key]
		if !ok {
			return fmt.Errorf("unknown state %q (want established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or all, connected, synchronized, bucket, big)", name)
		}
		for _, st := range states {
			if !slices.Contains(*s, st) {
				*s = append(*s, st)
			}
		}
	}
	return nil
}

// prefixFlag is -local or -remote: a prefix, or an address alone.
type prefixFlag struct{ p netip.Prefix }

func (f *prefixFlag) String() string {
	if f == nil || !f.p.IsValid() {
		return ""
	}
	return f.p.String()
}

func (f *prefixFlag) Set(v string) error {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.Trim(v, "[]"))
		if aerr != nil || a.Zone() != "" {
			return fmt.Errorf("%q is neither an address nor a prefix (such as 10.0.0.0/8 or fd00::/8)", v)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	// diag reports IPv4-mapped addresses as IPv4: so must the prefix be.
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	f.p = p.Masked()
	return nil
}

// portFlag is -sport or -dport: a port, 1 to 65535.
type portFlag uint16

func (p *portFlag) String() string {
	if p == nil || *p == 0 {
		return ""
	}
	return strconv.Itoa(int(*p))
}

func (p *portFlag) Set(v string) error {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%q is not a port (1 to 65535)", v)
	}
	*p = portFlag(n)
	return nil
}
