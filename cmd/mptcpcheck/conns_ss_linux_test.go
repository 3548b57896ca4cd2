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

	// The server's unread data waits in its MPTCP socket's receive
	// queue, whose memory the kernel counts in recv_q (a little more
	// than the bytes), as far as its receive buffer allows: SetReadBuffer
	// asked for 4 MiB, which net.core.rmem_max caps (to 416 KiB by
	// default: the machines of the kernel matrix). A quarter of the
	// buffer the kernel gave, at most the MiB, must be there; and counted
	// in the MPTCP-level bytes_received (Linux 6.5) where the kernel has
	// that counter, left out, not 0, where it does not.
	rcvbuf := 4 << 20
	if rc, err := server.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if n, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF); err == nil {
				rcvbuf = n
			}
		})
	}
	stuck := uint64(min(1<<20, rcvbuf/4))
	s := connOf(t, b.Server, server.LocalAddr(), server.RemoteAddr())
	counters := testenv.KernelAtLeast(6, 5)
	if uint64(s.RecvQ) < stuck || counters && (s.BytesReceived == nil || *s.BytesReceived < stuck) || !counters && s.BytesReceived != nil {
		t.Errorf("server's recv_q %d, bytes_received %s: want %d or more of the 1 MiB it did not read (receive buffer %d; bytes_received left out before 6.5)",
			s.RecvQ, optional(s.BytesReceived), stuck, rcvbuf)
	}

	// Listeners: not by default, alone with -l, with the rest with -a;
	// named on stderr where the kernel does not list them.
	ln := l.Addr().String()
	for _, tc := range []struct {
		args []string
		want []string
	}{{nil, []string{"ESTABLISHED"}}, {[]string{"-l"}, []string{"LISTEN " + ln}}, {[]string{"-a"}, []string{"ESTABLISHED", "LISTEN " + ln}}} {
		doc, got := connsListeners(t, b.Server, tc.args...)
		for _, c := range doc.Connections {
			if c.State != "LISTEN" {
				got = append(got, c.State)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("conns %q: %q, want %q", tc.args, got, tc.want)
		}
	}
	if !kernelListsListeners() {
		testenv.SkipKernelLacks(t, listenersLack+": no listener's queues and processes to compare with ss", "5.19")
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
// status 0 and nothing on stderr. The socket is the client end of a
// connection over loopback, which every kernel lists (5.10 lists no
// listener), the subflows left out (5.10 shows them only to
// CAP_NET_ADMIN).
func TestConnsProcessesUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.SkipOrFail(t, "needs root, to run the command as another user")
	}
	testbed.RequireMPTCP(t) // conns lists MPTCP connections only
	l, err := mptcp.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		testenv.SkipOrFail(t, "no MPTCP listener on loopback: %v", err)
	}
	defer l.Close()
	c, err := (&mptcp.Dialer{Timeout: 5 * time.Second}).Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s, err := l.Accept(); err == nil {
		defer s.Close()
	}
	args := []string{"conns", "-p", "-json", "-subflows=false", "-sport", strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port)}

	// As root, in this process: the connection is this test's.
	code, out, errs := runCmd(t, args...)
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
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("as nobody: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var s sample
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil || len(s.Connections) != 1 || s.Connections[0].Processes == nil ||
		len(s.Connections[0].Processes) != 0 || stderr.Len() != 0 {
		t.Errorf("as nobody: want the connection with processes [] and no error: %v\n%s%s", err, stdout.String(), stderr.String())
	}
}

// optional formats *p, or "missing" for nil.
func optional(p *uint64) string {
	if p == nil {
		return "missing"
	}
	return strconv.FormatUint(*p, 10)
}
