package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// socketOwners reads a /proc where processes come and go: a process
// without its fd directory (it ended), one without comm, links that are
// not sockets or name sockets nobody asked about, entries that are not
// processes. It finds what is there and skips the rest.
func TestSocketOwnersSkipsWhatIsGone(t *testing.T) {
	proc := t.TempDir()
	mk := func(pid, comm string, links map[string]string) {
		dir := filepath.Join(proc, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if comm != "" {
			os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644)
		}
		if links == nil {
			return // the process ended between the listing and the read
		}
		os.Mkdir(filepath.Join(dir, "fd"), 0o755)
		for fd, target := range links {
			if err := os.Symlink(target, filepath.Join(dir, "fd", fd)); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("10", "nginx", map[string]string{"0": "/dev/null", "6": "socket:[1001]", "7": "socket:[1001]", "8": "socket:[42]", "9": "pipe:[1001]"})
	mk("11", "", map[string]string{"3": "socket:[1002]"}) // comm gone
	mk("12", "gone", nil)
	mk("13", "bad", map[string]string{"x": "socket:[1001]", "4": "socket:[notanumber]", "5": "socket:[99999999999]"})
	os.WriteFile(filepath.Join(proc, "self"), nil, 0o644)
	os.Mkdir(filepath.Join(proc, "sys"), 0o755)

	got := socketOwners(proc, map[uint32]bool{1001: true, 1002: true, 1003: true})
	want := map[uint32][]owner{
		1001: {{PID: 10, Command: "nginx", FD: 6}, {PID: 10, Command: "nginx", FD: 7}},
		1002: {{PID: 11, Command: "?", FD: 3}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("owners %+v, want %+v", got, want)
	}
	if got := ssUsers(want[1001]); got != `users:(("nginx",pid=10,fd=6),("nginx",pid=10,fd=7))` {
		t.Errorf("ss form %s", got)
	}
	if got := socketOwners(filepath.Join(proc, "none"), map[uint32]bool{1: true}); len(got) != 0 {
		t.Errorf("no /proc: %v", got)
	}
}
