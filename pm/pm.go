package pm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/mdlayher/netlink"

	"github.com/multipath-go/mptcp/internal/errs"
	"github.com/multipath-go/mptcp/netns"
)

// Config names the network namespace a [Conn] works in: it is
// [netns.Config], whose package says who owns what. Dial enters the
// namespace once, to make its socket; the Conn keeps a descriptor of the
// namespace of its own, for the subscriptions and the interface checks
// that enter it again, until Close.
type Config = netns.Config

// MaxLimit is the largest value the kernel accepts for each of the
// [Limits]. [Conn.SetLimits] refuses larger values before sending.
const MaxLimit = 8

// Conn is a connection to the kernel's MPTCP path manager, over a
// generic netlink socket in one network namespace. Its methods are safe
// for concurrent use; each waits for the kernel's answer.
//
// Errors are *net.OpError values (see the package documentation).
type Conn struct {
	s      *sysConn
	closed atomic.Bool
}

// Dial opens a connection to the path manager of the network namespace
// that cfg names, or of the calling thread's namespace when cfg is nil or
// names none.
//
// Where the kernel has no mptcp_pm generic netlink family (no MPTCP, or
// a kernel before 5.7), and on systems other than Linux, the error
// matches errors.ErrUnsupported. A namespace path that does not exist
// gives an error matching os.ErrNotExist.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	s, err := dial(cfg)
	if err != nil {
		return nil, wrapOp("dial", err)
	}
	return &Conn{s: s}, nil
}

// Close closes the connection. Subscriptions made from it stay open
// until closed themselves. Closing twice returns an error matching
// net.ErrClosed.
func (c *Conn) Close() error {
	if c == nil || c.s == nil || c.closed.Swap(true) {
		return opError("close", net.ErrClosed)
	}
	if err := c.s.close(); err != nil {
		return wrapOp("close", err)
	}
	return nil
}

// Kinds of request.
const (
	reqGet  = iota // a "do" request with a reply
	reqAck         // a "do" request answered by an acknowledgement only
	reqDump        // a dump: a multi-part reply
)

// request sends one command with the attributes fn encodes and returns
// the kernel's reply messages.
func (c *Conn) request(cmd uint8, kind int, fn func(ae *netlink.AttributeEncoder) error) ([]message, error) {
	op := cmdNames[cmd]
	if c == nil || c.s == nil || c.closed.Load() {
		return nil, opError(op, net.ErrClosed)
	}
	data, err := encode(fn)
	if err != nil {
		return nil, opError(op, err)
	}
	msgs, err := c.s.exec(cmd, kind, data)
	if err != nil {
		if c.closed.Load() {
			return nil, opError(op, net.ErrClosed)
		}
		return nil, wrapOp(op, err)
	}
	return msgs, nil
}

func noAttrs(*netlink.AttributeEncoder) error { return nil }

// netName is the Net of this package's errors: the kernel's generic
// netlink family.
const netName = "mptcp_pm"

// opError is the error of every call of this package (see the package
// documentation, Errors): a *net.OpError whose Op is the kernel command,
// as the kernel's netlink spec names it ("add-addr", "get-limits",
// "subflow-create", ...), or "dial", "close", "subscribe" or "receive".
func opError(op string, err error) error { return errs.Op(op, netName, err) }

// wrapOp turns an error of the platform layer into the package's error:
// it keeps netlink's *netlink.OpError, which carries the kernel's
// extended acknowledgement and its errno, and explains EPERM.
func wrapOp(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Net == netName {
		return oe
	}
	var errno syscall.Errno
	switch {
	case op != "dial" && (errors.Is(err, os.ErrClosed) || errors.As(err, &errno) && errno == syscall.EBADF):
		// On dial, EBADF is a bad namespace descriptor, not a closed Conn.
		err = net.ErrClosed
	case errors.As(err, &errno) && errno == syscall.EPERM:
		need := "CAP_NET_ADMIN"
		if op == "dial" {
			need = "CAP_SYS_ADMIN"
		}
		err = errs.New(err.Error()+": "+need+" is needed", err)
	}
	return opError(op, err)
}

// invalid is an argument refused before any request: it matches
// os.ErrInvalid, and no errno, so that it is never mistaken for a
// refusal by the kernel.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{os.ErrInvalid}, args...)...)
}

// errNoPathManager wraps the error of a kernel without the mptcp_pm
// family.
func errNoPathManager(err error) error {
	return errs.New("the kernel has no MPTCP path manager (generic netlink family mptcp_pm): it needs Linux 5.7 or newer built with CONFIG_MPTCP",
		errors.ErrUnsupported, err)
}
