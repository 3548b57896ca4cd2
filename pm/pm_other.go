//go:build !linux

package pm

import (
	"context"
	"errors"
)

// errNotLinux is what every call returns off Linux.
var errNotLinux = &wrapErr{
	msg:  "the MPTCP path manager is only available on Linux",
	errs: []error{errors.ErrUnsupported},
}

type sysConn struct{}

type sysSub struct{}

func dial(*Config) (*sysConn, error) { return nil, errNotLinux }

func (*sysConn) exec(uint8, int, []byte) ([]message, error) { return nil, errNotLinux }

func (*sysConn) close() error { return nil }

func (*sysConn) hasInterface(int) (bool, error) { return false, errNotLinux }

func (*sysConn) subscribe() (*sysSub, error) { return nil, errNotLinux }

func (*sysSub) receive(context.Context) ([]message, error) { return nil, errNotLinux }

func (*sysSub) close() error { return nil }
