package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// wantDir checks that dir holds exactly the files of want, name to
// contents: no temporary file left behind.
func wantDir(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			got[e.Name()] = "(" + err.Error() + ")"
			continue
		}
		got[e.Name()] = string(b)
	}
	if len(got) != len(want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
		return
	}
	for name, body := range want {
		if got[name] != body {
			t.Errorf("%s/%s holds %q, want %q", dir, name, got[name], body)
		}
	}
}

// modeOf returns the permission bits of path.
func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// A fetch that fails leaves an existing -o file as it was, mode
// included, says so, and leaves no temporary file: a refused
// connection, an answer cut short, an error page.
func TestGetFailureKeepsFile(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/"
	l.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cut":
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, "only part")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ what, url, why string }{
		{"refused", refused, "connection refused"},
		{"cut", srv.URL + "/cut", "unexpected EOF"},
		{"404", srv.URL + "/missing", ""},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "saved")
			if err := os.WriteFile(out, []byte("the old body"), 0o640); err != nil {
				t.Fatal(err)
			}
			code, _, errs := runCmd(t, "get", "-timeout", closedPortTimeout, "-o", out, tc.url)
			if code != exitFail || !strings.Contains(errs, tc.why) || !strings.Contains(errs, out+" is unchanged") {
				t.Errorf("get -o: status %d, stderr %q; want status 1, %q and that %s is unchanged", code, errs, tc.why, out)
			}
			wantDir(t, dir, map[string]string{"saved": "the old body"})
			if m := modeOf(t, out); m != 0o640 {
				t.Errorf("mode %v, want 0640", m)
			}
		})
	}
	// With no file before, none after.
	dir := t.TempDir()
	out := filepath.Join(dir, "saved")
	if code, _, errs := runCmd(t, "get", "-timeout", closedPortTimeout, "-o", out, refused); code != exitFail || !strings.Contains(errs, out+" was not created") {
		t.Errorf("get -o a new file from a closed port: status %d, stderr %q", code, errs)
	}
	wantDir(t, dir, map[string]string{})
}

// A fetch that succeeds replaces an existing -o file, keeping its mode,
// and through a symbolic link replaces the file it names, keeping the
// link; a new file gets os.Create's mode; a device stays a device; no
// temporary file is left.
func TestGetSuccessReplacesFile(t *testing.T) {
	const body = "the new body"
	srv, _ := countingServer(t, body)
	dir := t.TempDir()
	get := func(out string) {
		t.Helper()
		if code, _, errs := runCmd(t, "get", "-o", out, srv.URL+"/"); code != exitOK {
			t.Fatalf("get -o %s: status %d, stderr %q", out, code, errs)
		}
	}

	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("the old body, longer than the new one"), 0o604); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o604) // past the umask
	get(old)
	if m := modeOf(t, old); m != 0o604 {
		t.Errorf("replaced file: mode %v, want 0604", m)
	}

	umask := syscall.Umask(0)
	syscall.Umask(umask)
	get(filepath.Join(dir, "new"))
	if m, want := modeOf(t, filepath.Join(dir, "new")), fs.FileMode(0o666&^umask); m != want {
		t.Errorf("new file: mode %v, want %v (0666 less the umask %03o)", m, want, umask)
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink("old", link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("before the link"), 0o604); err != nil {
		t.Fatal(err)
	}
	get(link)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link is no longer a symbolic link: %v, %v", fi, err)
	}
	wantDir(t, dir, map[string]string{"old": body, "new": body, "link": body})

	get(os.DevNull)
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("%s after get -o: %v, %v; want the character device", os.DevNull, fi, err)
	}
}

// Run as nobody (the built command), get refuses before the fetch an
// existing file it may not write, as os.Create refused it, though the
// directory would let a rename replace it; and a file it may write in a
// directory it may not, which it could only truncate, not replace.
func TestGetAsNobodyRefusesBeforeFetch(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "running the command as nobody needs root")
	}
	srv, requests := countingServer(t, "x")
	dir, err := os.MkdirTemp("", "mptcpcheck-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := testenv.Command(t, filepath.Join(dir, "mptcpcheck"))
	open, closed := filepath.Join(dir, "open"), filepath.Join(dir, "closed")
	for d, mode := range map[string]fs.FileMode{dir: 0o755, open: 0o777, closed: 0o755} {
		if err := os.MkdirAll(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	readOnly, inClosed := filepath.Join(open, "ro"), filepath.Join(closed, "rw")
	for name, mode := range map[string]fs.FileMode{readOnly: 0o444, inClosed: 0o666} {
		if err := os.WriteFile(name, []byte("keep"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ file, want string }{
		{readOnly, "-o: open " + readOnly + ": permission denied"},
		{inClosed, "-o: cannot make the file that replaces " + inClosed + " once the body is complete in " + closed + ": permission denied"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, "get", "-o", tc.file, srv.URL+"/")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		errs, err := cmd.CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitFail || !strings.Contains(string(errs), tc.want) || requests.Load() != 0 {
			t.Errorf("get -o %s, as nobody: %v, output %q, %d request(s); want status 1, %q and no request", tc.file, err, errs, requests.Load(), tc.want)
		}
		if b, _ := os.ReadFile(tc.file); string(b) != "keep" {
			t.Errorf("%s holds %q", tc.file, b)
		}
	}
}
