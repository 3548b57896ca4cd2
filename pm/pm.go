package pm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/mdlayher/netlink"

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
// Errors are *[OpError] values.
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
		return &OpError{Op: "close", Err: net.ErrClosed}
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
		return nil, &OpError{Op: op, Err: net.ErrClosed}
	}
	data, err := encode(fn)
	if err != nil {
		return nil, &OpError{Op: op, Err: err}
	}
	msgs, err := c.s.exec(cmd, kind, data)
	if err != nil {
		if c.closed.Load() {
			return nil, &OpError{Op: op, Err: net.ErrClosed}
		}
		return nil, wrapOp(op, err)
	}
	return msgs, nil
}

func noAttrs(*netlink.AttributeEncoder) error { return nil }

// OpError is the error of every call of this package: the operation, the
// kernel's own explanation where it gave one, and the cause.
//
// Err is one of:
//   - a syscall.Errno, for a request the kernel refused (errors.Is(err,
//     syscall.EINVAL) and the like work); a refusal for lack of privilege
//     wraps EPERM in an error that says CAP_NET_ADMIN is needed, and
//     matches both syscall.EPERM and os.ErrPermission;
//   - an error matching os.ErrInvalid, for arguments refused before any
//     request was sent;
//   - an error matching errors.ErrUnsupported, where the kernel or the
//     system has no MPTCP path manager;
//   - net.ErrClosed, after Close;
//   - a context's error, for [Subscription.Next];
//   - another error from the socket or the namespace, as an
//     *os.SyscallError or *os.PathError.
type OpError struct {
	// Op is the kernel command, as the kernel's netlink spec names it
	// ("add-addr", "get-limits", "subflow-create", ...), or "dial",
	// "close", "subscribe" or "receive".
	Op string
	// Message is the kernel's extended acknowledgement, such as "invalid
	// token" or "address not found", when it gave one.
	Message string
	// Err is the cause.
	Err error
}

// Error formats the error as "pm: OP: CAUSE (kernel: MESSAGE)".
func (e *OpError) Error() string {
	s := "pm: " + e.Op + ": " + e.Err.Error()
	if e.Message != "" {
		s += " (kernel: " + e.Message + ")"
	}
	return s
}

// Unwrap returns Err.
func (e *OpError) Unwrap() error { return e.Err }

// wrapOp turns an error of the platform layer into an *OpError: it lifts
// the kernel's extended acknowledgement out of a netlink error, keeps
// its errno, and explains EPERM.
func wrapOp(op string, err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe
	}
	e := &OpError{Op: op, Err: err}
	if ne, ok := err.(*netlink.OpError); ok {
		e.Message = ne.Message
		e.Err = ne.Err
	}
	var errno syscall.Errno
	switch {
	case op != "dial" && (errors.Is(e.Err, os.ErrClosed) || errors.As(e.Err, &errno) && errno == syscall.EBADF):
		e.Err = net.ErrClosed
	case errors.As(e.Err, &errno) && errno == syscall.EPERM:
		need := "CAP_NET_ADMIN"
		if op == "dial" {
			need = "CAP_SYS_ADMIN"
		}
		e.Err = &wrapErr{msg: e.Err.Error() + ": " + need + " is needed", errs: []error{e.Err}}
	}
	return e
}

// wrapErr is an error with its own message that matches others through
// errors.Is and errors.As.
type wrapErr struct {
	msg  string
	errs []error
}

func (e *wrapErr) Error() string   { return e.msg }
func (e *wrapErr) Unwrap() []error { return e.errs }

// invalid is an argument refused before any request: it matches
// os.ErrInvalid, and no errno, so that it is never mistaken for a
// refusal by the kernel.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{os.ErrInvalid}, args...)...)
}

// errNoPathManager wraps the error of a kernel without the mptcp_pm
// family.
func errNoPathManager(err error) error {
	return &wrapErr{
		msg:  "the kernel has no MPTCP path manager (generic netlink family mptcp_pm): it needs Linux 5.7 or newer built with CONFIG_MPTCP",
		errs: []error{errors.ErrUnsupported, err},
	}
}
