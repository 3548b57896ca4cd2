package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/multipath-go/mptcp/internal/explain"
)

func TestWhyUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout for status 0, else in stderr
	}{
		{[]string{"why", "-h"}, exitOK, "mptcpcheck why [-json] [-wait D] [-timeout D] ADDRESS|URL"},
		{[]string{"-h"}, exitOK, "mptcpcheck why [flags] ADDRESS|URL"},
		{[]string{"why"}, exitUsage, "want exactly one ADDRESS (host:port) or URL"},
		{[]string{"why", "a:1", "b:2"}, exitUsage, "want exactly one"},
		{[]string{"why", "example.net"}, exitUsage, `"example.net" is neither host:port nor an http:// or https:// URL`},
		{[]string{"why", "ftp://user:s3cret@example.net/"}, exitUsage, `"ftp://user:xxxxx@example.net/" is not an http:// or https:// URL`},
		{[]string{"why", "-wait", "-1s", "127.0.0.1:1"}, exitUsage, "-wait -1s: want 0 or more"},
		{[]string{"why", "-timeout", "0", "127.0.0.1:1"}, exitUsage, "-timeout 0s: want more than 0"},
		{[]string{"why", "-bogus", "127.0.0.1:1"}, exitUsage, "flag provided but not defined: -bogus"},
		// get's -wait is the same wait, with the same bounds.
		{[]string{"get", "-h"}, exitOK, "[-timeout D] [-wait D] URL"},
		{[]string{"get", "-wait", "-1s", "http://127.0.0.1:1/"}, exitUsage, "mptcpcheck get: -wait -1s: want 0 or more"},
	} {
		code, out, errs := runCmd(t, tc.args...)
		stream := errs
		if tc.code == exitOK {
			stream = out
		}
		if code != tc.code || !strings.Contains(stream, tc.want) {
			t.Errorf("mptcpcheck %q: status %d\nstdout: %s\nstderr: %s\nwant status %d and %q", tc.args, code, out, errs, tc.code, tc.want)
		}
		if strings.Contains(out+errs, "s3cret") {
			t.Errorf("mptcpcheck %q shows the password", tc.args)
		}
	}
}

// A connection that cannot be made is an error (status 1), not a
// verdict.
func TestWhyRefusedFails(t *testing.T) {
	code, _, errs := runCmd(t, "why", "-timeout", "5s", "127.0.0.1:1")
	if code != exitFail || !strings.Contains(errs, "mptcpcheck why: cannot connect to 127.0.0.1:1") {
		t.Errorf("why to a closed port: status %d, stderr %q; want status 1 and the error", code, errs)
	}
	code, _, errs = runCmd(t, "why", "-timeout", "5s", "http://user:s3cret@127.0.0.1:1/")
	if code != exitFail || !strings.HasPrefix(errs, "mptcpcheck why: cannot fetch http://user:xxxxx@127.0.0.1:1/: ") || strings.Count(errs, "cannot fetch") != 1 {
		t.Errorf("why to a closed port's URL: status %d, stderr %q; want status 1 and the error once, the password redacted", code, errs)
	}
}

func TestWriteExplanations(t *testing.T) {
	var b bytes.Buffer
	writeExplanations(&b, []explain.Explanation{{Code: "no-endpoint", Message: "one subflow", Evidence: []string{"a", "b"}, Inference: true}})
	if want := "why: no-endpoint: one subflow (inference)\n  - a\n  - b\n"; b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeExplanations(&b, nil)
	if !strings.HasPrefix(b.String(), "why: nothing to explain") {
		t.Errorf("text for none: %q", b.String())
	}
}

// The usage lists every code an explanation can have.
func TestWhyUsageListsEveryCode(t *testing.T) {
	_, out, _ := runCmd(t, "why", "-h")
	usage := strings.Join(strings.Fields(out), " ")
	for _, code := range explain.Codes() {
		if !strings.Contains(usage, " "+code+",") && !strings.Contains(usage, " "+code+";") {
			t.Errorf("why -h does not list the code %s:\n%s", code, out)
		}
	}
}
