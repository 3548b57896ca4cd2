package mptcp

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// ErrNotMPTCP is matched, through [errors.Is], by the errors of calls that
// need an MPTCP connection made on one that is not: a connection that
// fell back to TCP, or a plain TCP one. A [Dialer] with RequireMPTCP set
// fails with it too.
var ErrNotMPTCP = errors.New("mptcp: connection is not using MPTCP")

// errNoConn is the error of an MPTCPConn that holds no connection: its
// zero value, or NewConn(nil). No system call is made.
var errNoConn error = invalidError("mptcp: no connection: the MPTCPConn holds no *net.TCPConn")

// errNilConn is the error of a nil *MPTCPConn. The usual source is a
// handler whose server lacks ConnContext, or a failed type assertion, so
// the message names the remedy for both.
var errNilConn error = invalidError("mptcp: no connection: nil *MPTCPConn " +
	"(ConnFromContext finds one only if http.Server.ConnContext is mptcp.ConnContext; " +
	"ConnOf finds the one behind a net.Conn)")

// errNoListener is the error of a Listener that holds no listener: its
// zero value, a nil pointer, or one made from a nil *net.TCPListener.
var errNoListener error = invalidError("mptcp: no listener: the Listener holds no *net.TCPListener")

// invalidError is a misuse of a nil or zero value. It matches
// os.ErrInvalid and, like package net's answer to the same misuse,
// syscall.EINVAL.
type invalidError string

func (e invalidError) Error() string { return string(e) }

func (e invalidError) Is(target error) bool {
	return target == os.ErrInvalid || target == syscall.EINVAL
}

// opError wraps err the way package net does: a *net.OpError with the
// connection's addresses, net.ErrClosed for every form of "closed", and
// an *os.SyscallError around a bare errno.
func (c *MPTCPConn) opError(op string, err error) error {
	oe := &net.OpError{Op: op, Net: "tcp", Err: sockoptErr(err)}
	if c != nil && c.TCPConn != nil {
		oe.Source, oe.Addr = c.LocalAddr(), c.RemoteAddr()
		if oe.Source != nil {
			oe.Net = oe.Source.Network()
		}
	}
	return oe
}

// sockoptErr maps every form of "closed" to net.ErrClosed and puts a
// bare errno inside an *os.SyscallError.
func sockoptErr(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, net.ErrClosed), errors.As(err, &errno) && errno == syscall.EBADF:
		return net.ErrClosed
	case errors.As(err, &errno) && err == error(errno):
		return os.NewSyscallError("getsockopt", errno)
	}
	return err
}
