package mptcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every dial path returns a nil net.Conn on error, as net.Dialer does:
// `if c != nil { c.Close() }` must not panic. Without MPTCP in the kernel
// the strict dial fails before connecting; with it, after the handshake.
func TestDialErrorsReturnNilConn(t *testing.T) {
	addr := plainServer(t)
	d := &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second}
	for name, dial := range map[string]func() (net.Conn, error){
		"Dial":        func() (net.Conn, error) { return d.Dial("tcp4", addr) },
		"DialContext": func() (net.Conn, error) { return d.DialContext(context.Background(), "tcp4", addr) },
	} {
		c, err := dial()
		if !errors.Is(err, ErrNotMPTCP) {
			t.Errorf("%s to a TCP-only server: %v, want ErrNotMPTCP", name, err)
		}
		if c != nil {
			t.Errorf("%s: error with a non-nil net.Conn (%T)", name, c)
		}
	}
	tc, err := d.DialTCP(context.Background(), "tcp4", netip.AddrPort{}, netip.MustParseAddrPort(addr))
	if !errors.Is(err, ErrNotMPTCP) || tc != nil {
		t.Errorf("DialTCP: %v, %v; want nil and ErrNotMPTCP", tc, err)
	}
}

// attachFilter is a Control hook that attaches an accept-all socket
// filter: plain TCP sockets take it, MPTCP sockets refuse it
// (EOPNOTSUPP on every kernel recorded in testdata/kernels).
func attachFilter(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		v, keep := acceptAllFilter()
		_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)), 0)
		if errno != 0 {
			serr = errno
		}
		runtime.KeepAlive(keep)
	}); err != nil {
		return err
	}
	return serr
}

// A Control hook that fails on the MPTCP socket: with RequireMPTCP the
// dial fails before connecting, with the hook's error; without it the
// dial is retried over TCP, as net.Dialer does.
func TestStrictDialControlHookFails(t *testing.T) {
	requireMPTCP(t)
	l := listenLoopback(t, "tcp4")
	accepted := acceptAll(l)

	strict := &Dialer{RequireMPTCP: true, Control: attachFilter, Timeout: 5 * time.Second}
	c, err := strict.Dial("tcp4", l.Addr().String())
	var errno syscall.Errno
	if c != nil || !errors.Is(err, unix.EOPNOTSUPP) || !errors.As(err, &errno) {
		t.Fatalf("strict dial with a hook MPTCP refuses: %v, %v; want nil and the hook's EOPNOTSUPP", c, err)
	}
	if errors.Is(err, ErrNotMPTCP) {
		t.Errorf("strict dial reports %v: the hook's failure, not the connection, is the cause", err)
	}
	select {
	case c := <-accepted:
		c.Close()
		t.Fatalf("the strict dial connected to the server before failing")
	case <-time.After(200 * time.Millisecond):
	}

	// ControlContext too.
	strict = &Dialer{RequireMPTCP: true, Timeout: 5 * time.Second,
		ControlContext: func(_ context.Context, network, address string, c syscall.RawConn) error {
			return attachFilter(network, address, c)
		}}
	if c, err := strict.Dial("tcp4", l.Addr().String()); c != nil || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("strict dial, ControlContext: %v, %v", c, err)
	}

	loose := &Dialer{Control: attachFilter, Timeout: 5 * time.Second}
	c, err = loose.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatalf("dial with a hook MPTCP refuses, without RequireMPTCP: %v (net.Dialer retries over TCP)", err)
	}
	defer c.Close()
	mustMultipath(t, "retried over TCP", c.(*MPTCPConn), false)
	select {
	case s := <-accepted:
		s.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the retried dial never reached the server")
	}
}

// A dial to a refused port fails at once with ECONNREFUSED, after
// net.Dialer's retry over TCP. 5.10 with MPTCP never completes a
// non-blocking MPTCP connect to a refused port: the subflow's reset does
// not reach the MPTCP socket, which reports neither an error nor a
// connection, so no code of the Dialer can see it; the dial waits out its
// Timeout, as the Dialer's doc says. The test pins both behaviours: the
// matrix names the 5.10 kernel.
func TestDialRefusedPort(t *testing.T) {
	requireMPTCP(t)
	name, _, _ := kernelExpectation(t)
	l := listenPlainTCP(t, "tcp4")
	addr := l.Addr().String()
	l.Close()
	const timeout = 2 * time.Second
	d := &Dialer{Timeout: timeout}
	start := time.Now()
	c, err := d.Dial("tcp4", addr)
	took := time.Since(start)
	if c != nil {
		c.Close()
		t.Fatalf("dial to a closed port connected")
	}
	if name == "5.10-mptcp" {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || took < timeout {
			t.Errorf("5.10: dial to a refused port: %v after %v, want a timeout after %v", err, took, timeout)
		}
		return
	}
	if !errors.Is(err, syscall.ECONNREFUSED) || took >= timeout/2 {
		t.Errorf("dial to a refused port: %v after %v, want ECONNREFUSED at once", err, took)
	}
}
