//go:build linux

package pm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/errs"
	"github.com/multipath-go/mptcp/internal/netns"
)

// sysConn is the Linux side of a Conn: a generic netlink socket that
// knows the family's numbers, and the namespace that subscriptions join.
type sysConn struct {
	gc *genetlink.Conn
	family

	mu     sync.RWMutex // guards ns and closed against Close during subscribe
	ns     *os.File     // nil: the calling thread's namespace
	closed bool
}

func dial(cfg *Config) (*sysConn, error) {
	ns, err := openNetNS(cfg)
	if err != nil {
		return nil, err
	}
	gc, err := dialNetlink(ns)
	if err != nil {
		closeNS(ns)
		return nil, err
	}
	s, err := newSysConn(gc, ns)
	if err != nil {
		gc.Close()
		closeNS(ns)
		return nil, err
	}
	return s, nil
}

// newSysConn looks the family up on gc, which it then owns.
func newSysConn(gc *genetlink.Conn, ns *os.File) (*sysConn, error) {
	// Best effort: the kernel's explanations of its refusals (4.12+).
	_ = gc.SetOption(netlink.ExtendedAcknowledge, true)
	f, err := getFamily(gc, familyName)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errNoPathManager(err)
		}
		return nil, err
	}
	return &sysConn{gc: gc, family: f, ns: ns}, nil
}

// getFamily asks the kernel's generic netlink controller for the family
// name (mptcp_pm): what genetlink's GetFamily reports, and the commands
// the kernel registered, which it leaves out. A family the kernel does
// not have is an error matching ENOENT and os.ErrNotExist.
func getFamily(gc *genetlink.Conn, name string) (family, error) {
	data, err := encode(func(ae *netlink.AttributeEncoder) error {
		ae.String(unix.CTRL_ATTR_FAMILY_NAME, name)
		return nil
	})
	if err != nil {
		return family{}, err
	}
	req := genetlink.Message{Header: genetlink.Header{Command: unix.CTRL_CMD_GETFAMILY, Version: 1}, Data: data}
	msgs, err := gc.Execute(req, unix.GENL_ID_CTRL, netlink.Request)
	if err != nil {
		return family{}, err
	}
	if len(msgs) != 1 {
		return family{}, fmt.Errorf("the kernel answered %d messages for family %s", len(msgs), name)
	}
	return decodeFamily(msgs[0].Data)
}

// openNetNS opens the namespace cfg names, or returns nil for none: a
// file of the Conn's own, kept for subscribe and hasInterface.
func openNetNS(cfg *Config) (*os.File, error) {
	return netns.Open(cfg.NetNS, cfg.NetNSFD)
}

func closeNS(ns *os.File) {
	if ns != nil {
		ns.Close()
	}
}

// dialNetlink opens a generic netlink socket in ns, or in the calling
// thread's namespace when ns is nil.
// The namespace is entered through internal/netns, as every package of
// the module enters one, rather than through netlink.Config.NetNS.
func dialNetlink(ns *os.File) (*genetlink.Conn, error) {
	if ns == nil {
		return genetlink.Dial(nil)
	}
	var gc *genetlink.Conn
	err := netns.Do(ns, func() (err error) {
		gc, err = genetlink.Dial(nil)
		return err
	})
	if err != nil {
		// setns answers EINVAL for a file that is not a network namespace.
		return nil, fmt.Errorf("enter network namespace %s: %w", ns.Name(), err)
	}
	return gc, nil
}

func (s *sysConn) exec(cmd uint8, kind int, data []byte) ([]message, error) {
	if err := s.lacks(cmd); err != nil {
		return nil, err
	}
	flags := netlink.Request
	switch kind {
	case reqAck:
		flags |= netlink.Acknowledge
	case reqDump:
		flags |= netlink.Dump
	}
	req := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: familyVer}, Data: data}
	msgs, err := s.gc.Execute(req, s.id, flags)
	if err != nil {
		return nil, err
	}
	if kind == reqAck {
		// The acknowledgement itself, nothing to decode.
		return nil, nil
	}
	out := make([]message, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, message{cmd: m.Header.Command, data: m.Data})
	}
	return out, nil
}

func (s *sysConn) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	closeNS(s.ns)
	s.ns, s.closed = nil, true
	return s.gc.Close()
}

// hasInterface reports whether an interface of the Conn's namespace has
// the index ifindex: net.Interfaces, on a thread moved into the namespace
// and back, or on the calling thread for a Conn dialed without one. A
// thread that cannot move back is left locked, so that it ends with its
// goroutine.
func (s *sysConn) hasInterface(ifindex int) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false, net.ErrClosed
	}
	if s.ns == nil {
		return hasInterface(ifindex)
	}
	var ok bool
	err := netns.Do(s.ns, func() (err error) {
		ok, err = hasInterface(ifindex)
		return err
	})
	return ok, err
}

// hasInterface reports whether an interface of the calling thread's
// namespace has the index ifindex.
func hasInterface(ifindex int) (bool, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return false, err
	}
	for _, ifi := range ifs {
		if ifi.Index == ifindex {
			return true, nil
		}
	}
	return false, nil
}

// sysSub is the Linux side of a Subscription: a socket that joined the
// events group.
type sysSub struct {
	gc     *genetlink.Conn
	family uint16
}

func (s *sysConn) subscribe() (*sysSub, error) {
	if s.group == 0 {
		return nil, errs.New("the kernel's mptcp_pm family has no events group ("+eventsSince+")", errors.ErrUnsupported)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		// Without its namespace, the subscription would silently join the
		// calling thread's.
		return nil, net.ErrClosed
	}
	gc, err := dialNetlink(s.ns)
	if err != nil {
		return nil, err
	}
	if err := gc.JoinGroup(s.group); err != nil {
		gc.Close()
		return nil, err
	}
	// Best effort: room for bursts of events (the kernel caps it at
	// net.core.rmem_max for programs without CAP_NET_ADMIN).
	_ = gc.SetReadBuffer(1 << 20)
	return &sysSub{gc: gc, family: s.id}, nil
}

// aLongTimeAgo is a deadline in the past, that makes a blocked read
// return at once.
var aLongTimeAgo = time.Unix(1, 0)

// receive waits for the next datagram of events until ctx is done.
// Cancellation moves the socket's read deadline into the past from a
// context.AfterFunc, which has finished by the time receive returns.
func (s *sysSub) receive(ctx context.Context) ([]message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	if err := s.gc.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		done := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(done)
			s.gc.SetReadDeadline(aLongTimeAgo)
		})
		defer func() {
			if !stop() {
				<-done
			}
		}()
	}
	gmsgs, nmsgs, err := s.gc.Receive()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				return nil, context.DeadlineExceeded
			}
		}
		return nil, err
	}
	out := make([]message, 0, len(gmsgs))
	for i, m := range gmsgs {
		if nmsgs[i].Header.Type != netlink.HeaderType(s.family) {
			continue
		}
		out = append(out, message{cmd: m.Header.Command, data: m.Data})
	}
	return out, nil
}

func (s *sysSub) close() error { return s.gc.Close() }
