package mptcp

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inPrivateNetns runs f on an OS thread moved into a new, empty network
// namespace with its loopback up. Sockets f creates live there; the
// thread is never returned to the scheduler's pool (the goroutine exits
// locked, so the runtime ends the thread), and the namespace disappears
// with its last socket.
func inPrivateNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to create a network namespace")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		if err := setLinkUp("lo"); err != nil {
			errc <- err
			return
		}
		defer func() { errc <- nil }()
		f()
	}()
	select {
	case err := <-errc:
		if err != nil {
			skipOrFail(t, "cannot create a network namespace: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("test in a private network namespace did not finish in 30s")
	}
}

func setLinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// setSysctl writes a sysctl of the calling thread's network namespace.
func setSysctl(path, value string) error {
	return os.WriteFile("/proc/sys/"+path, []byte(value), 0o644)
}

func TestMPTCPDisabledFallsBackToTCP(t *testing.T) {
	requireMPTCP(t)
	inPrivateNetns(t, func() {
		if err := setSysctl("net/mptcp/enabled", "0"); err != nil {
			t.Errorf("turning MPTCP off in the namespace: %v", err)
			return
		}
		// The kernel refuses MPTCP sockets here, as on a host with
		// net.mptcp.enabled=0: the package must fall back by itself.
		if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP); err == nil {
			unix.Close(fd)
			t.Error("MPTCP socket created with net.mptcp.enabled=0: the test proves nothing")
			return
		}
		l, err := Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Errorf("Listen with MPTCP disabled: %v", err)
			return
		}
		defer l.Close()
		if ok, err := l.(*Listener).MultipathTCP(); err != nil || ok {
			t.Errorf("Listener.MultipathTCP with MPTCP disabled = %v, %v; want false", ok, err)
		}
		accepted := make(chan net.Conn, 4)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := (&Dialer{}).DialContext(ctx, "tcp4", l.Addr().String())
		if err != nil {
			t.Errorf("Dial with MPTCP disabled: %v", err)
			return
		}
		defer c.Close()
		s := <-accepted
		defer s.Close()
		exchange(t, c, s, 1000)
		for name, conn := range map[string]*MPTCPConn{"client": c.(*MPTCPConn), "server": s.(*MPTCPConn)} {
			if ok, err := conn.MultipathTCP(); err != nil || ok {
				t.Errorf("%s: MultipathTCP = %v, %v; want false", name, ok, err)
			}
			if _, err := conn.MPTCPInfo(); !errors.Is(err, ErrNotMPTCP) {
				t.Errorf("%s: MPTCPInfo: %v, want ErrNotMPTCP", name, err)
			}
		}

		// Strict mode refuses before connecting: the server sees nothing.
		_, err = (&Dialer{RequireMPTCP: true}).DialContext(ctx, "tcp4", l.Addr().String())
		if !errors.Is(err, ErrNotMPTCP) {
			t.Errorf("strict Dial with MPTCP disabled: %v, want ErrNotMPTCP", err)
		}
		select {
		case s, ok := <-accepted:
			if ok {
				s.Close()
				t.Error("strict Dial with MPTCP disabled still connected to the server")
			}
		case <-time.After(200 * time.Millisecond):
		}
	})
}
