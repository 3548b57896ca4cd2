package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/explain"
)

type getOptions struct {
	url      string // the URL to fetch, password included
	out      string // file for the body; "" discards it, "-" is stdout
	json     bool
	timeout  time.Duration
	progress bool // draw a progress bar on stderr
	dial     func(ctx context.Context, network, address string) (net.Conn, error)
	// probe, when not nil, dials plain TCP where dial would: after a
	// dial that got no answer, get tries it once to say why (see
	// explainNoAnswer).
	probe func(ctx context.Context, network, address string) (net.Conn, error)
	// gather, when not nil, is the evidence gatherer to use (why's own);
	// else get starts one before the fetch.
	gather *gatherer
	// keepConn, when not nil, gets the connection that carried the body,
	// which get then leaves open (why waits on it for subflows) and does
	// not explain.
	keepConn func(*trackedConn)
	// wait bounds the wait, after the body, for the joins the path
	// manager will make (see gatherer.waitSubflows); 0: none.
	wait time.Duration
}

// getReport is the report of "mptcpcheck get".
type getReport struct {
	URL        string     `json:"url"` // password redacted
	Status     string     `json:"status"`
	Bytes      int64      `json:"bytes"`
	Seconds    float64    `json:"seconds"`
	Connection connReport `json:"connection"`
	// Note says when the connection state is not from the end of the
	// transfer: the connection closed first and this is its last sample.
	Note string `json:"note,omitempty"`
	// Explanations say why the connection is not MPTCP or has one
	// subflow, from the evidence gathered around the fetch (see why);
	// [] when there is nothing to explain.
	Explanations []explain.Explanation `json:"explanations"`
	// Redirects are the answers that sent get on, in order: the first is
	// the URL asked for, and URL is the one fetched last. [] when there
	// was none.
	Redirects []redirectReport `json:"redirects"`
}

// redirectReport is one redirect get followed: the URL that answered
// with it, and its status line.
type redirectReport struct {
	URL    string `json:"url"` // password redacted
	Status string `json:"status"`
}

// exitInterrupted is get's status when interrupted (Ctrl-C, SIGTERM),
// as a shell reports a command killed by SIGINT. A timeout, get's own or
// its caller's deadline, is no interrupt: it fails with exitFail.
const exitInterrupted = 130

func getCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	opts := getOptions{}
	fs.StringVar(&opts.out, "o", "", "save the body to `FILE`, or standard output for -o - (default: discard it)")
	fs.BoolVar(&opts.json, "json", false, "print the report as JSON")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Minute, fmt.Sprintf("give up after this long (more than 0); a connection that got no answer is then tried once over plain TCP, for at most %v, to say why", probeTimeout))
	fs.DurationVar(&opts.wait, "wait", 3*time.Second, "after the body, wait at most this long for the subflows the path manager will add (0: not at all)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck get [-o FILE] [-json] [-timeout D] [-wait D] URL\n\n"+
			"Fetches URL (http or https) over MPTCP and reports the connection that carried\n"+
			"the final body, after any redirects (each gets a line; the report names the\n"+
			"URL fetched last): MPTCP or fallback, its subflows and the\n"+
			"bytes each received. If the server closed it at the end of the body, the\n"+
			"report is its state just before it closed, and says so. On a terminal a\n"+
			"progress bar shows the rate of each subflow. With -o - the body goes to\n"+
			"standard output and the report to standard error. A password in the URL is\n"+
			"never printed. When the connection is not MPTCP or has one subflow, the\n"+
			"report says why, with its evidence (see mptcpcheck why -h).\n"+
			"Before it reports, get waits up to -wait, as why does, for the joins the path\n"+
			"manager will make to come up or fail, and no longer than that takes.\n\n"+
			"Exit status: 0 for a 2xx answer read to the end; 1 when the fetch fails, the\n"+
			"answer is not 2xx, FILE cannot be written (checked before the fetch), or the\n"+
			"time runs out (-timeout, or 30s for the connection to be made);\n"+
			"2 for a usage error; 130 when interrupted (Ctrl-C). FILE is replaced only by\n"+
			"a complete 2xx body (written beside it, then renamed, keeping its mode): a\n"+
			"fetch that fails or is interrupted leaves it as it was, and says so.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "mptcpcheck get: want exactly one URL")
		fs.Usage()
		return exitUsage
	}
	if opts.timeout <= 0 {
		fmt.Fprintf(stderr, "mptcpcheck get: -timeout %v: want more than 0\n", opts.timeout)
		return exitUsage
	}
	if opts.wait < 0 {
		fmt.Fprintf(stderr, "mptcpcheck get: -wait %v: want 0 or more\n", opts.wait)
		return exitUsage
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil {
		// url.Parse's error repeats the argument, password included.
		fmt.Fprintf(stderr, "mptcpcheck get: the argument is not an http:// or https:// URL: %v\n", unwrapURLError(err))
		return exitUsage
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "mptcpcheck get: %q is not an http:// or https:// URL\n", u.Redacted())
		return exitUsage
	}
	opts.url = u.String()
	opts.progress = isTerminal(stderr)
	opts.dial = (&mptcp.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	plain := &mptcp.Dialer{}
	plain.SetMultipathTCP(false)
	opts.probe = plain.DialContext
	return get(ctx, opts, stdout, stderr)
}

// isTerminal reports whether w is a terminal (not /dev/null, a file or a
// pipe).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// redact returns rawURL with its password, if any, replaced.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(the URL)"
	}
	return u.Redacted()
}

// get fetches opts.url and reports the connection.
func get(ctx context.Context, opts getOptions, stdout, stderr io.Writer) int {
	interrupted := ctx
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	shown := redact(opts.url)

	// Prepare the output first, so that an unwritable path fails before
	// any traffic.
	var dst io.Writer = io.Discard
	report := stdout
	var out *outFile
	switch opts.out {
	case "":
	case "-":
		dst, report = stdout, stderr
	default:
		var err error
		if out, err = createOut(opts.out); err != nil {
			fmt.Fprintf(stderr, "mptcpcheck get: -o: %v\n", err)
			return exitFail
		}
		dst = out
	}
	// keepOut says, on a failure, that -o FILE was left as it was.
	keepOut := func() {
		if out != nil {
			if what := out.abort(); what != "" {
				fmt.Fprintf(stderr, "mptcpcheck get: %s\n", what)
			}
		}
	}
	defer keepOut()
	failed := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "mptcpcheck get: "+format+"\n", args...)
		keepOut()
		if isInterrupted(interrupted) {
			return exitInterrupted
		}
		return code
	}

	// The evidence that must be taken before the dial: counters, events
	// and the handshake capture.
	g := opts.gather
	if g == nil {
		g = startGather()
		defer g.close()
	}
	var dialed trackedConns
	var lastDial dialRecord
	tr := &http.Transport{
		DialContext:           lastDial.wrap(dialed.wrap(opts.dial)),
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if opts.keepConn == nil {
		defer tr.CloseIdleConnections()
	}
	// The connection to report is the one that carried the last
	// response: after redirects it need not be the last one dialed.
	var final atomic.Pointer[trackedConn]
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		c := info.Conn
		if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = tc.NetConn()
		}
		if tc, ok := c.(*trackedConn); ok {
			final.Store(tc)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, opts.url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck get: %v\n", unwrapURLError(err))
		return exitUsage
	}
	// The redirects followed, and the URL asked for last, which is the
	// one to name: the body and any failure are that URL's.
	redirects := []redirectReport{}
	client := &http.Client{Transport: tr, CheckRedirect: func(next *http.Request, via []*http.Request) error {
		// next.Response is the answer that redirected the last request.
		status := ""
		if next.Response != nil {
			status = next.Response.Status
		}
		redirects = append(redirects, redirectReport{URL: via[len(via)-1].URL.Redacted(), Status: status})
		shown = next.URL.Redacted()
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if isInterrupted(interrupted) {
			return failed(exitInterrupted, "interrupted before the answer from %s%s", shown, redirected(redirects))
		}
		why := timeoutNote(ctx, interrupted, opts.timeout)
		if network, address, ok := lastDial.noAnswer(); ok {
			if note := explainNoAnswer(interrupted, opts.probe, network, address); note != "" {
				why += ": " + note
			}
		}
		return failed(exitFail, "cannot fetch %s%s: %v%s", shown, redirected(redirects), unwrapURLError(err), why)
	}
	defer resp.Body.Close()
	shown = resp.Request.URL.Redacted()

	var got atomic.Int64
	stopBar := func() {}
	if c := final.Load(); opts.progress && c != nil {
		stopBar = progressBar(stderr, c.MPTCPConn, resp.ContentLength, &got)
	}
	_, err = io.Copy(dst, &countingReader{r: resp.Body, n: &got})
	stopBar()
	if err != nil {
		if isInterrupted(interrupted) {
			return failed(exitInterrupted, "interrupted after %d bytes of %s", got.Load(), shown)
		}
		return failed(exitFail, "reading %s after %d bytes: %v%s", shown, got.Load(), err, timeoutNote(ctx, interrupted, opts.timeout))
	}
	// Only a complete 2xx body replaces -o FILE: an error page is no
	// download, and its status shows in the report.
	if out != nil && resp.StatusCode/100 == 2 {
		if err := out.commit(); err != nil {
			return failed(exitFail, "-o: %v", err)
		}
	}
	elapsed := time.Since(start)
	rep := getReport{URL: shown, Redirects: redirects, Status: resp.Status, Bytes: got.Load(), Seconds: elapsed.Seconds(), Explanations: []explain.Explanation{}}
	if c := final.Load(); c != nil && opts.keepConn != nil {
		opts.keepConn(c)
		if resp.StatusCode/100 != 2 {
			return exitFail
		}
		return exitOK
	}
	if c := final.Load(); c != nil {
		if resp.Close {
			// The transport closes such a connection once the body
			// ends; wait for it, so that the report does not depend
			// on who is quicker.
			resp.Body.Close()
			select {
			case <-c.closing:
			case <-time.After(time.Second):
			}
		}
		// A short body ends before the path manager's joins: report the
		// subflows it makes, not a race with them.
		if st := c.state(); st.mptcp && st.err == nil && !st.closed {
			g.waitSubflows(ctx, c.MPTCPConn, opts.wait)
		}
		var closed bool
		rep.Connection, closed = c.describe()
		if closed {
			rep.Note = "the connection closed at the end of the body; its state is from just before it closed"
		}
		st := c.state()
		rep.Explanations = g.explainState(c.LocalAddr(), c.RemoteAddr(), st)
	}
	if opts.json {
		enc := json.NewEncoder(report)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		for _, r := range rep.Redirects {
			fmt.Fprintf(report, "GET %s: %s\n", r.URL, r.Status)
		}
		fmt.Fprintf(report, "GET %s: %s, %d bytes in %.2fs (%s)\n", rep.URL, rep.Status, rep.Bytes, rep.Seconds, rate(float64(rep.Bytes)/elapsed.Seconds()))
		rep.Connection.writeText(report)
		if rep.Note != "" {
			fmt.Fprintf(report, "(%s)\n", rep.Note)
		}
		if len(rep.Explanations) > 0 {
			writeExplanations(report, rep.Explanations)
		}
	}
	if resp.StatusCode/100 != 2 {
		return exitFail
	}
	return exitOK
}

// timeoutNote says, for a failure, that get's own -timeout passed;
// "" when it did not (a deadline of the caller's is reported by the
// error it caused).
func timeoutNote(ctx, parent context.Context, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
		return fmt.Sprintf(" (-timeout %v passed)", timeout)
	}
	return ""
}

// maxRedirects is how many redirects get follows, as http.Client does
// by default.
const maxRedirects = 10

// redirected says, for a message about the URL fetched last, where the
// redirects started; "" when there was none.
func redirected(redirects []redirectReport) string {
	if len(redirects) == 0 {
		return ""
	}
	return fmt.Sprintf(" (redirected from %s, %d redirect(s))", redirects[0].URL, len(redirects))
}

// trackedConns wraps a dial func so that its connections are
// trackedConns.
type trackedConns struct{}

func (trackedConns) wrap(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		mc, ok := c.(*mptcp.MPTCPConn)
		if !ok {
			c.Close()
			return nil, errors.New("mptcpcheck: dialer returned a connection that is not an *mptcp.MPTCPConn")
		}
		return &trackedConn{MPTCPConn: mc, closing: make(chan struct{})}, nil
	}
}

// trackedConn takes a last sample of its MPTCP state when it is closed,
// since a closed socket has none to read: the transport closes a
// connection as soon as a body it cannot reuse it for ends.
type trackedConn struct {
	*mptcp.MPTCPConn
	closing chan struct{} // closed by Close, after the sample
	mu      sync.Mutex
	closed  bool
	last    connReport // sampled by Close
	lastSt  connState  // sampled by Close
}

// connState is what the explanations need of a connection's MPTCP
// state.
type connState struct {
	mptcp bool
	err   error       // from MultipathTCP
	info  *mptcp.Info // nil when not MPTCP or unreadable
	// pending lists the joins still in SYN_SENT, "LOCAL -> REMOTE";
	// closedSubs the subflows in CLOSE that the kernel still lists.
	pending, closedSubs []string
	// listed is how many subflows the kernel lists, in any state; 0
	// when unknown.
	listed int
	// mptcpSocket: the socket was made as an MPTCP one (SO_PROTOCOL
	// 262), whether it fell back or not.
	mptcpSocket bool
	// closed: sampled as the connection closed, so that the kernel no
	// longer lists it.
	closed bool
}

func sampleState(c *mptcp.MPTCPConn) connState {
	var s connState
	s.mptcp, s.err = c.MultipathTCP()
	s.mptcpSocket = isMPTCPSocket(c)
	if s.err == nil && s.mptcp {
		if in, err := c.MPTCPInfo(); err == nil {
			s.info = &in
		}
		if subs, err := c.Subflows(); err == nil {
			s.pending = pendingJoins(subs)
			s.closedSubs = subflowsIn(subs, mptcp.StateClose)
			s.listed = len(subs)
		}
	}
	return s
}

// state returns the connection's MPTCP state now, or as it was when it
// was closed.
func (c *trackedConn) state() connState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.lastSt
	}
	return sampleState(c.MPTCPConn)
}

func (c *trackedConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.last = describe(c.MPTCPConn)
		c.lastSt = sampleState(c.MPTCPConn)
		c.lastSt.closed = true
		c.closed = true
		close(c.closing)
	}
	c.mu.Unlock()
	return c.MPTCPConn.Close()
}

// describe reports the connection now, or as it was when it was closed
// (closed true).
func (c *trackedConn) describe() (r connReport, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.last, true
	}
	return describe(c.MPTCPConn), false
}

// unwrapURLError drops the *url.Error layer, which repeats the URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func rate(bytesPerSecond float64) string {
	return fmt.Sprintf("%.1f Mbit/s", bytesPerSecond*8/1e6)
}

// progressBar redraws one line on w twice a second: the share of the
// body received and each subflow's receive rate. The returned func stops
// it, after drawing the final values, and ends the line.
func progressBar(w io.Writer, c *mptcp.MPTCPConn, total int64, got *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		last := map[uint32]uint64{}
		lastAt := time.Now()
		var subs []mptcp.Subflow
		draw := func() {
			var b strings.Builder
			n := got.Load()
			if total > 0 {
				const width = 30
				filled := min(int(n*width/total), width)
				fmt.Fprintf(&b, "\r[%s%s] %3d%%", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), n*100/total)
			} else {
				fmt.Fprintf(&b, "\r%d bytes", n)
			}
			var err error
			if c == nil {
				err = net.ErrClosed
			} else {
				subs, err = c.AppendSubflows(subs[:0])
			}
			if now := time.Now(); err == nil && now.After(lastAt) {
				for i, s := range subs {
					key := s.ID
					if key == 0 { // kernels before 6.5 have no ids
						key = uint32(i + 1)
					}
					fmt.Fprintf(&b, " | %v %s", s.Local.Addr(), rate(float64(s.TCP.BytesReceived-last[key])/now.Sub(lastAt).Seconds()))
					last[key] = s.TCP.BytesReceived
				}
				lastAt = now
			}
			b.WriteString("\x1b[K") // clear what a longer line left
			io.WriteString(w, b.String())
		}
		for {
			select {
			case <-done:
				draw()
				fmt.Fprintln(w)
				return
			case <-tick.C:
				draw()
			}
		}
	}()
	return func() { close(done); <-finished }
}
