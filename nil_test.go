package mptcp

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// Nil and zero values give clear errors, never a panic, and say what is
// wrong without pretending a system call failed.
func TestNilAndZeroValues(t *testing.T) {
	for name, l := range map[string]net.Listener{
		"nil":                  nil,
		"nil *net.TCPListener": (*net.TCPListener)(nil),
		"nil *Listener":        (*Listener)(nil),
		"zero Listener":        &Listener{},
	} {
		got, err := NewListener(l)
		if got != nil || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("NewListener(%s) = %v, %v; want nil and an error matching os.ErrInvalid", name, got, err)
		}
		if oe := (*net.OpError)(nil); !errors.As(err, &oe) {
			t.Errorf("NewListener(%s): %v is not a *net.OpError", name, err)
		}
	}
	for name, l := range map[string]*Listener{"zero": {}, "nil": nil} {
		if ok, err := l.MultipathTCP(); ok || !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), "no listener") {
			t.Errorf("%s Listener: MultipathTCP = %v, %v", name, ok, err)
		}
		if c, err := l.Accept(); c != nil || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s Listener: Accept = %v, %v", name, c, err)
		}
		if c, err := l.AcceptTCP(); c != nil || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s Listener: AcceptTCP = %v, %v", name, c, err)
		}
		if a := l.Addr(); a != nil {
			t.Errorf("%s Listener: Addr = %v, want nil", name, a)
		}
	}

	for name, c := range map[string]*MPTCPConn{"zero": {}, "nil": nil, "NewConn(nil)": NewConn(nil)} {
		_, err1 := c.MultipathTCP()
		_, err2 := c.MPTCPInfo()
		_, err3 := c.Subflows()
		_, _, err4 := c.Snapshot(nil)
		for i, err := range []error{err1, err2, err3, err4} {
			var oe *net.OpError
			switch {
			case !errors.As(err, &oe):
				t.Errorf("%s MPTCPConn, call %d: %v is not a *net.OpError", name, i, err)
			case !errors.Is(err, os.ErrInvalid) || !errors.Is(err, syscall.EINVAL):
				t.Errorf("%s MPTCPConn, call %d: %v does not match os.ErrInvalid and EINVAL", name, i, err)
			case !strings.Contains(err.Error(), "no connection") || strings.Contains(err.Error(), "getsockopt"):
				t.Errorf("%s MPTCPConn, call %d: %q does not say there is no connection", name, i, err)
			}
		}
	}
}
