//go:build !linux

package pm

import (
	"context"

	"github.com/multipath-go/mptcp/internal/platform"
)

// errNotLinux is what every call returns off Linux.
var errNotLinux = platform.ErrNotLinux

type sysConn struct{}

type sysSub struct{}

func dial(*Config) (*sysConn, error) { return nil, errNotLinux }

func (*sysConn) exec(uint8, int, []byte) ([]message, error) { return nil, errNotLinux }

func (*sysConn) close() error { return nil }

func (*sysConn) hasInterface(int) (bool, error) { return false, errNotLinux }

func (*sysConn) subscribe() (*sysSub, error) { return nil, errNotLinux }

func (*sysSub) receive(context.Context) ([]message, error) { return nil, errNotLinux }

func (*sysSub) close() error { return nil }
