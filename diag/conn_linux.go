package diag

import (
	"errors"
	"fmt"
	"iter"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/netns"
	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// Conn reads one network namespace's socket diagnostics. Its methods are
// safe for concurrent use; they take turns on one netlink socket. The
// loop over Connections holds that turn: call no other method of the
// same Conn from inside it.
type Conn struct {
	mu sync.Mutex
	s  *sockdiag.Conn // nil once closed
}

var (
	errNoMPTCPDiag = &wrapped{"the kernel has no MPTCP socket diagnostics (mptcp_diag, Linux 5.9 and later)", errors.ErrUnsupported}
	errTCPAnswer   = &wrapped{"the kernel answered an MPTCP request with TCP sockets: it has no MPTCP socket diagnostics (Linux 5.7 and 5.8)", errors.ErrUnsupported}
	errNeedAdmin   = &wrapped{"the kernel shows subflows (TCP sockets' ULP information) only to CAP_NET_ADMIN", os.ErrPermission}
	errNoToken     = &wrapped{"no MPTCP connection has that token", os.ErrNotExist}
)

// wrapped is an error with its own message that matches another.
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }

// Dial opens socket diagnostics in the namespace cfg names, or in the
// calling goroutine's when cfg is nil or names none.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.NetNS == "" && cfg.NetNSFD < 0 {
		return nil, &OpError{Op: "dial", Err: fmt.Errorf("negative namespace descriptor %d: %w", cfg.NetNSFD, os.ErrInvalid)}
	}
	// A copy of a descriptor, so that the caller's stays theirs.
	ns, err := netns.Open(cfg.NetNS, cfg.NetNSFD)
	if err != nil {
		return nil, &OpError{Op: "dial", Err: err}
	}
	if ns != nil {
		defer ns.Close()
	}
	s, err := sockdiag.Open(ns)
	if err != nil {
		return nil, &OpError{Op: "dial", Err: err}
	}
	return &Conn{s: s}, nil
}

// Close closes the netlink socket. Closing twice is an error matched by
// net.ErrClosed.
func (c *Conn) Close() error {
	if c == nil {
		return &OpError{Op: "close", Err: net.ErrClosed}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return &OpError{Op: "close", Err: net.ErrClosed}
	}
	err := c.s.Close()
	c.s = nil
	if err != nil {
		return &OpError{Op: "close", Err: err}
	}
	return nil
}

// Connections returns the namespace's MPTCP connections that f selects
// (every one for a nil f), one at a time: a dump decoded as it is read.
// An error ends the sequence. Breaking out of the loop stops the dump.
func (c *Conn) Connections(f *Filter) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) {
		if err := c.each(f, func(conn *Connection) bool { return yield(*conn, nil) }); err != nil {
			yield(Connection{}, err)
		}
	}
}

// All returns every connection that f selects.
func (c *Conn) All(f *Filter) ([]Connection, error) {
	var all []Connection
	for conn, err := range c.Connections(f) {
		if err != nil {
			return nil, err
		}
		all = append(all, conn)
	}
	return all, nil
}

// Lookup returns the connection whose token on this host is token,
// with its subflows when subflows is true. The kernel finds it by its
// token, without a dump.
func (c *Conn) Lookup(token uint32, subflows bool) (Connection, error) {
	if c == nil {
		return Connection{}, &OpError{Op: "lookup", Err: net.ErrClosed}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return Connection{}, &OpError{Op: "lookup", Err: net.ErrClosed}
	}
	var conn Connection
	found := false
	req := sockdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_MPTCP, Ext: sockdiag.ExtInfo | sockdiag.ExtCong, States: sockdiag.AllStates}
	req.ID.Cookie = [2]uint32{token, 0}
	err := c.s.Query(&req, func(m *sockdiag.Msg) error {
		if !m.IsMPTCP() {
			return errTCPAnswer
		}
		if err := decodeConn(&conn, m); err != nil {
			return err
		}
		found = conn.Info.Token == token
		return nil
	})
	switch {
	case errors.Is(err, syscall.ENOENT) && token != 0:
		err = errNoToken
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EINVAL):
		err = errNoMPTCPDiag
	case err == nil && !found:
		err = errNoToken
	}
	if err == nil && subflows {
		var subs map[uint32][]Subflow
		var ulps int
		if subs, ulps, err = c.subflows([]uint8{unix.AF_INET, unix.AF_INET6}); err == nil {
			if ulps == 0 {
				err = errNeedAdmin
			}
			conn.Subflows = subs[token]
		}
	}
	if err != nil {
		return Connection{}, &OpError{Op: "lookup", Err: err}
	}
	return conn, nil
}

var errStop = errors.New("stop")

// each calls fn with each connection f selects, until fn returns false.
func (c *Conn) each(f *Filter, fn func(*Connection) bool) error {
	if f == nil {
		f = &Filter{}
	}
	families, err := f.families()
	if err != nil {
		return &OpError{Op: "list", Err: err}
	}
	if c == nil {
		return &OpError{Op: "list", Err: net.ErrClosed}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return &OpError{Op: "list", Err: net.ErrClosed}
	}
	var subs map[uint32][]Subflow
	ulps := 0
	if f.Subflows {
		if subs, ulps, err = c.subflows([]uint8{unix.AF_INET, unix.AF_INET6}); err != nil {
			return &OpError{Op: "list", Err: err}
		}
	}
	states := f.stateMask()
	for _, family := range families {
		req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_MPTCP, Ext: sockdiag.ExtInfo | sockdiag.ExtCong, States: states, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		var conn Connection
		err := c.s.Query(&req, func(m *sockdiag.Msg) error {
			if !m.IsMPTCP() {
				return errTCPAnswer
			}
			if err := decodeConn(&conn, m); err != nil {
				return err
			}
			if !f.match(&conn) {
				return nil
			}
			if f.Subflows {
				if ulps == 0 {
					return errNeedAdmin
				}
				conn.Subflows = subs[conn.Info.Token]
			}
			if !fn(&conn) {
				return errStop
			}
			return nil
		})
		switch {
		case err == errStop:
			return nil
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EINVAL):
			return &OpError{Op: "list", Err: errNoMPTCPDiag}
		case err != nil:
			return &OpError{Op: "list", Err: err}
		}
	}
	return nil
}

// subflows dumps the TCP sockets of the families and gathers the MPTCP
// subflows among them by token; ulps counts the TCP sockets that came
// with ULP information at all (none: the kernel withheld it).
func (c *Conn) subflows(families []uint8) (map[uint32][]Subflow, int, error) {
	subs := map[uint32][]Subflow{}
	ulps := 0
	for _, family := range families {
		req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_TCP, Ext: sockdiag.ExtInfo, States: sockdiag.AllStates, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		err := c.s.Query(&req, func(m *sockdiag.Msg) error {
			if m.HasULP() {
				ulps++
			}
			u, ok := m.Subflow()
			if !ok || m.State == uint8(mptcp.StateListen) {
				return nil
			}
			s := Subflow{LocalID: u.IDLoc, RemoteID: u.IDRem, Token: u.TokenLoc, RemoteToken: u.TokenRem, Flags: SubflowFlags(u.Flags),
				RecvQueue: m.RQueue, SendQueue: m.WQueue}
			s.Local, s.Remote = m.AddrPorts()
			if ti, ok := m.Attr(sockdiag.AttrInfo); ok {
				s.TCP.UnmarshalBinary(ti) // a short tcp_info leaves its groups out of TCP.Fields
			}
			subs[u.TokenLoc] = append(subs[u.TokenLoc], s)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return subs, ulps, nil
}

// decodeConn decodes one MPTCP socket of an answer into *conn.
func decodeConn(conn *Connection, m *sockdiag.Msg) error {
	conn.Local, conn.Remote = m.AddrPorts()
	conn.State = mptcp.TCPState(m.State)
	conn.UID, conn.Inode = m.UID, m.Inode
	conn.RecvQueue, conn.SendQueue = m.RQueue, m.WQueue
	conn.Cookie = uint64(m.ID.Cookie[0]) | uint64(m.ID.Cookie[1])<<32
	conn.Subflows = nil
	info, ok := m.Attr(sockdiag.AttrInfo)
	if !ok {
		conn.Info = mptcp.Info{}
		return errors.New("the kernel sent an MPTCP socket without its mptcp_info")
	}
	return conn.Info.UnmarshalBinary(info)
}
