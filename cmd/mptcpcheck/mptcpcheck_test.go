package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// runCmd runs mptcpcheck in process and returns its exit status and
// output streams.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.SkipOrFail(t, "needs %s on the PATH (.ci/run installs it): %v", name, err)
	}
	return path
}

func TestDemoReportsMPTCPEndToEnd(t *testing.T) {
	code, out, errs := runCmd(t)
	if code != exitOK {
		if strings.Contains(out, "problem:") {
			testenv.SkipOrFail(t, "this host cannot do MPTCP:\n%s", out)
		}
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		"host: Linux",
		"MPTCP listener: yes",
		"200 OK",
		"the client sees:\nconnection 127.0.0.1:",
		"the server sees:\nconnection 127.0.0.1:",
		"result: MPTCP works end to end",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, ": MPTCP, token "); n != 2 {
		t.Errorf("%d ends report MPTCP with a token, want 2:\n%s", n, out)
	}
	// Each end's table is the package's, with its one subflow, an RTT
	// as a time.Duration prints it, byte counts and retransmissions.
	if n := strings.Count(out, "\n  SUBFLOW  LOCAL "); n != 2 {
		t.Errorf("%d subflow tables, want one per end:\n%s", n, out)
	}
	// The first subflow's id is 1 where the kernel numbers subflows
	// (6.5), and shown as missing, "-", where it does not: never 0.
	id := "-"
	if testenv.KernelAtLeast(6, 5) {
		id = "1"
	}
	rows := regexp.MustCompile(`(?m)^  `+id+`\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s+ESTABLISHED\s+[0-9.]+(µs|ms)\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+$`).FindAllString(out, -1)
	if len(rows) != 2 {
		t.Errorf("found %d subflow rows, want one per end:\n%s", len(rows), out)
	}
}

func TestUsageAndErrors(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		wantStream string // "out" or "err"
		want       string
	}{
		{[]string{"-h"}, exitOK, "out", "mptcpcheck get [flags] URL"},
		{[]string{"serve", "-h"}, exitOK, "out", "-addr"},
		{[]string{"get", "-h"}, exitOK, "out", "-o FILE"},
		{[]string{"frobnicate"}, exitUsage, "err", `unknown mode "frobnicate"`},
		{[]string{"serve", "-bogus"}, exitUsage, "err", "flag provided but not defined: -bogus"},
		{[]string{"serve", "extra"}, exitUsage, "err", `unexpected argument "extra"`},
		{[]string{"serve", "-cert", "c.pem"}, exitUsage, "err", "-cert and -key go together"},
		{[]string{"get"}, exitUsage, "err", "want exactly one URL"},
		{[]string{"get", "ftp://example.invalid/"}, exitUsage, "err", "is not an http:// or https:// URL"},
		{[]string{"get", "http://"}, exitUsage, "err", "is not an http:// or https:// URL"},
		{[]string{"get", "-timeout", "0", "http://127.0.0.1:1/"}, exitUsage, "err", "-timeout 0s: want more than 0"},
		{[]string{"get", "-timeout", "-1s", "http://127.0.0.1:1/"}, exitUsage, "err", "-timeout -1s: want more than 0"},
		{[]string{"conns", "-h"}, exitOK, "out", "-watch INTERVAL"},
		{[]string{"-h"}, exitOK, "out", "mptcpcheck conns [flags]"},
		{[]string{"conns", "extra"}, exitUsage, "err", `unexpected argument "extra"`},
		{[]string{"conns", "-state", "established,bogus"}, exitUsage, "err", `invalid value "established,bogus" for flag -state: unknown state "bogus"`},
		{[]string{"conns", "-local", "10.0.0"}, exitUsage, "err", `invalid value "10.0.0" for flag -local: "10.0.0" is neither an address nor a prefix`},
		{[]string{"conns", "-remote", "fe80::1%eth0"}, exitUsage, "err", "is neither an address nor a prefix"},
		{[]string{"conns", "-remote", "10.0.0.0/33"}, exitUsage, "err", "is neither an address nor a prefix"},
		{[]string{"conns", "-sport", "70000"}, exitUsage, "err", `invalid value "70000" for flag -sport: "70000" is not a port (1 to 65535)`},
		{[]string{"conns", "-dport", "0"}, exitUsage, "err", "is not a port"},
		{[]string{"conns", "-watch", "soon"}, exitUsage, "err", "invalid value \"soon\" for flag -watch"},
		{[]string{"conns", "-watch", "-1s"}, exitUsage, "err", "-watch -1s: want a positive interval"},
		{[]string{"conns", "-count", "3"}, exitUsage, "err", "-count goes with -watch"},
		{[]string{"conns", "-watch", "1s", "-count", "-1"}, exitUsage, "err", "-count -1: want 0 or more"},
		{[]string{"conns", "-netns", "/nonexistent/netns"}, exitFail, "err", "mptcpcheck conns: dial sock_diag: "},
		{[]string{"conns", "-l", "-a"}, exitUsage, "err", "-l lists listeners only, -a everything: give one"},
		{[]string{"conns", "-a", "-state", "established"}, exitUsage, "err", "-state names the states itself: leave out -l and -a"},
		{[]string{"doctor", "-netns", "/nonexistent/netns"}, exitFail, "err", "mptcpcheck doctor: network namespace: open /nonexistent/netns"},
		{[]string{"monitor", "-netns", "/nonexistent/netns"}, exitFail, "err", "mptcpcheck monitor: "},
		{[]string{"doctor", "-netns", "/proc/self/ns/mnt"}, exitFail, "err", "mptcpcheck doctor: /proc/self/ns/mnt is not a network namespace"},
	} {
		code, out, errs := runCmd(t, tc.args...)
		stream := map[string]string{"out": out, "err": errs}[tc.wantStream]
		if code != tc.code || !strings.Contains(stream, tc.want) {
			t.Errorf("mptcpcheck %q: status %d, std%s %q; want status %d and %q", tc.args, code, tc.wantStream, stream, tc.code, tc.want)
		}
	}
}

// The progress bar's last frame shows the final value, however soon
// after its last tick the body ends.
func TestProgressBarEndsAtFinalValue(t *testing.T) {
	var b bytes.Buffer
	var got atomic.Int64
	stop := progressBar(&b, nil, 1000, &got)
	got.Store(1000)
	stop()
	out := b.String()
	frames := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
	last := frames[len(frames)-1]
	if !strings.HasSuffix(out, "\n") || !strings.HasPrefix(last, "["+strings.Repeat("#", 30)+"] 100%") {
		t.Errorf("progress bar output %q: last frame %q; want it full at 100%%, then a newline", out, last)
	}
}

// /dev/null is a character device but no terminal: no progress bar, no
// screen clearing.
func TestDevNullIsNoTerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("isTerminal(%s) = true", os.DevNull)
	}
}

// Help goes to stdout alone, once; an error to stderr alone.
func TestHelpOnStdoutOnly(t *testing.T) {
	for _, mode := range []string{"serve", "get", "doctor", "monitor", "conns"} {
		code, out, errs := runCmd(t, mode, "-h")
		if code != exitOK || errs != "" || strings.Count(out, "Usage: mptcpcheck "+mode) != 1 {
			t.Errorf("%s -h: status %d, stdout %q, stderr %q; want the usage once on stdout", mode, code, out, errs)
		}
		code, out, errs = runCmd(t, mode, "-bogus")
		if code != exitUsage || out != "" || strings.Count(errs, "Usage: mptcpcheck "+mode) != 1 || !strings.HasPrefix(errs, "flag provided but not defined: -bogus\n") {
			t.Errorf("%s -bogus: status %d, stdout %q, stderr %q; want the error and the usage on stderr", mode, code, out, errs)
		}
	}
}

// closedPortTimeout is get's -timeout in the tests that fetch from a
// closed port for another purpose than the error itself. Linux 5.10
// never reports a refused MPTCP connection: there the dial waits for the
// timeout, then a plain TCP connection finds the refusal
// (TestGetUnreachableSaysWhy checks that with the default timeouts).
const closedPortTimeout = "5s"

// A closed port: get says it cannot fetch, and that the connection was
// refused, with the default flags, in at most the dial's timeout (30 s)
// and the plain TCP connection's (2 s) where the kernel never reports the
// refusal of an MPTCP connection (Linux 5.10).
func TestGetUnreachableSaysWhy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	code, _, errs := runCmd(t, "get", "http://"+addr+"/")
	took := time.Since(start)
	if code != exitFail || !strings.Contains(errs, "cannot fetch") || !strings.Contains(errs, "connection refused") || took > 40*time.Second {
		t.Errorf("get from a closed port: status %d after %v, stderr %q", code, took.Round(time.Millisecond), errs)
	}
}

func TestServePortInUseSaysWhy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, _, errs := runCmd(t, "serve", "-addr", l.Addr().String())
	if code != exitFail || !strings.Contains(errs, "address already in use") {
		t.Errorf("serve on a port in use: status %d, stderr %q", code, errs)
	}
}

// startServe runs serve on loopback until the test ends and returns its
// address.
func startServe(t *testing.T, cert, key string) string {
	t.Helper()
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServeOn(t, ln, cert, key)
}

func startServeOn(t *testing.T, ln net.Listener, cert, key string) string {
	t.Helper()
	var opts serveOptions
	if cert != "" {
		c, err := loadCert(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		opts.tlsCert = &c
	}
	startServer(t, ln, opts)
	return ln.Addr().String()
}

// startServer runs the server of serve with opts on ln until the test
// ends.
func startServer(t *testing.T, ln net.Listener, opts serveOptions) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	opts.errorLog = log.New(&stderr, "", 0)
	srv := newServer(opts)
	go func() { done <- srv.run(ctx, ln, io.Discard, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve exited with %d: %s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop within 10s")
		}
	})
	return srv
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestServeCurlSeesTCP(t *testing.T) {
	curl := requireTool(t, "curl")
	addr := startServe(t, "", "")
	out := runTool(t, curl, "-sS", "--max-time", "10", "http://"+addr+"/")
	if !strings.Contains(out, ": not MPTCP (") {
		t.Errorf("plain curl: %q, want a report of plain TCP", out)
	}
}

func TestServeMPTCPizedCurlSeesItsSubflow(t *testing.T) {
	curl := requireTool(t, "curl")
	mptcpize := requireTool(t, "mptcpize")
	addr := startServe(t, "", "")
	out := runTool(t, mptcpize, "run", curl, "-sS", "--max-time", "10", "-w", "curl-local %{local_ip}:%{local_port}\n", "http://"+addr+"/")
	m := regexp.MustCompile(`curl-local (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("curl printed no local address: %q", out)
	}
	if !strings.Contains(out, ": MPTCP, token ") {
		t.Errorf("curl under mptcpize: %q, want a report of MPTCP", out)
	}
	// The server's subflow row names curl's own address as its remote end.
	row := regexp.MustCompile(`(?m)^  1\s+` + regexp.QuoteMeta(addr) + `\s+` + regexp.QuoteMeta(m[1]) + `\s+ESTABLISHED`)
	if !row.MatchString(out) {
		t.Errorf("no subflow %s -> %s in the report:\n%s", addr, m[1], out)
	}
}

// getJSON fetches url with an MPTCP dialer and decodes the report.
func getJSON(t *testing.T, client *http.Client, url string, header http.Header) (answer, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("decoding %s: %v", url, err)
	}
	return a, resp.Header.Get("Content-Type")
}

func mptcpClient(t *testing.T, tlsConfig *tls.Config) (*http.Client, *capturedConn) {
	var cc capturedConn
	tr := &http.Transport{DialContext: cc.dial(&mptcp.Dialer{Timeout: 5 * time.Second}), TLSClientConfig: tlsConfig}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, &cc
}

func TestServeJSONForMPTCPClient(t *testing.T) {
	testbed.RequireMPTCP(t)
	addr := startServe(t, "", "")
	client, cc := mptcpClient(t, nil)
	for _, tc := range []struct {
		url    string
		header http.Header
	}{
		{"http://" + addr + "/?format=json", nil},
		{"http://" + addr + "/", http.Header{"Accept": {"application/json"}}},
	} {
		a, ctype := getJSON(t, client, tc.url, tc.header)
		if ctype != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.url, ctype)
		}
		c := a.Connection
		local := cc.get().LocalAddr().String()
		if !c.MPTCP || c.Token == "" || len(c.Subflows) != 1 || c.Subflows[0].Remote != local || c.Remote != local {
			t.Errorf("%s: report %+v; want MPTCP with one subflow from %s", tc.url, c, local)
		}
	}
}

func TestServeHTMLPageInChromium(t *testing.T) {
	chromium := requireTool(t, "chromium")
	addr := startServe(t, "", "")
	dom := runTool(t, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=3500", "--dump-dom", "http://"+addr+"/")
	for _, want := range []string{
		"<title>Am I using MPTCP?</title>",
		`<section id="verdict" class="verdict no">`, // Chromium speaks plain TCP
		` → <span class="addr">` + addr + `</span>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q:\n%s", want, dom)
		}
	}
	// The script refreshed the table from the server at least once. The
	// browser loads the stylesheet and the script over two connections
	// at once, and the refresh may use either: the page says which.
	m := regexp.MustCompile(`<span id="updates">(\d+)</span>; over the same connection: <span id="same">(yes|no \(now 127\.0\.0\.1:\d+\))</span>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no live-update status in the rendered page:\n%s", dom)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Errorf("live updates %s; want >= 1", m[1])
	}
}

func TestServeTLSFindsTheConnection(t *testing.T) {
	testbed.RequireMPTCP(t)
	certFile, keyFile, pool := testbed.SelfSignedCert(t)
	addr := startServe(t, certFile, keyFile)
	client, cc := mptcpClient(t, &tls.Config{RootCAs: pool})
	a, _ := getJSON(t, client, "https://"+addr+"/?format=json", nil)
	if c := a.Connection; !c.MPTCP || len(c.Subflows) != 1 || c.Remote != cc.get().LocalAddr().String() {
		t.Errorf("report over TLS: %+v; want MPTCP with the client's subflow", c)
	}
}

func TestServeSurvivesSlowAndMalformedClients(t *testing.T) {
	testbed.RequireMPTCP(t)
	addr := startServe(t, "", "")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 60 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		switch i % 3 {
		case 0: // slow: half a request line, then nothing
			io.WriteString(c, "GET / HT")
		case 1: // malformed
			io.WriteString(c, "\x00\x01 garbage \r\n\r\n")
		case 2: // a header too large
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 32<<10)+"\r\n\r\n")
		}
	}
	client, _ := mptcpClient(t, nil)
	client.Timeout = 3 * time.Second
	a, _ := getJSON(t, client, "http://"+addr+"/?format=json", nil)
	if !a.Connection.MPTCP {
		t.Errorf("report during the burst: %+v", a.Connection)
	}

	// The large header got 431, not a crash or a hang.
	big := conns[2]
	big.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, _ := io.ReadAll(io.LimitReader(big, 64))
	if !strings.HasPrefix(string(status), "HTTP/1.1 431") {
		t.Errorf("oversized header answered %q, want 431", status)
	}

	// Whatever a client puts in the path comes back escaped.
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/%3Cscript%3Ealert(1)%3C/script%3E", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "<script>alert") || !strings.Contains(string(body), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("path not escaped in the page:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != contentSecurityPolicy || !strings.HasPrefix(csp, "default-src 'self';") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	// Other methods and bad downloads are refused cleanly.
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/download?size=-1", http.StatusBadRequest},
		{http.MethodGet, "/download?size=99999999999", http.StatusBadRequest},
		{http.MethodGet, "/download?size=10", http.StatusOK},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, strings.NewReader("x"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}
