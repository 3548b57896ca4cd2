package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// doctorIn runs "mptcpcheck doctor" inside ns.
func doctorIn(t *testing.T, ns *testbed.NS, args ...string) (int, string) {
	t.Helper()
	var code int
	var out, errs bytes.Buffer
	if err := ns.Do(func() error {
		code = run(context.Background(), append([]string{"doctor"}, args...), &out, &errs)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return code, out.String() + errs.String()
}

func TestDoctorSaysWhatToChange(t *testing.T) {
	b := testbed.New(t, 2)

	// The test bed's client: limits up, no endpoint yet.
	code, out := doctorIn(t, b.Client)
	if code != exitOK || !strings.Contains(out, "limits: add_addr_accepted 8 subflows 8") ||
		!strings.Contains(out, "endpoints: none") || !strings.Contains(out, "ip mptcp endpoint add ADDR dev DEV subflow") {
		t.Errorf("client without endpoints: status %d\n%s", code, out)
	}

	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	code, out = doctorIn(t, b.Client)
	if code != exitOK || !strings.Contains(out, "more than one subflow: ready") || !strings.Contains(out, b.Links[1].Client.String()) {
		t.Errorf("client with a subflow endpoint: status %d\n%s", code, out)
	}

	b.Client.IP("mptcp", "limits", "set", "subflows", "0", "add_addr_accepted", "0")
	code, out = doctorIn(t, b.Client, "-json")
	var report struct {
		PathManager struct {
			Limits    limitsJSON     `json:"limits"`
			Endpoints []endpointJSON `json:"endpoints"`
		} `json:"path_manager"`
		MoreSubflows []string              `json:"more_subflows_needs"`
		Explanations []explain.Explanation `json:"explanations"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("doctor -json: %v\n%s", err, out)
	}
	if code != exitOK || len(report.PathManager.Endpoints) != 1 || len(report.MoreSubflows) != 1 ||
		!strings.Contains(strings.Join(report.MoreSubflows, "\n"), "ip mptcp limits set subflows") ||
		len(report.Explanations) != 1 || report.Explanations[0].Code != explain.SubflowLimit {
		t.Errorf("limits at 0: status %d, %+v", code, report)
	}

	b.Server.Sysctl("net.mptcp.enabled", "0")
	code, out = doctorIn(t, b.Server)
	if code != exitFail || !strings.Contains(out, "MPTCP is disabled: run sysctl -w net.mptcp.enabled=1") {
		t.Errorf("MPTCP disabled: status %d\n%s", code, out)
	}
}

// snakeCase matches the keys of mptcpcheck's JSON: lower-case words
// joined by '_'.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkJSONStyle reports every key of v, a decoded JSON document, that is
// not snake_case, and every null where doctor promises a list.
func checkJSONStyle(t *testing.T, path string, v any, lists map[string]bool) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snakeCase.MatchString(k) {
				t.Errorf("key %s.%s is not snake_case", path, k)
			}
			if x == nil && lists[k] {
				t.Errorf("list %s.%s is null, want []", path, k)
			}
			checkJSONStyle(t, path+"."+k, x, lists)
		}
	case []any:
		for i, x := range v {
			checkJSONStyle(t, fmt.Sprintf("%s[%d]", path, i), x, lists)
		}
	}
}

// doctor -json has snake_case keys only, at every depth, and its lists
// are present and [] when empty, never null: with no endpoint and nothing
// to change, and with an endpoint and things to change.
func TestDoctorJSONStyle(t *testing.T) {
	b := testbed.New(t, 2)
	lists := map[string]bool{"problems": true, "notes": true, "endpoints": true, "more_subflows_needs": true, "flags": true, "explanations": true, "evidence": true}
	check := func(name string) {
		t.Helper()
		code, out := doctorIn(t, b.Client, "-json")
		var doc map[string]any
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%s: doctor -json: status %d: %v\n%s", name, code, err, out)
		}
		checkJSONStyle(t, name, doc, lists)
		host, _ := doc["host"].(map[string]any)
		pmgr, _ := doc["path_manager"].(map[string]any)
		for _, l := range []struct {
			m   map[string]any
			key string
		}{{host, "problems"}, {host, "notes"}, {pmgr, "endpoints"}, {doc, "more_subflows_needs"}, {doc, "explanations"}} {
			if _, ok := l.m[l.key].([]any); !ok {
				t.Errorf("%s: %q is %v, want a list\n%s", name, l.key, l.m[l.key], out)
			}
		}
		if t.Failed() {
			t.Logf("%s:\n%s", name, out)
		}
	}
	// An endpoint for the second link, a signal one for the first: ready,
	// nothing to change.
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	b.Endpoint(b.Client, b.Links[0].Client, "signal")
	check("ready")
	b.Client.IP("mptcp", "endpoint", "flush")
	b.Client.IP("mptcp", "limits", "set", "subflows", "0", "add_addr_accepted", "0")
	check("no endpoint")
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// monitor sees the events of a connection of its namespace: run inside
// it, or from this test's namespace with -netns naming it.
func TestMonitorShowsTheConnectionsEvents(t *testing.T) {
	for _, tc := range []struct {
		asJSON, netns bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		asJSON := tc.asJSON
		t.Run(fmt.Sprintf("json=%v,netns=%v", asJSON, tc.netns), func(t *testing.T) {
			b := testbed.New(t, 2)
			b.Endpoint(b.Client, b.Links[1].Client, "subflow")
			ctx, cancel := context.WithCancel(context.Background())
			var out syncBuffer
			done := make(chan int, 1)
			args := []string{"monitor"}
			if asJSON {
				args = append(args, "-json")
			}
			started := make(chan struct{})
			if tc.netns {
				args = append(args, "-netns", b.Client.Name)
				go func() {
					close(started)
					done <- run(ctx, args, &out, &out)
				}()
			} else {
				go b.Client.Do(func() error {
					close(started)
					done <- run(ctx, args, &out, &out)
					return nil
				})
			}
			<-started
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "watching path manager events"); {
				select {
				case code := <-done:
					cancel()
					requireMonitorEvents(t, code, out.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("monitor did not subscribe within 5s: %s", out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}

			ln := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", ":0") })
			go func() {
				if c, err := ln.Accept(); err == nil {
					buf := make([]byte, 1)
					c.Read(buf)
					c.Write(buf)
					time.Sleep(time.Second)
					c.Close()
				}
			}()
			dial := b.Client.Dialer((&mptcp.Dialer{Timeout: 5 * time.Second}).DialContext)
			c, err := dial(ctx, "tcp", net.JoinHostPort(b.Links[0].Server.String(), fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte{1})
			c.Read(make([]byte, 1))
			info, err := c.(*mptcp.MPTCPConn).MPTCPInfo()
			if err != nil {
				t.Fatal(err)
			}
			token := fmt.Sprintf("%08x", info.Token)

			want := []string{"created", "established", "sub_established"}
			deadline := time.Now().Add(10 * time.Second)
			for !hasEvents(out.String(), token, want, asJSON) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			select {
			case code := <-done:
				if code != exitOK {
					t.Errorf("monitor exited with %d", code)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("monitor did not stop when its context ended")
			}
			if !hasEvents(out.String(), token, want, asJSON) {
				t.Errorf("monitor output lacks %v for token %s:\n%s", want, token, out.String())
			}
		})
	}
}

// hasEvents reports whether out has each event type for token.
func hasEvents(out, token string, types []string, asJSON bool) bool {
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if asJSON {
			var r eventRecord
			if json.Unmarshal([]byte(line), &r) == nil && r.Token == token {
				seen[r.Type] = true
			}
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "token="+token {
			seen[f[0]] = true
		}
	}
	for _, ty := range types {
		if !seen[ty] {
			return false
		}
	}
	return true
}

// doctor and why agree: for each explanation code a host can be the
// cause of, a connection that shows it gets it from why and the host gets
// it from doctor (-json's explanations, and a failing status for the
// codes that leave no MPTCP at all); for codes that lie with the
// connection's path or server, doctor finds nothing wrong with the host.
// Every scenario is the test bed's client, with its limits set to the
// kernel's defaults (subflows 2, add_addr_accepted 0) first. Where the
// kernel lacks the evidence a scenario's cause rests on (lacks: a
// counter, or the path manager's events), why says unknown and names
// it, and doctor, which sees the host alone, finds nothing to change.
func TestDoctorAndWhyAgree(t *testing.T) {
	hostLevel := map[string]bool{explain.Unsupported: true, explain.MPTCPDisabled: true, explain.BlackholeDetected: true,
		explain.NoEndpoint: true, explain.SubflowLimit: true, explain.BackupPath: true}
	for _, tc := range []struct {
		name   string
		setup  func(b *testbed.Bed)
		plain  bool     // the server listens with plain TCP
		silent bool     // the server sends no banner
		why    []string // why's codes; doctor's are those of them that are host-level
		lacks  string   // the counter, or "events", why's codes rest on
	}{
		// One subflow endpoint added: two subflows, and doctor ready,
		// although the client accepts no announced address.
		{"subflow endpoint", func(b *testbed.Bed) { b.Endpoint(b.Client, b.Links[1].Client, "subflow") }, false, false, nil, ""},
		{"no endpoint", func(b *testbed.Bed) {}, false, false, []string{"no-endpoint"}, ""},
		{"subflow limit", func(b *testbed.Bed) {
			b.Endpoint(b.Client, b.Links[1].Client, "subflow")
			b.Client.IP("mptcp", "limits", "set", "subflows", "0", "add_addr_accepted", "0")
		}, false, false, []string{"subflow-limit"}, ""},
		{"disabled", func(b *testbed.Bed) { b.Client.Sysctl("net.mptcp.enabled", "0") }, false, false, []string{"mptcp-disabled"}, ""},
		{"userspace path manager", func(b *testbed.Bed) {
			b.Endpoint(b.Client, b.Links[1].Client, "subflow")
			b.Client.Sysctl("net.mptcp.pm_type", "1")
		}, false, false, []string{"no-endpoint"}, ""},
		{"server without MPTCP", func(b *testbed.Bed) { b.Endpoint(b.Client, b.Links[1].Client, "subflow") }, true, false, []string{"server-no-mptcp", "option-stripped"}, ""},
		{"join dropped", func(b *testbed.Bed) {
			b.Endpoint(b.Client, b.Links[1].Client, "subflow")
			b.Server.Run("iptables", "-A", "INPUT", "-i", b.Links[1].ServerDev, "-p", "tcp", "--syn", "-j", "DROP")
		}, false, false, []string{"join-pending"}, ""},
		{"join without a route", routelessEndpoint, false, false, []string{"join-failed"}, "MPJoinSynTxConnectErr"},
		{"backup endpoint", func(b *testbed.Bed) { b.Endpoint(b.Client, b.Links[1].Client, "subflow", "backup") }, false, false, []string{"backup-path"}, ""},
		{"silent server", func(b *testbed.Bed) { b.Endpoint(b.Client, b.Links[1].Client, "subflow") }, false, true, []string{"not-established"}, "events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testbed.New(t, 2)
			b.Client.IP("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
			missing := missingIn(t, b.Client)
			if tc.name == "userspace path manager" && slices.Contains(missing, "net.mptcp.pm_type") {
				testenv.SkipKernelLacks(t, "the userspace path manager (net.mptcp.pm_type)", "5.19")
			}
			whyCodes := tc.why
			if (tc.lacks == "events" && eventsMissing(t, b.Client)) || slices.Contains(missing, tc.lacks) {
				t.Logf("this kernel lacks %s: why must say unknown and name it", tc.lacks)
				whyCodes = []string{explain.Unknown}
			}
			tc.setup(b)
			banner := "hello\n"
			if tc.silent {
				banner = ""
			}
			addr := bannerServer(t, b, !tc.plain, banner)
			rep := whyIn(t, b.Client, "-wait", "1s", addr)
			wantCodes(t, rep, whyCodes...)
			if slices.Equal(whyCodes, []string{explain.Unknown}) {
				name := tc.lacks
				if name == "events" {
					name = "path manager events unavailable"
				}
				if e := rep.Explanations[0]; !e.Inference || !strings.Contains(strings.Join(e.Evidence, "\n"), name) {
					t.Errorf("unknown does not name %s as missing: %+v", name, e)
				}
			}

			code, out := doctorIn(t, b.Client, "-json")
			var doc doctorReport
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("doctor -json: %v\n%s", err, out)
			}
			var want, got []string
			wantCode := exitOK
			for _, c := range whyCodes {
				if hostLevel[c] {
					want = append(want, c)
				}
				if explain.Unusable(c) {
					wantCode = exitFail
				}
			}
			for _, e := range doc.Explanations {
				got = append(got, e.Code)
			}
			// A backup path is a note, not a change to make.
			needs := slices.DeleteFunc(slices.Clone(want), func(c string) bool { return c == explain.BackupPath })
			if fmt.Sprint(got) != fmt.Sprint(want) || code != wantCode || (len(needs) == 0) != (len(doc.MoreSubflows) == 0) {
				t.Errorf("why says %v; doctor: status %d, explanations %v, more_subflows_needs %q; want status %d and %v\n%s",
					whyCodes, code, got, doc.MoreSubflows, wantCode, want, out)
			}
		})
	}
}

// doctor -netns reports that namespace, not the caller's: its sysctl,
// limits and endpoints, the same as doctor run inside it.
func TestDoctorNetNS(t *testing.T) {
	testbed.RequireMPTCP(t) // the namespace's limits and endpoints
	ns := testbed.NewNS(t)
	ns.IP("mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "5")
	ns.IP("mptcp", "endpoint", "add", "192.0.2.7", "dev", "lo", "subflow")
	ns.Sysctl("net.mptcp.enabled", "0")

	code, out, errs := runCmd(t, "doctor", "-json", "-netns", ns.Name)
	var r doctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor -netns %s: status %d, %v\n%s%s", ns.Name, code, err, out, errs)
	}
	if l := r.PathManager.Limits; l == nil || l.Subflows != 3 || l.AddAddrAccepted != 5 {
		t.Errorf("limits %+v, want the namespace's: subflows 3, add_addr_accepted 5", l)
	}
	if len(r.PathManager.Endpoints) != 1 || r.PathManager.Endpoints[0].Address != "192.0.2.7" {
		t.Errorf("endpoints %+v, want the namespace's 192.0.2.7 alone", r.PathManager.Endpoints)
	}
	if code != exitFail || !slices.ContainsFunc(r.Host.Problems, func(p string) bool { return strings.Contains(p, "MPTCP is disabled") }) {
		t.Errorf("status %d, problems %q: want 1 and net.mptcp.enabled=0 among them", code, r.Host.Problems)
	}

	// The same as doctor inside the namespace, and by its path.
	codeIn, outIn := doctorIn(t, ns, "-json")
	if codeIn != code || outIn != out {
		t.Errorf("doctor inside the namespace: status %d\n%s\ndoctor -netns: status %d\n%s", codeIn, outIn, code, out)
	}
	if code, byPath, errs := runCmd(t, "doctor", "-json", "-netns", ns.Path()); code != exitFail || byPath != out {
		t.Errorf("-netns %s: status %d\n%s%s", ns.Path(), code, byPath, errs)
	}

	if code, out, errs := runCmd(t, "doctor", "-netns", "mptcpcheck-no-such-namespace"); code != exitFail || out != "" || !strings.Contains(errs, "/run/netns/mptcpcheck-no-such-namespace") {
		t.Errorf("-netns naming nothing: status %d, %q, %q; want 1 and the path in the error", code, out, errs)
	}
}
