package mptcp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// AcceptTCP, promoted from the embedded *net.TCPListener, handed out a
// *net.TCPConn without the MPTCP methods; it is the package's own now,
// and its connection is the MPTCP one.
func TestListenerAcceptTCPReturnsMPTCPConn(t *testing.T) {
	requireMPTCP(t)
	l := listenLoopback(t, "tcp4")
	done := make(chan error, 1)
	go func() {
		c, err := (&Dialer{Timeout: 5 * time.Second}).Dial("tcp4", l.Addr().String())
		if err == nil {
			defer c.Close()
			_, err = c.Read(make([]byte, 1)) // until the server closes
		}
		done <- err
	}()
	l.SetDeadline(time.Now().Add(10 * time.Second))
	var s *MPTCPConn // the type is the point: this does not compile with a *net.TCPConn
	s, err := l.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	mustMultipath(t, "connection from AcceptTCP", s, true)
	if _, err := s.MPTCPInfo(); err != nil {
		t.Errorf("MPTCPInfo on the connection from AcceptTCP: %v", err)
	}
	s.Close()
	<-done
}

func TestListenerWrapsExistingListeners(t *testing.T) {
	requireMPTCP(t)
	plain := listenPlainTCP(t, "tcp4")
	wrapped, err := NewListener(plain)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := wrapped.MultipathTCP(); err != nil || ok {
		t.Errorf("wrapped plain listener: MultipathTCP = %v, %v; want false", ok, err)
	}
	c, s := dialAccept(t, &Dialer{}, "tcp4", wrapped)
	if _, ok := s.(*MPTCPConn); !ok {
		t.Fatalf("Accept on a wrapped listener returned %T", s)
	}
	mustMultipath(t, "client of a plain listener", c.(*MPTCPConn), false)

	// A listener from net.ListenConfig with MPTCP is MPTCP once wrapped.
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	nl, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	ml, err := NewListener(nl)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := ml.MultipathTCP(); err != nil || !ok {
		t.Errorf("wrapped MPTCP listener: MultipathTCP = %v, %v; want true", ok, err)
	}
	if again, _ := NewListener(ml); again != ml {
		t.Error("NewListener(*Listener) did not return it as is")
	}
	if _, err := NewListener(nil); err == nil {
		t.Error("NewListener(nil): nil error")
	}
	ul, err := net.Listen("unix", t.TempDir()+"/sock")
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	if _, err := NewListener(ul); err == nil {
		t.Error("NewListener(unix listener): nil error")
	}

	// File and SyscallConn pass through to the TCP listener.
	f, err := ml.File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	f.Close()
	ml.Close()
	if _, err := ml.MultipathTCP(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("MultipathTCP on a closed listener: %v, want net.ErrClosed", err)
	}
}

func TestListenConfigSetMultipathTCPFalse(t *testing.T) {
	requireMPTCP(t)
	var lc ListenConfig
	lc.SetMultipathTCP(false)
	if lc.MultipathTCP() {
		t.Fatal("MultipathTCP() true after SetMultipathTCP(false)")
	}
	l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ok, err := l.(*Listener).MultipathTCP(); err != nil || ok {
		t.Errorf("MultipathTCP = %v, %v; want false", ok, err)
	}
	ul, err := lc.Listen(context.Background(), "unix", t.TempDir()+"/sock")
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	if _, ok := ul.(*net.UnixListener); !ok {
		t.Errorf("Listen(unix) returned %T, want *net.UnixListener", ul)
	}
}
