package mptcp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"

	"golang.org/x/sys/unix"
)

// The kernel probe must not depend on the state the first call met.
// Each test runs its scenario in a child process (the test binary
// itself), so that what the package learned of the kernel starts empty.

// childScenarioEnv names the scenario a child process runs.
const childScenarioEnv = "MPTCP_TEST_CHILD_SCENARIO"

// inChild runs the calling test again in a child process, with
// scenario set, and fails if the child fails. It returns true in the
// child, where the test then runs its scenario.
func inChild(t *testing.T, scenario string) bool {
	t.Helper()
	return runChild(t, scenario, false)
}

// runChild is inChild; asNobody runs the child as user nobody (uid and
// gid 65534, no capability), from a copy of the test binary that nobody
// may run.
func runChild(t *testing.T, scenario string, asNobody bool) bool {
	t.Helper()
	if os.Getenv(childScenarioEnv) == scenario {
		return true
	}
	requireMPTCP(t)
	if os.Getuid() != 0 {
		testenv.SkipOrFail(t, "the scenario needs root")
	}
	bin := os.Args[0]
	if asNobody {
		dir, err := os.MkdirTemp("", "mptcp-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		exe, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(dir, "mptcp.test")
		if err := os.WriteFile(bin, exe, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childScenarioEnv+"="+scenario)
	if asNobody {
		cmd.Dir = filepath.Dir(bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child process (%s): %v\n%s", scenario, err, out)
	}
	t.Logf("child process:\n%s", out)
	return false
}

// plainServer returns the address of a listener that speaks only TCP.
func plainServer(t *testing.T) string {
	t.Helper()
	l := listenPlainTCP(t, "tcp4")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l.Addr().String()
}

// The first MultipathTCP call of the process is made with no descriptor
// left for a probe socket. Before, the probe then settled on SO_PROTOCOL
// for good: the fallen-back connection reported true, and a strict dial
// to a TCP-only server succeeded.
func TestProbeAfterDescriptorsRanOut(t *testing.T) {
	if !inChild(t, "emfile") {
		return
	}
	addr := plainServer(t)
	c, err := (&Dialer{Timeout: 5 * time.Second}).Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fallen := c.(*MPTCPConn)

	// Use up every descriptor below a lowered limit.
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 256
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var held []int
	for range 256 {
		fd, err := unix.Dup(0)
		if err != nil {
			if !errors.Is(err, unix.EMFILE) {
				t.Fatalf("dup: %v", err)
			}
			break
		}
		held = append(held, fd)
	}
	// A descriptor may be freed meanwhile elsewhere in the process (for
	// instance by a finalizer closing a dropped file; it happened once
	// under go1.27.4): take such slots too, a bounded number of times,
	// until a socket fails with EMFILE.
	for i := 0; ; i++ {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP)
		if errors.Is(err, unix.EMFILE) {
			break
		}
		if err != nil || i == 16 {
			t.Fatalf("descriptors not exhausted after %d more: socket: %v", i, err)
		}
		held = append(held, fd)
	}
	ok, err := fallen.MultipathTCP()
	for _, fd := range held {
		unix.Close(fd)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// 6.10+ answers on the connection itself; older kernels need a probe
	// socket and say they could not tell. Never "true".
	if ok || (err != nil && !errors.Is(err, syscall.EMFILE)) {
		t.Fatalf("first call without descriptors: MultipathTCP = %v, %v; want false, or an error matching EMFILE", ok, err)
	}
	t.Logf("first call without descriptors: %v, %v", ok, err)

	if ok, err := NewConn(fallen.TCPConn).MultipathTCP(); ok || err != nil {
		t.Errorf("fallen-back connection afterwards: MultipathTCP = %v, %v; want false", ok, err)
	}
	strict, err := (&Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}).Dial("tcp4", addr)
	if !errors.Is(err, ErrNotMPTCP) || strict != nil {
		t.Fatalf("strict dial to a TCP-only server: %v, %v; want a nil net.Conn and ErrNotMPTCP", strict, err)
	}
	client, _ := mptcpPair(t, "tcp4")
	if _, err := client.MPTCPInfo(); err != nil {
		t.Errorf("MPTCPInfo on an MPTCP connection: %v", err)
	}
}

// The first call is made in a network namespace where MPTCP is disabled
// (net.mptcp.enabled=0): there the Dialer makes plain TCP sockets, and
// before, the probe settled on SO_PROTOCOL on kernels before 6.10.
// Afterwards, in the test's own namespace, a fallen-back connection must
// report false.
func TestProbeFirstCalledWhereMPTCPIsDisabled(t *testing.T) {
	if !inChild(t, "disabled-netns") {
		return
	}
	done := make(chan error, 1)
	go func() {
		// This goroutine's thread moves to a new namespace and is never
		// unlocked, so it ends with the goroutine.
		runtime.LockOSThread()
		done <- firstCallInDisabledNamespace()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("first call made in a namespace with net.mptcp.enabled=0: learned %s", probeNames[host.get()])

	addr := plainServer(t)
	c, err := (&Dialer{Timeout: 5 * time.Second}).Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, err := c.(*MPTCPConn).MultipathTCP(); ok || err != nil {
		t.Errorf("fallen-back connection: MultipathTCP = %v, %v; want false", ok, err)
	}
	client, server := mptcpPair(t, "tcp4")
	mustMultipath(t, "client", client, true)
	mustMultipath(t, "server", server, true)
	if _, err := client.MPTCPInfo(); err != nil {
		t.Errorf("MPTCPInfo: %v", err)
	}
	strict, err := (&Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}).Dial("tcp4", addr)
	if !errors.Is(err, ErrNotMPTCP) || strict != nil {
		t.Errorf("strict dial to a TCP-only server: %v, %v; want ErrNotMPTCP", strict, err)
	}
}

// firstCallInDisabledNamespace moves the calling thread to a new network
// namespace with loopback up and MPTCP disabled, and makes the process's
// first MultipathTCP call there, on a connection that is plain TCP.
func firstCallInDisabledNamespace() error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNET): %v", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %v", err)
	}
	if err := os.WriteFile("/proc/sys/net/mptcp/enabled", []byte("0"), 0); err != nil {
		return err
	}
	if _, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP); !errors.Is(err, unix.ENOPROTOOPT) {
		return fmt.Errorf("MPTCP still enabled in the new namespace: socket: %v", err)
	}
	l, err := Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := (&Dialer{Timeout: 5 * time.Second}).Dial("tcp4", l.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	ok, err := c.(*MPTCPConn).MultipathTCP()
	if ok || err != nil {
		return fmt.Errorf("plain TCP connection where MPTCP is disabled: MultipathTCP = %v, %v", ok, err)
	}
	return nil
}
