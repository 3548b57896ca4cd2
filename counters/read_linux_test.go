package counters_test

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// The releases that added counters the tests expect: MPCapableSYNTX and
// MPCapableSYNACKRX ("mptcp: add active MPC mibs"), MPCurrEstab
// ("mptcp: add CurrEstab MIB counter support").
const (
	activeMPCSince = "5.13"
	currEstabSince = "6.8"
)

func read(t *testing.T, ns *testbed.NS) counters.Counters {
	t.Helper()
	c, err := counters.Read(&counters.Config{NetNS: ns.Path()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, c counters.Counters, name string) uint64 {
	t.Helper()
	v, ok := c.Get(name)
	if !ok {
		t.Fatalf("no counter %s in %v", name, c)
	}
	return v
}

// The counters of a namespace change by what happened in it, and
// agree with the kernel's file read by a process inside it. A counter
// Linux added after the running kernel must be absent, and only then.
func TestReadNamespaces(t *testing.T) {
	b := testbed.New(t, 1)
	cli0, srv0 := read(t, b.Client), read(t, b.Server)
	if v, ok := cli0.Get("MPCapableSYNRX"); !ok || v != 0 {
		t.Errorf("a new namespace has MPCapableSYNRX %d, %v; want 0, true", v, ok)
	}
	client, _ := mptcptest.Connect(t, b, nil, mptcptest.Listen(t, b, "tcp4", b.Links[0].Server))
	if ok, err := client.MultipathTCP(); !ok {
		t.Fatalf("the connection is not MPTCP: %v", err)
	}
	cli, srv := read(t, b.Client).Sub(cli0), read(t, b.Server).Sub(srv0)
	for _, tc := range []struct {
		c     counters.Counters
		name  string
		want  uint64
		since string // the release that added the counter; empty: every MPTCP kernel has it
	}{
		{cli, "MPCapableSYNTX", 1, activeMPCSince},
		{cli, "MPCapableSYNACKRX", 1, activeMPCSince},
		{cli, "MPCapableFallbackSYNACK", 0, ""},
		{cli, "MPCapableSYNRX", 0, ""},
		{srv, "MPCapableSYNRX", 1, ""},
		{srv, "MPCapableACKRX", 1, ""},
		{srv, "MPCapableSYNTX", 0, activeMPCSince},
		{cli, "MPCurrEstab", 1, currEstabSince},
		{srv, "MPCurrEstab", 1, currEstabSince},
	} {
		v, ok := tc.c.Get(tc.name)
		switch {
		case !ok && tc.since != "":
			testenv.KernelLacks(t, "the counter "+tc.name, tc.since)
		case !ok:
			t.Errorf("no counter %s on kernel %s", tc.name, testenv.KernelRelease())
		case v != tc.want:
			t.Errorf("%s changed by %d, want %d", tc.name, v, tc.want)
		}
	}

	// The same namespace through a descriptor, and through the file
	// that "ip netns exec NS cat /proc/net/netstat" reads.
	f, err := os.Open(b.Client.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byFD, err := counters.Read(&counters.Config{NetNSFD: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	text := b.Client.Run("cat", "/proc/net/netstat")
	byCat, err := counters.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	byPath := read(t, b.Client)
	if len(byFD) != len(byCat) || len(byPath) != len(byCat) {
		t.Fatalf("%d counters by descriptor, %d by path, %d by cat", len(byFD), len(byPath), len(byCat))
	}
	for i := range byCat {
		if byFD[i] != byCat[i] || byPath[i] != byCat[i] {
			t.Errorf("%v by descriptor, %v by path, %v by cat", byFD[i], byPath[i], byCat[i])
		}
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil {
		t.Errorf("Read closed the caller's descriptor: %v", err)
	}
}

// A middlebox that strips the option: the client counts a fallback on
// its side, and nothing else does.
func TestReadFallback(t *testing.T) {
	b := testbed.New(t, 1)
	b.StripMPTCPOption(b.Client)
	cli0, srv0 := read(t, b.Client), read(t, b.Server)
	client, _ := mptcptest.Connect(t, b, nil, mptcptest.Listen(t, b, "tcp4", b.Links[0].Server))
	if ok, _ := client.MultipathTCP(); ok {
		t.Fatal("MPTCP through a middlebox that strips the option")
	}
	cli, srv := read(t, b.Client).Sub(cli0), read(t, b.Server).Sub(srv0)
	// The option is stripped from the client's SYN: the server never
	// sees MP_CAPABLE, so it answers without, and the client counts a
	// SYN/ACK without MP_CAPABLE.
	if v := get(t, cli, "MPCapableFallbackSYNACK"); v != 1 {
		t.Errorf("client MPCapableFallbackSYNACK changed by %d, want 1", v)
	}
	if v := get(t, srv, "MPCapableSYNRX"); v != 0 {
		t.Errorf("server MPCapableSYNRX changed by %d: the option was not stripped", v)
	}
	// The server saw a plain TCP SYN, which is no fallback of its own: a
	// plain SYN on an MPTCP listener moves no counter (measured on 5.10,
	// 6.1, 6.12 and 6.18).
	if v := get(t, srv, "MPCapableFallbackACK"); v != 0 {
		t.Errorf("server MPCapableFallbackACK changed by %d, want 0", v)
	}
}

// Files that are not network namespaces are refused with the kernel's
// errno, and nothing is read from the wrong place.
func TestReadNotANamespace(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	uts, err := os.Open("/proc/self/ns/uts")
	if err != nil {
		t.Fatal(err)
	}
	defer uts.Close()
	regular := t.TempDir() + "/file"
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  counters.Config
		want error
	}{
		{"regular file by path", counters.Config{NetNS: regular}, unix.EINVAL},
		{"device by descriptor", counters.Config{NetNSFD: int(devNull.Fd())}, unix.EINVAL},
		{"UTS namespace", counters.Config{NetNSFD: int(uts.Fd())}, unix.EINVAL},
		{"closed descriptor", counters.Config{NetNSFD: 1 << 20}, unix.EBADF},
		{"missing file", counters.Config{NetNS: "/nonexistent/netns"}, os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := counters.Read(&tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Errorf("Read = %d counters, %v; want %v", len(c), err, tc.want)
			}
		})
	}
}
