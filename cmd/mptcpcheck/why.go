package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/multipath-go/mptcp"
	mib "github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/pm"
)

// whyOptions are the settings of "mptcpcheck why".
type whyOptions struct {
	target  string        // host:port, or an http(s) URL (password included)
	isURL   bool          // target is a URL: fetch it as get does
	json    bool          // print the report as JSON
	wait    time.Duration // the longest wait for subflows after the dial or fetch
	timeout time.Duration // the longest dial or fetch
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
}

// whyReport is the report of "mptcpcheck why".
type whyReport struct {
	Target       string                `json:"target"` // password redacted
	Connection   connReport            `json:"connection"`
	Explanations []explain.Explanation `json:"explanations"` // [] when MPTCP uses every path it can
}

func whyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("why", flag.ContinueOnError)
	var opts whyOptions
	fs.BoolVar(&opts.json, "json", false, "print the report as JSON")
	fs.DurationVar(&opts.wait, "wait", 3*time.Second, "wait at most this long for subflows to come up (0: not at all)")
	fs.DurationVar(&opts.timeout, "timeout", 30*time.Second, "give up the dial or fetch after this long (more than 0)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck why [-json] [-wait D] [-timeout D] ADDRESS|URL\n\n"+
			"Connects to ADDRESS (host:port; nothing is written, what the server sends is\n"+
			"read and dropped) or fetches URL (http or https, as get does) over MPTCP,\n"+
			"waits up to -wait for the path manager to add subflows, and says why the\n"+
			"connection does not use MPTCP, or why it has only one subflow: each\n"+
			"explanation with a code, the evidence it rests on, and whether it is an\n"+
			"inference. The evidence: the MPTcpExt counters' change across the dial, the\n"+
			"path manager's events for the connection's token (needs CAP_NET_ADMIN),\n"+
			"this side's endpoints and limits, the connection's mptcp_info,\n"+
			"net.mptcp.enabled, and a capture of the handshake's SYN and SYN/ACK options\n"+
			"(needs CAP_NET_RAW). A connection that uses MPTCP with every path it can\n"+
			"have gets no explanation.\n\n"+
			"Codes: mptcp-disabled, server-no-mptcp, option-stripped, blackhole,\n"+
			"no-endpoint, subflow-limit, join-initial-denied, join-failed,\n"+
			"join-rejected, join-pending, not-established, backup-path,\n"+
			"data-fallback, checksum-failed, simultaneous-connect, md5-signature,\n"+
			"no-token, fallback-failed, unsupported, unknown; backup-path is a\n"+
			"setting, not a failure. docs/causes.md maps each kernel counter and\n"+
			"reset reason to its code. Evidence this kernel lacks (a counter, a\n"+
			"sysctl or the path manager's events, which an older kernel does not\n"+
			"have) is named as missing.\n\n"+
			"Exit status: 0 when the connection was made and explained, whatever the\n"+
			"verdict; 1 when it could not be made; 2 for a usage error.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "mptcpcheck why: want exactly one ADDRESS (host:port) or URL")
		fs.Usage()
		return exitUsage
	}
	if opts.wait < 0 {
		fmt.Fprintf(stderr, "mptcpcheck why: -wait %v: want 0 or more\n", opts.wait)
		return exitUsage
	}
	if opts.timeout <= 0 {
		fmt.Fprintf(stderr, "mptcpcheck why: -timeout %v: want more than 0\n", opts.timeout)
		return exitUsage
	}
	arg := fs.Arg(0)
	if strings.Contains(arg, "://") {
		u, err := url.Parse(arg)
		if err != nil {
			fmt.Fprintf(stderr, "mptcpcheck why: the argument is not an http:// or https:// URL: %v\n", unwrapURLError(err))
			return exitUsage
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fmt.Fprintf(stderr, "mptcpcheck why: %q is not an http:// or https:// URL\n", u.Redacted())
			return exitUsage
		}
		opts.target, opts.isURL = u.String(), true
	} else {
		if _, port, err := net.SplitHostPort(arg); err != nil || port == "" {
			fmt.Fprintf(stderr, "mptcpcheck why: %q is neither host:port nor an http:// or https:// URL\n", arg)
			return exitUsage
		}
		opts.target = arg
	}
	opts.dial = (&mptcp.Dialer{Timeout: opts.timeout, KeepAlive: 30 * time.Second}).DialContext
	return why(ctx, opts, stdout, stderr)
}

// why makes the connection, waits for its subflows and explains it. It
// gathers evidence in the calling goroutine's network namespace: run it
// where the connection is dialed.
func why(ctx context.Context, opts whyOptions, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout+opts.wait)
	defer cancel()
	shown := opts.target
	if opts.isURL {
		shown = redact(opts.target)
	}
	g := startGather()
	defer g.close()

	var c *trackedConn
	if opts.isURL {
		tc, err := whyFetch(ctx, opts, g)
		if err != nil {
			fmt.Fprintf(stderr, "mptcpcheck why: %v\n", err)
			return exitFail
		}
		c = tc
	} else {
		dctx, dcancel := context.WithTimeout(ctx, opts.timeout)
		nc, err := trackedConns{}.wrap(opts.dial)(dctx, "tcp", opts.target)
		dcancel()
		if err != nil {
			fmt.Fprintf(stderr, "mptcpcheck why: cannot connect to %s: %v\n", shown, err)
			return exitFail
		}
		c = nc.(*trackedConn)
		// Nothing may be written to an unknown service; what it sends
		// (a banner) is read and dropped, which also lets the MPTCP
		// connection become fully established, as the path manager
		// needs before it adds subflows.
		go io.Copy(io.Discard, c.MPTCPConn)
	}
	defer c.Close()
	if st := c.state(); st.mptcp && st.err == nil {
		g.waitSubflows(ctx, c.MPTCPConn, opts.wait)
	}
	rep := whyReport{Target: shown}
	var closed bool
	rep.Connection, closed = c.describe()
	st := c.state()
	rep.Explanations = g.explainState(c.LocalAddr(), c.RemoteAddr(), st)
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return exitOK
	}
	fmt.Fprintf(stdout, "why %s:\n", rep.Target)
	rep.Connection.writeText(stdout)
	if closed {
		fmt.Fprintln(stdout, "(the server closed the connection at the end of the body; its state is from just before it closed)")
	}
	writeExplanations(stdout, rep.Explanations)
	return exitOK
}

// whyFetch fetches opts.target as get does, reads the body to its end
// and returns the connection that carried it, left open: a connection's
// path manager adds subflows only once data flowed both ways, which the
// request and the answer make happen.
func whyFetch(ctx context.Context, opts whyOptions, g *gatherer) (*trackedConn, error) {
	var last *trackedConn
	var stdout, stderr strings.Builder
	code := get(ctx, getOptions{
		url:      opts.target,
		timeout:  opts.timeout,
		dial:     opts.dial,
		gather:   g,
		keepConn: func(c *trackedConn) { last = c },
	}, &stdout, &stderr)
	if last == nil {
		// An answer that is not 2xx still came over a connection worth
		// explaining; only a fetch with no connection fails, and get has
		// said why ("cannot fetch URL: ...", the password redacted).
		msg := strings.ReplaceAll(strings.TrimSpace(stderr.String()), "mptcpcheck get: ", "")
		if msg == "" {
			msg = fmt.Sprintf("cannot fetch %s (status %d)", redact(opts.target), code)
		}
		return nil, errors.New(msg)
	}
	return last, nil
}

// writeExplanations prints explanations as "why: CODE: MESSAGE" lines
// with their evidence underneath.
func writeExplanations(w io.Writer, exps []explain.Explanation) {
	if len(exps) == 0 {
		fmt.Fprintln(w, "why: nothing to explain: the connection uses MPTCP with every path it can have")
		return
	}
	for _, e := range exps {
		kind := ""
		if e.Inference {
			kind = " (inference)"
		}
		fmt.Fprintf(w, "why: %s: %s%s\n", e.Code, e.Message, kind)
		for _, l := range e.Evidence {
			fmt.Fprintf(w, "  - %s\n", l)
		}
	}
}

// gatherer holds the evidence that must be taken before a dial: the
// counters' first reading, the path manager's event subscription and the
// handshake capture. It works in the network namespace of the goroutine
// that starts it, which must also dial and call explainState.
type gatherer struct {
	enabled, enabledKnown bool
	supported             bool

	before    mib.Counters
	beforeErr error

	pmConn *pm.Conn
	pmErr  error
	subErr error
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	events []pm.Event

	capture    *explain.Capture
	captureErr error
}

// maxEvents bounds the events kept: every connection of the namespace
// sends some.
const maxEvents = 10000

func startGather() *gatherer {
	g := &gatherer{done: make(chan struct{})}
	g.before, g.beforeErr = mib.Read(nil)
	g.pmConn, g.pmErr = pm.Dial(nil)
	// The sysctl as the dial will see it.
	h := readHost(nil, nil)
	g.supported, g.enabled, g.enabledKnown = h.Supported, h.Enabled, h.EnabledKnown
	if g.pmErr != nil {
		g.subErr = g.pmErr
		close(g.done)
	} else if sub, err := g.pmConn.Subscribe(); err != nil {
		g.subErr = err
		close(g.done)
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		g.stop = cancel
		go func() {
			defer close(g.done)
			defer sub.Close()
			// A lost message (a full socket buffer) is worth going on
			// after; an error that repeats is not.
			for failures := 0; failures < 100; {
				ev, err := sub.Next(ctx)
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				if err != nil {
					failures++
					continue
				}
				g.mu.Lock()
				if len(g.events) < maxEvents {
					g.events = append(g.events, ev)
				}
				g.mu.Unlock()
			}
		}()
	}
	g.capture, g.captureErr = explain.StartCapture()
	return g
}

func (g *gatherer) close() {
	if g.stop != nil {
		g.stop()
	}
	<-g.done
	if g.pmConn != nil {
		g.pmConn.Close()
	}
	if g.capture != nil {
		g.capture.Stop(netip.AddrPort{}, netip.AddrPort{})
	}
}

// eventsOf returns the events of the connection token so far.
func (g *gatherer) eventsOf(token uint32) []pm.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	var evs []pm.Event
	for _, ev := range g.events {
		if ev.Token == token && !isListenerEvent(ev.Type) {
			evs = append(evs, ev)
		}
	}
	return evs
}

// explainState explains a connection from its addresses and state, which
// get samples before the connection closes.
func (g *gatherer) explainState(laddr, raddr net.Addr, st connState) []explain.Explanation {
	isMPTCP, mptcpErr, info := st.mptcp, st.err, st.info
	ev := explain.Evidence{
		Host:    readHost(g.pmConn, g.pmErr),
		MPTCP:   isMPTCP && mptcpErr == nil,
		Pending: st.pending,
		Closed:  st.closedSubs,
		Listed:  st.listed,
		Local:   laddr.String(),
		Remote:  raddr.String(),
	}
	// What the socket was made under: the sysctl as it was before the
	// dial.
	ev.Supported, ev.Enabled, ev.EnabledKnown = g.supported, g.enabled, g.enabledKnown
	if mptcpErr != nil && !errors.Is(mptcpErr, mptcp.ErrNotMPTCP) {
		ev.MPTCPError = mptcpErr.Error()
	}
	local, _ := netip.ParseAddrPort(laddr.String())
	remote, _ := netip.ParseAddrPort(raddr.String())
	ev.IPv6 = !local.Addr().Unmap().Is4()
	if !ev.MPTCP && g.supported && g.enabled && !st.closed {
		ev.Socket, ev.SocketError = socketKind(local, remote)
		if ev.Socket == explain.SocketPlain && st.mptcpSocket {
			ev.Socket = explain.SocketEarlyFallback
		}
	}

	after, err := mib.Read(nil)
	if g.beforeErr == nil && err == nil {
		ev.Counters = map[string]uint64{}
		for _, c := range after.Sub(g.before) {
			if c.Value > 0 && c.Name != "MPCurrEstab" {
				ev.Counters[c.Name] = c.Value
			}
		}
		ev.Missing = missingEvidence(after)
	} else {
		ev.CountersError = errors.Join(g.beforeErr, err).Error()
	}
	if !ev.MPTCP && g.supported && g.enabled {
		// After the counters: the probe moves them.
		ev.Blackhole = readBlackhole(after)
	}

	if info != nil {
		ev.Info = &explain.Info{
			Token: info.Token, Subflows: info.Subflows, SubflowsMax: info.SubflowsMax,
			AddAddrAccepted: info.AddAddrAccepted, AddAddrAcceptedMax: info.AddAddrAcceptedMax,
			Fallback: info.Flags&mptcp.InfoFlagFallback != 0,
		}
		switch {
		case g.subErr != nil:
			ev.EventsError = g.subErr.Error()
		default:
			for _, e := range g.eventsOf(info.Token) {
				x := explain.Event{Type: e.Type.String(), Local: addrOrEmpty(e.Local), Remote: addrOrEmpty(e.Remote),
					Backup: e.Backup, DenyJoinInitial: e.Flags&pm.EventFlagDenyJoinID0 != 0,
					ServerSide: e.ServerSide || e.Flags&pm.EventFlagServerSide != 0}
				if e.Error != 0 {
					x.Error = e.Error.Error()
				}
				if e.ResetReason != 0 {
					x.ResetReason = e.ResetReason.String()
				}
				ev.Events = append(ev.Events, x)
			}
		}
	} else {
		ev.EventsError = "the connection has no MPTCP token to match events with"
	}

	if g.captureErr != nil {
		ev.HandshakeError = fmt.Sprintf("%v (capturing needs CAP_NET_RAW)", g.captureErr)
	} else if g.capture != nil {
		ev.Handshake = g.capture.Stop(local, remote)
		if ev.Handshake == nil {
			ev.HandshakeError = "the handshake was not seen"
		}
	}
	return explain.Explain(ev)
}

// socketKind asks the kernel's socket diagnostics whether the
// connection from local to remote is an MPTCP socket that fell back
// (explain.SocketFallback) or no MPTCP socket at all (explain.SocketPlain).
func socketKind(local, remote netip.AddrPort) (kind, errText string) {
	c, err := diag.Dial(nil)
	if err != nil {
		return "", err.Error()
	}
	defer c.Close()
	conns, err := c.List(&diag.Filter{
		Local: netip.PrefixFrom(local.Addr().Unmap(), local.Addr().Unmap().BitLen()), LocalPort: local.Port(),
		Remote: netip.PrefixFrom(remote.Addr().Unmap(), remote.Addr().Unmap().BitLen()), RemotePort: remote.Port(),
	})
	switch {
	case err != nil:
		return "", err.Error()
	case len(conns) == 0:
		return explain.SocketPlain, ""
	case conns[0].FellBack():
		return explain.SocketFallback, ""
	}
	return "", ""
}

func addrOrEmpty(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
