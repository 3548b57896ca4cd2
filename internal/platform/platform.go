// Package platform holds the module's one error for what only Linux
// has: MPTCP sockets and their state, socket diagnostics, the path
// manager, the kernel's counters and network namespaces. Every package
// of the module returns it, inside its *net.OpError, on other systems,
// so that the cause reads the same everywhere. It also holds the Linux
// numbers that the module's decoders need on every platform, where
// golang.org/x/sys/unix has other values or none.
package platform

import (
	"errors"
	"runtime"
)

// ErrNotLinux is the cause of every error of the module that comes from
// running on a system other than Linux. It matches
// errors.ErrUnsupported.
var ErrNotLinux error = notLinux{}

type notLinux struct{}

func (notLinux) Error() string { return "not supported on " + runtime.GOOS + ": MPTCP needs Linux" }
func (notLinux) Unwrap() error { return errors.ErrUnsupported }

// Address families as Linux numbers them, in the sockaddr structures,
// socket diagnostics and netlink attributes the kernel writes (the same
// on every Linux architecture; darwin's AF_INET6, for one, differs).
const (
	AFInet  = 2
	AFInet6 = 10
)
