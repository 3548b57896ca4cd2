package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// binDir holds the exporter binary the tests build, once for all of them.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// exporterBinary builds the exporter with the go command that runs the
// tests (or copies the prebuilt one: testenv.BuildCommand), once, and
// returns its path. The tests run it as a process, as
// it is deployed: its flags, its exit status, its listeners.
func exporterBinary(t *testing.T) string {
	t.Helper()
	testenv.RequireCommand(t)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "mptcp_exporter_test")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(binDir, "mptcp_exporter")
		if runtime.GOOS == "windows" {
			buildPath += ".exe"
		}
		buildErr = testenv.BuildCommand(buildPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// listeningRE finds the address exporter-toolkit logs once it listens.
var listeningRE = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// exporter is a running exporter process.
type exporter struct {
	addr    string        // the address it listens on, host:port
	cmd     *exec.Cmd     // its process
	exited  chan struct{} // closed once it has ended and waitErr is set
	waitErr error         // what cmd.Wait returned
	log     *bytes.Buffer // its standard error, for failure messages
	mu      *sync.Mutex   // guards log
}

// Log returns what the exporter logged so far.
func (e *exporter) Log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

// startExporter runs the exporter with args on a port of 127.0.0.1 the
// kernel chooses, waits up to 10 s for it to listen, and stops it when
// the test ends.
func startExporter(t *testing.T, args ...string) *exporter {
	t.Helper()
	return startExporterWith(t, nil, args...)
}

// startExporterWith is startExporter with the process attributes attr:
// its user and capabilities, as a service manager would set them.
func startExporterWith(t *testing.T, attr *syscall.SysProcAttr, args ...string) *exporter {
	t.Helper()
	cmd := exec.Command(exporterBinary(t), append([]string{"--web.listen-address=127.0.0.1:0"}, args...)...)
	cmd.SysProcAttr = attr
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &exporter{cmd: cmd, exited: make(chan struct{}), log: new(bytes.Buffer), mu: new(sync.Mutex)}
	found := make(chan string, 1)
	done := make(chan struct{}) // closed when its standard error ends
	go func() {
		defer close(e.exited)
		defer func() { e.waitErr = cmd.Wait() }() // after the last read of the pipe
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.mu.Lock()
			e.log.WriteString(sc.Text() + "\n")
			e.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill() // fails harmlessly when it has ended
		<-e.exited
		if t.Failed() {
			t.Logf("exporter's log:\n%s", e.Log())
		}
	})
	select {
	case e.addr = <-found:
	case <-done:
		t.Fatalf("the exporter ended before listening:\n%s", e.Log())
	case <-time.After(10 * time.Second):
		t.Fatalf("the exporter did not listen within 10 s:\n%s", e.Log())
	}
	return e
}

// A --netns that is not a network namespace, and an unknown flag, stop
// the exporter with the usage status and a message naming the flag,
// before it listens.
func TestFlagErrors(t *testing.T) {
	bin := exporterBinary(t)
	notNS := filepath.Join(t.TempDir(), "not-a-namespace")
	if err := os.WriteFile(notNS, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	badYAML := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(badYAML, []byte("tls_server_config: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missingCert := filepath.Join(t.TempDir(), "missing-cert.yml")
	if err := os.WriteFile(missingCert, []byte("tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string // in the error message
	}{
		{[]string{"--web.config.file", "/nonexistent/web.yml"}, []string{"--web.config.file", "/nonexistent/web.yml"}},
		{[]string{"--web.config.file", badYAML}, []string{"--web.config.file", badYAML}},
		{[]string{"--web.config.file", missingCert}, []string{"--web.config.file", "/nonexistent/cert.pem"}},
		{[]string{"--netns", "/nonexistent/netns"}, []string{"--netns", onLinux("/nonexistent/netns")}},
		{[]string{"--netns", notNS}, []string{"--netns", onLinux(notNS)}},
		{[]string{"--no-such-flag"}, []string{"no-such-flag"}},
		{[]string{"--web.telemetry-path", "metrics"}, []string{"--web.telemetry-path"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, append([]string{"--web.listen-address=127.0.0.1:0"}, tc.args...)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
				t.Fatalf("exit: %v, want status %d\nstderr:\n%s", err, exitUsage, stderr.String())
			}
			msg := stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "Listening on") {
				t.Errorf("it listened before failing:\n%s", msg)
			}
		})
	}
}

// onLinux returns s on Linux and "" elsewhere, where the collector
// refuses every namespace without naming it.
func onLinux(s string) string {
	if runtime.GOOS == "linux" {
		return s
	}
	return ""
}

// --version prints the program's name and exits 0.
func TestVersion(t *testing.T) {
	out, err := exec.Command(exporterBinary(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "mptcp_exporter, version ") {
		t.Errorf("--version printed %q", out)
	}
}

// With a web configuration file of TLS and basic auth, the exporter
// serves HTTPS only, refuses a request without credentials or with
// wrong ones (401) and serves the metrics with the right ones.
func TestTLSBasicAuth(t *testing.T) {
	certFile, keyFile, pool := testbed.SelfSignedCert(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n",
		certFile, keyFile, hash)
	configFile := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, "--web.config.file="+configFile)

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	get := func(scheme, user, password string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", scheme+"://"+e.addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s as %q: %v", req.URL, user, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if code, _ := get("https", "", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: status %d, want 401", code)
	}
	if code, _ := get("https", "prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("with a wrong password: status %d, want 401", code)
	}
	code, body := get("https", "prometheus", "s3cret")
	if code != http.StatusOK {
		t.Fatalf("with credentials: status %d, want 200:\n%s", code, body)
	}
	for _, want := range []string{"mptcp_scrape_collector_success{", "mptcp_exporter_build_info{", "process_", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics lack %q", want)
		}
	}
	// Plain HTTP to the TLS listener gets Go's 400, not the metrics.
	if code, body := get("http", "prometheus", "s3cret"); code != http.StatusBadRequest {
		t.Errorf("plain HTTP: status %d, want 400:\n%s", code, body)
	}
}

// The landing page links to the metrics, and a custom telemetry path
// moves them.
func TestLandingPageAndTelemetryPath(t *testing.T) {
	e := startExporter(t, "--web.telemetry-path=/custom")
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + e.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, `href="/custom"`) {
		t.Errorf("landing page: status %d, link to /custom missing:\n%s", code, body)
	}
	if code, body := get("/custom"); code != http.StatusOK || !strings.Contains(body, "mptcp_scrape_collector_success") {
		t.Errorf("/custom: status %d:\n%s", code, body)
	}
}
