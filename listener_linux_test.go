package mptcp

import (
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
