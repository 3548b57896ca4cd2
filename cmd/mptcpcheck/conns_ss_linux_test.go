package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// conns -p against ss -Mnp on the same sockets: a server that reads
// nothing of the 1 MiB its client writes holds data in its receive
// queue, and conns' recv_q and send_q are ss's Recv-Q and Send-Q, on
// both ends; the process holding the sockets is this test's, by pid and
// name, as ss -p says. Listeners are listed as ss lists them: only with
// -l (alone) or -a (with the connections), with their queues.
func TestConnsQueuesAndProcessesAgreeWithSS(t *testing.T) {
	b := testbed.New(t, 1)
	l := mptcptest.Listen(t, b, "tcp", b.Links[0].Server)
	client, server := mptcptest.Connect(t, b, nil, l)
	// Room for the whole MiB at the server, so that it is all stuck
	// there, not partly in the client's send buffer.
	if err := server.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	go func() {
		client.SetWriteDeadline(time.Now().Add(20 * time.Second))
		client.Write(make([]byte, 1<<20)) // the server never reads it
	}()

	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := fmt.Sprintf(`users:\(\("%s",pid=%d,fd=\d+\)\)`, regexp.QuoteMeta(string(comm[:len(comm)-1])), os.Getpid())

	ends := []struct {
		ns            *testbed.NS
		local, remote net.Addr
	}{{b.Server, server.LocalAddr(), server.RemoteAddr()}, {b.Client, client.LocalAddr(), client.RemoteAddr()}}
	for _, end := range ends {
		// The queues move until the write stops: compare once conns
		// reads the same twice around ss, within 10 s.
		var got connRecord
		var ss testbed.SSConn
		agree := false
		for deadline := time.Now().Add(10 * time.Second); !agree && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			before := connOf(t, end.ns, end.local, end.remote)
			ss = end.ns.SSMPTCP("-p")[end.local.String()+" "+end.remote.String()]
			got = connOf(t, end.ns, end.local, end.remote)
			agree = before.RecvQ == got.RecvQ && before.SendQ == got.SendQ &&
				strconv.Itoa(int(got.RecvQ)) == ss.RecvQ && strconv.Itoa(int(got.SendQ)) == ss.SendQ
		}
		t.Logf("%s: conns recv_q %d send_q %d processes %+v; ss %+v", end.ns.Name, got.RecvQ, got.SendQ, got.Processes, ss)
		if !agree {
			t.Errorf("%s: conns recv_q %d send_q %d, ss Recv-Q %s Send-Q %s", end.ns.Name, got.RecvQ, got.SendQ, ss.RecvQ, ss.SendQ)
		}
		if !regexp.MustCompile(self).MatchString(ss.Users) || !regexp.MustCompile("^"+self+"$").MatchString(ssUsers(got.Processes)) {
			t.Errorf("%s: conns' processes %+v, ss's %q; want this test's, pid %d", end.ns.Name, got.Processes, ss.Users, os.Getpid())
		}
		if ssUsers(got.Processes) != ss.Users {
			t.Errorf("%s: conns' processes %s, ss's %s", end.ns.Name, ssUsers(got.Processes), ss.Users)
		}
	}
	// Each subflow's queues, on both ends, are ss -t's (0 here: TCP
	// hands the data on to the MPTCP socket as it comes).
	for _, end := range ends {
		ours, ss := map[string]string{}, map[string]string{}
		for _, sf := range connOf(t, end.ns, end.local, end.remote).Subflows {
			ours[sf.Local+" "+sf.Remote] = fmt.Sprintf("%d/%d", sf.RecvQ, sf.SendQ)
		}
		for _, sf := range end.ns.SSSubflows() {
			if _, ok := ours[sf.Local+" "+sf.Remote]; ok {
				ss[sf.Local+" "+sf.Remote] = sf.RecvQ + "/" + sf.SendQ
			}
		}
		if len(ours) == 0 || !maps.Equal(ours, ss) {
			t.Errorf("%s: subflows' recv-q/send-q: conns %v, ss -t %v", end.ns.Name, ours, ss)
		}
	}

	// The server's unread data: the kernel counts the memory the MPTCP
	// socket's receive queue takes, a little more than the bytes.
	if s := connOf(t, b.Server, server.LocalAddr(), server.RemoteAddr()); s.RecvQ < 1<<20 || s.BytesReceived == nil || *s.BytesReceived < 1<<20 {
		t.Errorf("server's recv_q %d, bytes_received %v: want the 1 MiB it did not read", s.RecvQ, s.BytesReceived)
	}

	// Listeners: not by default, alone with -l, with the rest with -a.
	ln := l.Addr().String()
	states := func(args ...string) []string {
		var got []string
		for _, c := range connsJSON(t, b.Server, args...).Connections {
			got = append(got, c.State)
		}
		return got
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{{nil, []string{"ESTABLISHED"}}, {[]string{"-l"}, []string{"LISTEN"}}, {[]string{"-a"}, []string{"ESTABLISHED", "LISTEN"}}} {
		got := states(tc.args...)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("conns %q: states %q, want %q", tc.args, got, tc.want)
		}
	}
	lss := b.Server.SSMPTCP("-l", "-p")
	var lssConn testbed.SSConn
	for _, c := range lss {
		if c.Local == ln {
			lssConn = c
		}
	}
	lc := connsJSON(t, b.Server, "-l", "-p").Connections
	if len(lc) != 1 || strconv.Itoa(int(lc[0].RecvQ)) != lssConn.RecvQ || strconv.Itoa(int(lc[0].SendQ)) != lssConn.SendQ ||
		ssUsers(lc[0].Processes) != lssConn.Users {
		t.Errorf("listener: conns %+v, ss %+v", lc, lssConn)
	}
	// Its line: the address, the queues, the process; nothing of a
	// connection's.
	table := connsIn(t, b.Server, "-l", "-p")
	want := fmt.Sprintf(`^LISTEN\s+%s\s+recv-q %s send-q %s\s+%s\n$`, regexp.QuoteMeta(ln), lssConn.RecvQ, lssConn.SendQ, self)
	if !regexp.MustCompile(want).MatchString(table) {
		t.Errorf("listener's line:\n%s\nwant %s", table, want)
	}
}

// connOf returns conns -p's record of the connection from local to
// remote in ns.
func connOf(t *testing.T, ns *testbed.NS, local, remote net.Addr) connRecord {
	t.Helper()
	for _, c := range connsJSON(t, ns, "-p").Connections {
		if c.Local == local.String() && c.Remote == remote.String() {
			return c
		}
	}
	t.Fatalf("%s: conns does not list %v -> %v", ns.Name, local, remote)
	return connRecord{}
}

// Without privilege conns -p lists what it can: the sockets, and no
// process where /proc/PID/fd is closed to it (a root process's), with
// status 0 and nothing on stderr.
func TestConnsProcessesUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.SkipOrFail(t, "needs root, to run the command as another user")
	}
	l, err := mptcp.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		testenv.SkipOrFail(t, "no MPTCP listener on loopback: %v", err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	// As root, in this process: the listener is this test's.
	code, out, errs := runCmd(t, "conns", "-l", "-p", "-json", "-sport", port)
	var root sample
	if err := json.Unmarshal([]byte(out), &root); code != exitOK || err != nil || len(root.Connections) != 1 ||
		len(root.Connections[0].Processes) != 1 || root.Connections[0].Processes[0].PID != os.Getpid() {
		t.Fatalf("as root: status %d, %v\n%s%s", code, err, out, errs)
	}

	// The built command as nobody.
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "mptcpcheck")
	if out, err := exec.Command(requireTool(t, "go"), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "conns", "-l", "-p", "-json", "-sport", port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("as nobody: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var s sample
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil || len(s.Connections) != 1 || s.Connections[0].Processes == nil ||
		len(s.Connections[0].Processes) != 0 || stderr.Len() != 0 {
		t.Errorf("as nobody: want the listener with processes [] and no error: %v\n%s%s", err, stdout.String(), stderr.String())
	}
}
