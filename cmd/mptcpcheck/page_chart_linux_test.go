package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
)

// devtools drives a Chromium started with --remote-debugging-pipe: the
// DevTools protocol, as JSON messages ended by a NUL byte, over the
// browser's descriptors 3 (commands in) and 4 (answers and events out).
// It needs no WebSocket, so no dependency.
type devtools struct {
	t   *testing.T
	w   *os.File
	mu  sync.Mutex
	id  int
	res map[int]chan json.RawMessage
	// problems collects what the page logged as an error: exceptions,
	// console errors and Content-Security-Policy violations.
	problems []string
	session  string
}

type devtoolsMsg struct {
	ID        int             `json:"id"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	Result    json.RawMessage `json:"result"`
	Error     json.RawMessage `json:"error"`
	SessionID string          `json:"sessionId"`
}

// startChromiumDevtools starts Chromium in ns under mptcpize, so that
// its connections are MPTCP, and returns a client of its DevTools pipe.
// The browser is stopped when the test ends.
func startChromiumDevtools(t *testing.T, ns *testbed.NS, chromium, mptcpize string) *devtools {
	t.Helper()
	cmdIn, toBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowser, cmdOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	args := append([]string{"netns", "exec", ns.Name, mptcpize, "run", chromium}, chromiumArgs(t)...)
	args = append(args, "--remote-debugging-pipe", "about:blank")
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.ExtraFiles = []*os.File{cmdIn, cmdOut} // descriptors 3 and 4
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	cmdIn.Close()
	cmdOut.Close()
	d := &devtools{t: t, w: toBrowser, res: map[int]chan json.RawMessage{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(fromBrowser)
		for {
			b, err := r.ReadBytes(0)
			if err != nil {
				return
			}
			var m devtoolsMsg
			if json.Unmarshal(b[:len(b)-1], &m) != nil {
				continue
			}
			d.mu.Lock()
			if m.ID != 0 {
				if ch := d.res[m.ID]; ch != nil {
					if m.Error != nil {
						ch <- append(json.RawMessage(`{"error":`), append(m.Error, '}')...)
					} else {
						ch <- m.Result
					}
					delete(d.res, m.ID)
				}
			} else if p := devtoolsProblem(m.Method, m.Params); p != "" {
				d.problems = append(d.problems, p)
			}
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		// Ask the browser to quit, then make sure it does.
		d.send("Browser.close", nil, "")
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		cancel()
		cmd.Wait()
		toBrowser.Close()
		fromBrowser.Close()
		if t.Failed() {
			t.Logf("chromium's stderr:\n%s", stderr.String())
		}
	})
	return d
}

// devtoolsProblem words an event that reports an error of the page, or
// returns "".
func devtoolsProblem(method string, params json.RawMessage) string {
	switch method {
	case "Runtime.exceptionThrown":
		return "exception: " + string(params)
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string `json:"type"`
		}
		json.Unmarshal(params, &p)
		if p.Type == "error" || p.Type == "assert" {
			return "console: " + string(params)
		}
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level  string `json:"level"`
				Source string `json:"source"`
				Text   string `json:"text"`
			} `json:"entry"`
		}
		json.Unmarshal(params, &p)
		if p.Entry.Level == "error" || p.Entry.Source == "security" {
			return "log: " + p.Entry.Source + ": " + p.Entry.Text
		}
	}
	return ""
}

// send sends a command and does not wait for its answer.
func (d *devtools) send(method string, params any, session string) chan json.RawMessage {
	d.mu.Lock()
	d.id++
	id := d.id
	ch := make(chan json.RawMessage, 1)
	d.res[id] = ch
	d.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, _ := json.Marshal(msg)
	d.w.Write(append(b, 0))
	return ch
}

// call sends a command to the page's session (or the browser's when
// none is attached yet) and returns its result.
func (d *devtools) call(method string, params any) json.RawMessage {
	d.t.Helper()
	select {
	case res := <-d.send(method, params, d.session):
		if strings.HasPrefix(string(res), `{"error":`) {
			d.t.Fatalf("devtools %s: %s", method, res)
		}
		return res
	case <-time.After(20 * time.Second):
		d.t.Fatalf("devtools %s: no answer within 20s", method)
		return nil
	}
}

// eval evaluates a JavaScript expression in the page and stores its
// value, which must be JSON, in v.
func (d *devtools) eval(expr string, v any) {
	d.t.Helper()
	res := d.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil || r.ExceptionDetails != nil {
		d.t.Fatalf("evaluate %s: %v %s", expr, err, res)
	}
	if err := json.Unmarshal(r.Result.Value, v); err != nil {
		d.t.Fatalf("evaluate %s: %v: %s", expr, err, r.Result.Value)
	}
}

// open attaches to the browser's page and loads url in it, with the
// events that report the page's errors enabled first.
func (d *devtools) open(url string) {
	d.t.Helper()
	var targets struct {
		TargetInfos []struct {
			TargetID string `json:"targetId"`
			Type     string `json:"type"`
		} `json:"targetInfos"`
	}
	json.Unmarshal(d.call("Target.getTargets", nil), &targets)
	target := ""
	for _, ti := range targets.TargetInfos {
		if ti.Type == "page" {
			target = ti.TargetID
		}
	}
	if target == "" {
		d.t.Fatalf("chromium has no page: %+v", targets)
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	json.Unmarshal(d.call("Target.attachToTarget", map[string]any{"targetId": target, "flatten": true}), &att)
	d.session = att.SessionID
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		d.call(domain, nil)
	}
	d.call("Page.navigate", map[string]any{"url": url})
}

func (d *devtools) pageProblems() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.problems...)
}

// TestServePageChartInChromium loads the page in headless Chromium made
// MPTCP by mptcpize, in the client namespace of a test bed with two
// links and a client subflow endpoint, while serve runs in the server
// namespace. The page must say MPTCP with 2 subflows and list them, and
// its download test must draw one series per subflow, each with several
// non-zero rates; when a link fails, its subflow's series must drop to 0
// while the other goes on; and no error may be logged (a
// Content-Security-Policy violation included).
func TestServePageChartInChromium(t *testing.T) {
	chromium := requireTool(t, "chromium")
	mptcpize := requireTool(t, "mptcpize")
	b := testbed.New(t, 2)
	for i := range b.Links {
		b.Shape(i, "tbf rate 20mbit burst 32kbit latency 50ms")
	}
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	ln := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", ":0") })
	startServer(t, ln, serveOptions{})
	url := fmt.Sprintf("http://%v/", netip.AddrPortFrom(b.Links[0].Server, uint16(ln.Addr().(*net.TCPAddr).Port)))

	d := startChromiumDevtools(t, b.Client, chromium, mptcpize)
	d.open(url)

	// The verdict and the table, as app.js refreshes them (so app.js
	// runs, and its button works): the second subflow joins once data
	// has flowed.
	var page struct {
		Updates string     `json:"updates"`
		Verdict string     `json:"verdict"`
		Rows    []string   `json:"rows"`
		Cells   [][]string `json:"cells"`
	}
	const readPage = `(document.readyState === "complete" ? {
		updates: document.getElementById("updates").textContent,
		verdict: document.getElementById("verdict-text").textContent,
		rows: [...document.querySelectorAll("#subflows tr")].map((tr) => tr.textContent),
		cells: [...document.querySelectorAll("#subflows tr")].map((tr) => [...tr.cells].map((td) => td.textContent))} : {})`
	deadline := time.Now().Add(20 * time.Second)
	for {
		d.eval(readPage, &page)
		if page.Updates != "" && page.Updates != "0" &&
			page.Verdict == "Your connection uses MPTCP with 2 subflows." && len(page.Rows) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s the page says %q with rows %q; want MPTCP with 2 subflows", page.Verdict, page.Rows)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for i, l := range b.Links {
		if !strings.Contains(strings.Join(page.Rows, "\n"), l.Client.String()+":") {
			t.Errorf("no subflow row from %v (link %d): %q", l.Client, i, page.Rows)
		}
	}
	// The columns of the text's table, the RTT as time.Duration prints
	// it (app.js formats it, page.go the same).
	rtt := regexp.MustCompile(`^\d+(\.\d+)?(µs|ms|s)$`)
	for _, row := range page.Cells {
		if len(row) != 10 || !rtt.MatchString(row[4]) {
			t.Errorf("subflow row %q: want 10 cells, the RTT as 48µs or 1.25ms", row)
		}
	}

	// The download test: one series per subflow, with rates.
	var started bool
	d.eval(`(document.getElementById("dl-start").click(), document.getElementById("dl-start").disabled)`, &started)
	if !started {
		t.Fatal("the download test's button did not start it")
	}
	type series struct {
		Subflow string `json:"subflow"`
		Rates   string `json:"rates"`
	}
	const readChart = `[...document.querySelectorAll("#chart polyline.series")].map((p) => ({subflow: p.dataset.subflow, rates: p.dataset.rates}))`
	nonZero := func(s series) int {
		n := 0
		for _, f := range strings.Fields(s.Rates) {
			if v, err := strconv.ParseFloat(f, 64); err == nil && v > 0 {
				n++
			}
		}
		return n
	}
	var chart []series
	var legend []string
	deadline = time.Now().Add(30 * time.Second)
	for {
		d.eval(readChart, &chart)
		ok := len(chart) == 2
		for _, s := range chart {
			ok = ok && nonZero(s) >= 2
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			var state []string
			d.eval(`[document.getElementById("dl-progress").textContent, document.getElementById("dl-error").textContent, String(document.getElementById("dl-start").disabled)]`, &state)
			t.Fatalf("after 30s the chart has %d series: %+v; want 2, each with 2 non-zero rates or more; the download test says %q", len(chart), chart, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
	d.eval(`[...document.querySelectorAll("#legend li")].map((li) => li.textContent)`, &legend)
	var unit string
	d.eval(`document.querySelector("#chart .unit").textContent`, &unit)
	if unit != "Mbit/s" || len(legend) != 2 {
		t.Errorf("chart unit %q, legend %q; want Mbit/s and 2 entries", unit, legend)
	}
	for i, l := range b.Links {
		found := false
		for j, s := range chart {
			if strings.Contains(s.Subflow, l.Client.String()+":") && strings.Contains(legend[j], s.Subflow) && strings.HasSuffix(legend[j], " Mbit/s") {
				found = true
			}
		}
		if !found {
			t.Errorf("no series named by the subflow from %v (link %d): %+v, legend %q", l.Client, i, chart, legend)
		}
	}
	t.Logf("chart: %+v", chart)

	// A path fails: the second link, which carries the subflow that
	// joined (the page's own requests go over the first). On the chart
	// that subflow's line drops to 0 and the other carries on.
	var dead, alive int
	for j, s := range chart {
		if strings.Contains(s.Subflow, b.Links[1].Client.String()+":") {
			dead = j
		} else {
			alive = j
		}
	}
	rates := func(s series) []float64 {
		var v []float64
		for _, f := range strings.Fields(s.Rates) {
			x, _ := strconv.ParseFloat(f, 64)
			v = append(v, x)
		}
		return v
	}
	before := len(rates(chart[alive]))
	// The path fails by dropping everything on it, in both directions,
	// rather than by taking its link down: a link or address that goes
	// away is a network change to Chromium, which then aborts requests
	// in flight (net::ERR_NETWORK_CHANGED) whatever path they take.
	dev := b.Links[1].ClientDev
	b.Client.Run("iptables", "-A", "OUTPUT", "-o", dev, "-j", "DROP")
	b.Client.Run("iptables", "-A", "INPUT", "-i", dev, "-j", "DROP")
	deadline = time.Now().Add(20 * time.Second)
	for {
		d.eval(readChart, &chart)
		if len(chart) == 2 {
			a, x := rates(chart[alive]), rates(chart[dead])
			if len(a) >= before+3 && a[len(a)-1] > 0 && a[len(a)-2] > 0 && x[len(x)-1] == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("20s after the second link failed, the chart is %+v; want the line of the subflow over it at 0 and the other's going on", chart)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("chart after the second link failed: %+v", chart)
	if p := d.pageProblems(); len(p) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}
