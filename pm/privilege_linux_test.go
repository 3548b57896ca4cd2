package pm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
	"github.com/multipath-go/mptcp/pm"
)

// childEnv, set to a test's name, makes that test, in a copy of the test
// binary that runUnprivileged starts, the unprivileged child of itself.
const childEnv = "PM_TEST_UNPRIVILEGED_CHILD"

// isChild reports whether t runs in the unprivileged child that
// runUnprivileged started for it.
func isChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// Without CAP_NET_ADMIN: reading endpoints and limits works, every
// command that changes something, and subscribing, fail with an error
// that says CAP_NET_ADMIN is needed and matches EPERM and
// os.ErrPermission. The test re-runs its own binary as user nobody,
// which holds no capability, inside the test bed's client namespace.
func TestUnprivileged(t *testing.T) {
	if isChild(t) {
		unprivilegedChild(t)
		return
	}
	b := testbed.New(t, 1)
	b.Endpoint(b.Client, b.Links[0].Client, "signal")
	b.Client.IP("mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "4")
	before := ipEndpoints(t, b.Client)

	runUnprivileged(t, b.Client, "PM_TEST_WANT="+before[0].String())

	if after := ipEndpoints(t, b.Client); !reflect.DeepEqual(after, before) {
		t.Errorf("endpoints changed by the unprivileged child: %v, were %v", after, before)
	}
	if l := ipLimits(t, b.Client); l != (pm.Limits{Subflows: 3, AddAddrAccepted: 4}) {
		t.Errorf("limits changed by the unprivileged child: %v", l)
	}
}

// runUnprivileged re-runs the test binary as user nobody (uid and gid
// 65534, no capability) inside ns, running only the test t with childEnv
// set to its name and env added, so that the test takes its child's
// part. It fails t unless the child passed, and logs the child's output.
func runUnprivileged(t *testing.T, ns *testbed.NS, env ...string) {
	t.Helper()
	// A copy of the test binary that user nobody may run.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pm-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "pm.test")
	if err := copyFile(bin, exe); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), childEnv+"="+t.Name()), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Started from a thread inside the namespace, the child is born there:
	// it could not enter it itself.
	if err := ns.Do(cmd.Run); err != nil {
		t.Fatalf("unprivileged child: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("unprivileged child did not pass:\n%s", out.String())
	}
	t.Logf("unprivileged child:\n%s", out.String())
}

// unprivilegedChild runs as user nobody inside the test bed's client
// namespace.
func unprivilegedChild(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("the unprivileged child runs as root")
	}
	c, err := pm.Dial(nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()

	eps, err := c.Endpoints()
	if err != nil || len(eps) != 1 || eps[0].String() != os.Getenv("PM_TEST_WANT") {
		t.Errorf("Endpoints = %v, %v; want [%s]", eps, err, os.Getenv("PM_TEST_WANT"))
	}
	if len(eps) == 1 {
		if e, err := c.Endpoint(eps[0].ID); err != nil || e != eps[0] {
			t.Errorf("Endpoint(%d) = %v, %v", eps[0].ID, e, err)
		}
	}
	if l, err := c.Limits(); err != nil || l != (pm.Limits{Subflows: 3, AddAddrAccepted: 4}) {
		t.Errorf("Limits = %v, %v", l, err)
	}

	local := netip.MustParseAddrPort("10.0.1.2:0")
	remote := netip.MustParseAddrPort("10.0.1.1:80")
	// since is the release that added each command after the family
	// (5.7) and the events group: on an older kernel the call must fail
	// with the error that says so, not EPERM.
	for _, tc := range []struct {
		name, op, since string
		call            func() error
	}{
		{"AddEndpoint", "add-addr", "", func() error {
			_, err := c.AddEndpoint(pm.Endpoint{Addr: netip.MustParseAddr("10.0.1.99"), Flags: pm.FlagSubflow})
			return err
		}},
		{"DeleteEndpoint", "del-addr", "", func() error { return c.DeleteEndpoint(1) }},
		{"FlushEndpoints", "flush-addrs", "", func() error { return c.FlushEndpoints() }},
		{"SetEndpointFlags", "set-flags", "5.12", func() error { return c.SetEndpointFlags(1, pm.FlagBackup) }},
		{"SetLimits", "set-limits", "", func() error { return c.SetLimits(pm.Limits{Subflows: 1}) }},
		{"Announce", "announce", "5.19", func() error { return c.Announce(1, 1, local) }},
		{"Remove", "remove", "5.19", func() error { return c.Remove(1, 1) }},
		{"CreateSubflow", "subflow-create", "5.19", func() error { return c.CreateSubflow(1, local, remote, nil) }},
		{"DestroySubflow", "subflow-destroy", "5.19", func() error {
			return c.DestroySubflow(1, netip.MustParseAddrPort("10.0.1.2:1"), remote)
		}},
		{"SetSubflowBackup", "set-flags", "5.12", func() error { return c.SetSubflowBackup(1, local, remote, true) }},
		{"Subscribe", "subscribe", "5.12", func() error {
			s, err := c.Subscribe()
			if err == nil {
				s.Close()
			}
			return err
		}},
	} {
		err := tc.call()
		var oe *net.OpError
		if tc.since != "" && !kernelAtLeast(tc.since) {
			want := "no " + tc.op + " command (Linux " + tc.since + " added it)"
			if tc.op == "subscribe" {
				want = "no events group (Linux 5.12 added it)"
			}
			if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &oe) || oe.Op != tc.op || !strings.Contains(err.Error(), want) {
				t.Errorf("%s on kernel %s: %v; want a %s error matching errors.ErrUnsupported, saying %q", tc.name, testenv.KernelRelease(), err, tc.op, want)
			} else {
				t.Logf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, syscall.EPERM) || !errors.Is(err, os.ErrPermission) || !errors.As(err, &oe) ||
			oe.Op != tc.op || !strings.Contains(err.Error(), "CAP_NET_ADMIN is needed") {
			t.Errorf("%s without CAP_NET_ADMIN: %v; want a %s error matching EPERM, saying CAP_NET_ADMIN is needed", tc.name, err, tc.op)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}

	// Entering a namespace needs CAP_SYS_ADMIN, even one's own: setns
	// checks it over the namespace's user namespace and the caller's
	// whatever the namespace, on 5.10 as on 6.18. pm enters the namespace
	// it is given without comparing it with the caller's first: what
	// works for a program does not depend on which namespace it names.
	_, err = pm.Dial(&pm.Config{NetNS: "/proc/self/ns/net"})
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "CAP_SYS_ADMIN") {
		t.Errorf("Dial into a namespace without CAP_SYS_ADMIN: %v", err)
	} else {
		t.Logf("Dial with NetNS: %v", err)
	}
}

// kernelAtLeast reports whether the running kernel is release
// ("5.19") or later.
func kernelAtLeast(release string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil {
		panic("kernelAtLeast(" + release + ")")
	}
	return testenv.KernelAtLeast(major, minor)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Namespaces: a missing path, a file that is not a namespace, a bad or
// negative descriptor, and a good descriptor that the caller closes
// after Dial.
func TestDialNamespaces(t *testing.T) {
	missing := "/run/netns/pm-test-missing-" + strings.Repeat("x", 8)
	_, err := pm.Dial(&pm.Config{NetNS: missing})
	var oe *net.OpError
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &oe) || oe.Op != "dial" {
		t.Errorf("Dial(%s): %v, want a dial error matching os.ErrNotExist", missing, err)
	}
	if _, err := pm.Dial(&pm.Config{NetNSFD: -1}); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("Dial with NetNSFD -1: %v, want os.ErrInvalid", err)
	}
	if _, err := pm.Dial(&pm.Config{NetNSFD: 1 << 20}); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Dial with a descriptor that is not open: %v, want EBADF", err)
	}

	b := testbed.New(t, 1)
	_, err = pm.Dial(&pm.Config{NetNS: "/proc/self/status"})
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "/proc/self/status") {
		t.Errorf("Dial into a file that is not a namespace: %v, want EINVAL naming it", err)
	}

	b.Endpoint(b.Client, b.Links[0].Client6, "subflow")
	f, err := os.Open(nsPath(b.Client))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pm.Dial(&pm.Config{NetNSFD: int(f.Fd())})
	f.Close()
	if err != nil {
		t.Fatalf("Dial with a namespace descriptor: %v", err)
	}
	defer c.Close()
	eps, err := c.Endpoints()
	if want := ipEndpoints(t, b.Client); err != nil || !reflect.DeepEqual(eps, want) {
		t.Errorf("Endpoints through a descriptor = %v, %v; ip shows %v", eps, err, want)
	}
	// Subscribing works in the same namespace after the caller's
	// descriptor is closed, on a kernel with events.
	s, err := c.Subscribe()
	if !noEventsGroup(t, err) {
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		s.Close()
	}

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.Endpoints(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Endpoints after Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Subscribe(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}
