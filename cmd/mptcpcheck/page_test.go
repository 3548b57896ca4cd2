package main

import (
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumArgs are the flags of a headless Chromium that talks to
// nothing but the test's server.
func chromiumArgs(t *testing.T) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
}

// runChromium runs chromium and returns its standard output and error.
func runChromium(t *testing.T, chromium string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, append(chromiumArgs(t), args...)...)
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %q: %v\n%s", args, err, errs.String())
	}
	return out.String(), errs.String()
}

func fetchPage(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestServePageHasNothingInline checks that the page keeps a strict
// Content-Security-Policy and needs no exception to it: its style and
// script come from the server, none is inline.
func TestServePageHasNothingInline(t *testing.T) {
	addr := startServe(t, "", "")
	resp, html := fetchPage(t, "http://"+addr+"/")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-") {
		t.Errorf("Content-Security-Policy %q; want default-src 'self' and no unsafe- exception", csp)
	}
	for _, re := range []string{`(?i)<style`, `(?i)\sstyle\s*=`, `(?i)<script(\s[^>]*)?>\s*[^<\s]`, `(?i)\son[a-z]+\s*=`, `(?i)javascript:`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("page has inline style or script %q:\n%s", m, html)
		}
	}
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="/`) {
			t.Errorf("page has an inline script: %s", tag)
		}
	}
	if !strings.Contains(html, `<link rel="stylesheet" href="/style.css">`) {
		t.Errorf("page does not link /style.css:\n%s", html)
	}
	for path, ctype := range map[string]string{"/style.css": "text/css", "/app.js": "text/javascript"} {
		resp, body := fetchPage(t, "http://"+addr+path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) < 100 {
			t.Errorf("%s: status %d, Content-Type %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
}

// TestServePageIsStyledInChromium loads the page in headless Chromium and
// checks that no Content-Security-Policy violation is logged and that the
// stylesheet applies: the verdict box of a plain TCP connection has the
// background colour style.css gives it.
func TestServePageIsStyledInChromium(t *testing.T) {
	chromium := requireTool(t, "chromium")
	addr := startServe(t, "", "")
	shot := filepath.Join(t.TempDir(), "page.png")
	_, stderr := runChromium(t, chromium, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=2500",
		"--window-size=1200,900", "--screenshot="+shot, "http://"+addr+"/")
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Content-Security-Policy") ||
			strings.Contains(line, "Uncaught") {
			t.Errorf("chromium logged: %s", line)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// style.css: .verdict.no { background: #fdf0e1 } and the body #f6f7f9.
	verdictBg := countColour(img, 0xfd, 0xf0, 0xe1)
	bodyBg := countColour(img, 0xf6, 0xf7, 0xf9)
	if verdictBg < 10000 || bodyBg < 100000 {
		t.Errorf("screenshot has %d pixels of the verdict's background and %d of the body's; the stylesheet did not apply", verdictBg, bodyBg)
	}
}

func countColour(img image.Image, r, g, b uint8) int {
	near := func(v uint32, want uint8) bool {
		d := int(v>>8) - int(want)
		return d >= -2 && d <= 2
	}
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, r) && near(cg, g) && near(cb, b) {
				n++
			}
		}
	}
	return n
}

// TestServePageVerdictInChromium checks what a person reads on the page
// when the browser connects with plain TCP, as Chromium does: the verdict,
// the subflow table with units, and how to get MPTCP.
func TestServePageVerdictInChromium(t *testing.T) {
	chromium := requireTool(t, "chromium")
	addr := startServe(t, "", "")
	dom, _ := runChromium(t, chromium, "--virtual-time-budget=2500", "--dump-dom", "http://"+addr+"/")
	for _, re := range []string{
		`<section id="verdict" class="verdict no">`,
		`<p id="verdict-text" class="verdict-text">Your connection is not MPTCP: it uses plain TCP.</p>`,
		`<section id="howto" class="howto">`, // shown, not hidden
		`<code>mptcpize run</code>`,
		`<code>GODEBUG=multipathtcp=1</code>`,
		`<code>github.com/multipath-go/mptcp</code>`,
		`<table id="subflow-table">`,
		`<th class="num">RTT</th>`,
		`<th class="num">Retrans \(packets\)</th>`,
		`<td class="empty" colspan="10">No subflows: the connection is not MPTCP.</td>`,
		`<span id="updates">[1-9]\d*</span>`, // app.js refreshed the page
	} {
		if !regexp.MustCompile(re).MatchString(dom) {
			t.Errorf("rendered page lacks %s:\n%s", re, dom)
		}
	}
}

func TestPageWordsAndUnits(t *testing.T) {
	for _, tc := range []struct {
		r    connReport
		want string
	}{
		{connReport{}, "Your connection is not MPTCP: it uses plain TCP."},
		{connReport{MPTCP: true}, "Your connection uses MPTCP."},
		{connReport{MPTCP: true, Subflows: make([]subflowReport, 1)}, "Your connection uses MPTCP with 1 subflow."},
		{connReport{MPTCP: true, Subflows: make([]subflowReport, 2)}, "Your connection uses MPTCP with 2 subflows."},
	} {
		if got := tc.r.Verdict(); got != tc.want {
			t.Errorf("verdict of %+v: %q, want %q", tc.r, got, tc.want)
		}
	}
	s := subflowReport{RTTMillis: 12.345, BytesSent: 3 << 20, BytesAcked: 1536, BytesReceived: 512}
	if got := []string{s.RTT(), s.Sent(), s.Acked(), s.Received()}; strings.Join(got, "|") != "12.345ms|3.0 MiB|1.5 KiB|512 B" {
		t.Errorf("subflow columns %q", got)
	}
}
