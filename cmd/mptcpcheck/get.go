package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/multipath-go/mptcp"
)

type getOptions struct {
	url      string
	out      string // file for the body; "" discards it
	json     bool
	timeout  time.Duration
	progress bool // draw a progress bar on stderr
	dial     func(ctx context.Context, network, address string) (net.Conn, error)
}

// getReport is the report of "mptcpcheck get".
type getReport struct {
	URL        string     `json:"url"`
	Status     string     `json:"status"`
	Bytes      int64      `json:"bytes"`
	Seconds    float64    `json:"seconds"`
	Connection connReport `json:"connection"`
}

func getCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	opts := getOptions{}
	fs.StringVar(&opts.out, "o", "", "save the body to `FILE` (default: discard it)")
	fs.BoolVar(&opts.json, "json", false, "print the report as JSON")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck get [-o FILE] [-json] [-timeout D] URL\n\n"+
			"Fetches URL (http or https) over MPTCP and reports the connection afterwards:\n"+
			"MPTCP or fallback, its subflows and the bytes each received. On a terminal a\n"+
			"progress bar shows the rate of each subflow.\n\n")
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
	u, err := url.Parse(fs.Arg(0))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "mptcpcheck get: %q is not an http:// or https:// URL\n", fs.Arg(0))
		return exitUsage
	}
	opts.url = u.String()
	opts.progress = isTerminal(stderr)
	opts.dial = (&mptcp.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return get(ctx, opts, stdout, stderr)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// get fetches opts.url and reports the connection.
func get(ctx context.Context, opts getOptions, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	var dialed capturedConn
	tr := &http.Transport{
		DialContext:           dialed.wrap(opts.dial),
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck get: %v\n", err)
		return exitUsage
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck get: cannot fetch %s: %v\n", opts.url, unwrapURLError(err))
		return exitFail
	}
	defer resp.Body.Close()

	var dst io.Writer = io.Discard
	if opts.out != "" {
		f, err := os.Create(opts.out)
		if err != nil {
			fmt.Fprintf(stderr, "mptcpcheck get: %v\n", err)
			return exitFail
		}
		defer f.Close()
		dst = f
	}
	var got atomic.Int64
	stopBar := func() {}
	if opts.progress {
		stopBar = progressBar(stderr, dialed.get(), resp.ContentLength, &got)
	}
	_, err = io.Copy(dst, &countingReader{r: resp.Body, n: &got})
	stopBar()
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck get: reading %s after %d bytes: %v\n", opts.url, got.Load(), err)
		return exitFail
	}
	elapsed := time.Since(start)
	rep := getReport{URL: opts.url, Status: resp.Status, Bytes: got.Load(), Seconds: elapsed.Seconds()}
	if c := dialed.get(); c != nil {
		rep.Connection = describe(c)
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		fmt.Fprintf(stdout, "GET %s: %s, %d bytes in %.2fs (%s)\n", rep.URL, rep.Status, rep.Bytes, rep.Seconds, rate(float64(rep.Bytes)/elapsed.Seconds()))
		rep.Connection.writeText(stdout)
	}
	if resp.StatusCode/100 != 2 {
		return exitFail
	}
	return exitOK
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
// it and ends the line.
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
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-tick.C:
			}
			var b strings.Builder
			n := got.Load()
			if total > 0 {
				const width = 30
				filled := int(n * width / total)
				fmt.Fprintf(&b, "\r[%s%s] %3d%%", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), n*100/total)
			} else {
				fmt.Fprintf(&b, "\r%d bytes", n)
			}
			var err error
			if subs, err = c.AppendSubflows(subs[:0]); err == nil {
				now := time.Now()
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
			io.WriteString(w, b.String())
		}
	}()
	return func() { close(done); <-finished }
}
