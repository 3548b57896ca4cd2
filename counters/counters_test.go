package counters

import (
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// A real /proc/net/netstat of Linux 6.18, with every MPTcpExt counter
// that kernel has.
func TestParseRealNetstat(t *testing.T) {
	text, err := os.ReadFile("testdata/netstat-6.18.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 76 {
		t.Errorf("%d counters, want the 76 of 6.18", len(c))
	}
	if c[0].Name != "MPCapableSYNRX" || c[len(c)-1].Name != "WinProbe" {
		t.Errorf("first and last: %v, %v: the kernel's order is lost", c[0], c[len(c)-1])
	}
	if v, ok := c.Get("MPCapableSYNTX"); !ok || v != 644893 {
		t.Errorf("MPCapableSYNTX = %d, %v; the file says 644893", v, ok)
	}
	if v, ok := c.Get("MPCurrEstab"); !ok || v != 0 {
		t.Errorf("MPCurrEstab = %d, %v; the file says 0", v, ok)
	}
	if _, ok := c.Get("TCPTimeouts"); ok {
		t.Error("a TcpExt counter was read as an MPTCP one")
	}
	// Every counter of 6.18 is documented.
	for _, x := range c {
		if _, ok := Describe(x.Name); !ok {
			t.Errorf("%s has no description", x.Name)
		}
	}
}

func TestParseKeepsUnknownCounters(t *testing.T) {
	c, err := Parse([]byte("TcpExt: A B\nTcpExt: 1 2\nMPTcpExt: MPCapableSYNRX SomethingNew\nMPTcpExt: 3 18446744073709551615\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Counters{{"MPCapableSYNRX", 3}, {"SomethingNew", 1<<64 - 1}}
	if len(c) != 2 || c[0] != want[0] || c[1] != want[1] {
		t.Errorf("got %v, want %v", c, want)
	}
	if _, ok := Describe("SomethingNew"); ok {
		t.Error("an unknown name has a description")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
		unsupported      bool
	}{
		{"no MPTCP", "TcpExt: A\nTcpExt: 1\nIpExt: B\nIpExt: 2\n", "no MPTCP", true},
		{"empty", "", "no MPTCP", true},
		{"names only", "MPTcpExt: A B\n", "without a line of values", false},
		{"fewer values", "MPTcpExt: A B\nMPTcpExt: 1\n", "2 MPTcpExt names but 1 values", false},
		{"more values", "MPTcpExt: A\nMPTcpExt: 1 2\n", "1 MPTcpExt names but 2 values", false},
		{"negative", "MPTcpExt: A\nMPTcpExt: -1\n", `A: value "-1" is not a counter`, false},
		{"too large", "MPTcpExt: A\nMPTcpExt: 18446744073709551616\n", "not a counter", false},
		{"not a number", "MPTcpExt: A\nMPTcpExt: x\n", "not a counter", false},
		{"oversized", "MPTcpExt: A\nMPTcpExt: 1\n" + strings.Repeat(" ", maxSize), "more than", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, %v; want an error with %q", c, err, tc.want)
			}
			if errors.Is(err, errors.ErrUnsupported) != tc.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v, want %v", err, !tc.unsupported, tc.unsupported)
			}
		})
	}
}

func TestSub(t *testing.T) {
	before := Counters{{"MPCapableSYNTX", 10}, {"MPCurrEstab", 5}, {"Wraps", 1<<64 - 2}}
	after := Counters{{"MPCapableSYNTX", 13}, {"MPCurrEstab", 2}, {"Wraps", 3}, {"New", 7}}
	d := after.Sub(before)
	want := Counters{{"MPCapableSYNTX", 3}, {"MPCurrEstab", 2}, {"Wraps", 5}, {"New", 7}}
	if len(d) != len(want) {
		t.Fatalf("Sub = %v, want %v", d, want)
	}
	for i := range want {
		if d[i] != want[i] {
			t.Errorf("Sub[%d] = %v, want %v", i, d[i], want[i])
		}
	}
	// Another order in before: matched by name.
	d = Counters{{"A", 5}, {"B", 9}}.Sub(Counters{{"B", 4}, {"A", 1}})
	if d[0].Value != 4 || d[1].Value != 5 {
		t.Errorf("Sub by name = %v, want A 4, B 5", d)
	}
	// A 32-bit kernel's counter wraps at 2^32.
	d = Counters{{"A", 3}}.Sub32(Counters{{"A", 1<<32 - 2}})
	if d[0].Value != 5 {
		t.Errorf("Sub32 across the wrap = %d, want 5", d[0].Value)
	}
}

func TestDescriptions(t *testing.T) {
	fallback := map[string]Side{
		"MPCapableFallbackSYNACK": SideClient,
		"MPCapableFallbackACK":    SideServer,
		"MPFallbackTokenInit":     SideEither,
		"InfiniteMapTx":           SideEither,
		"DSSCorruptionFallback":   SideEither,
	}
	for name, side := range fallback {
		d, ok := Describe(name)
		if !ok || d.Fallback != side {
			t.Errorf("Describe(%s) = %+v, %v; want a %s-side fallback", name, d, ok, side)
		}
	}
	if d, _ := Describe("MPCurrEstab"); d.Kind != KindGauge {
		t.Error("MPCurrEstab is not a gauge")
	}
	for name, d := range known {
		if d.Help == "" || !strings.HasSuffix(d.Help, ".") {
			t.Errorf("%s: help %q is not a sentence", name, d.Help)
		}
		if name != "MPCurrEstab" && d.Kind != KindCounter {
			t.Errorf("%s is not a counter", name)
		}
	}
}

// Read's and Parse's errors are *net.OpError values, through which
// errors.Is reaches the cause: the namespace is a path, not "netns".
func TestErrorsAreOpErrors(t *testing.T) {
	_, parseErr := Parse(nil)
	for _, tc := range []struct {
		what   string
		cfg    *Config
		op     string
		target error
	}{
		{"negative descriptor", &Config{NetNSFD: -1}, "read", os.ErrInvalid},
		{"missing path", &Config{NetNS: "/nonexistent/netns"}, "read", os.ErrNotExist},
		{"descriptor not open", &Config{NetNSFD: 1 << 20}, "read", syscall.EBADF},
		{"no namespace", &Config{NetNS: "/proc/self/status"}, "read", syscall.EINVAL},
		{"no MPTcpExt lines", nil, "parse", errors.ErrUnsupported},
	} {
		err := parseErr
		if tc.cfg != nil {
			if runtime.GOOS != "linux" {
				continue
			}
			_, err = Read(tc.cfg)
		}
		var oe *net.OpError
		var pe *os.PathError
		switch {
		case !errors.As(err, &oe):
			t.Errorf("%s: %v (%T), want an *net.OpError", tc.what, err, err)
		case oe.Op != tc.op || oe.Net != "netstat" || !errors.Is(err, tc.target):
			t.Errorf("%s: %v: op %q net %q, want %q netstat matching %v", tc.what, err, oe.Op, oe.Net, tc.op, tc.target)
		case errors.As(err, &pe) && pe.Path == "netns":
			t.Errorf("%s: %v: an *os.PathError whose path is no path", tc.what, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("MPTcpExt: A B\nMPTcpExt: 1 2\n"))
	f.Add([]byte("MPTcpExt: A\n"))
	f.Add([]byte("MPTcpExt:\nMPTcpExt:\n"))
	if text, err := os.ReadFile("testdata/netstat-6.18.txt"); err == nil {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := Parse(text)
		if err != nil {
			if c != nil {
				t.Errorf("counters with an error: %v", c)
			}
			return
		}
		for _, x := range c {
			if x.Name == "" || strings.ContainsAny(x.Name, " \t\n") {
				t.Errorf("bad name %q", x.Name)
			}
		}
	})
}
