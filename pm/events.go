package pm

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/mdlayher/netlink"

	"github.com/multipath-go/mptcp/internal/flagfmt"
	"github.com/multipath-go/mptcp/internal/platform"
)

// EventType is the kind of a path-manager [Event], with the kernel's
// numbers (MPTCP_EVENT_*).
type EventType uint8

// The event types.
const (
	// EventCreated: a connection was created (before it is established;
	// on the client side, once the SYN-ACK arrived).
	EventCreated EventType = 1
	// EventEstablished: a connection is established and may open
	// subflows.
	EventEstablished EventType = 2
	// EventClosed: a connection ended.
	EventClosed EventType = 3
	// EventAnnounced: the peer announced an address (ADD_ADDR received).
	EventAnnounced EventType = 6
	// EventRemoved: the peer withdrew an address (RM_ADDR received).
	EventRemoved EventType = 7
	// EventSubflowEstablished: a subflow joined the connection.
	EventSubflowEstablished EventType = 10
	// EventSubflowClosed: a subflow closed, or failed to join.
	EventSubflowClosed EventType = 11
	// EventSubflowPriority: a subflow's backup priority changed (MP_PRIO).
	EventSubflowPriority EventType = 13
	// EventListenerCreated: an MPTCP listening socket was created (6.2).
	EventListenerCreated EventType = 15
	// EventListenerClosed: an MPTCP listening socket was closed (6.2).
	EventListenerClosed EventType = 16
)

var eventNames = map[EventType]string{
	EventCreated:            "created",
	EventEstablished:        "established",
	EventClosed:             "closed",
	EventAnnounced:          "announced",
	EventRemoved:            "removed",
	EventSubflowEstablished: "sub_established",
	EventSubflowClosed:      "sub_closed",
	EventSubflowPriority:    "sub_priority",
	EventListenerCreated:    "listener_created",
	EventListenerClosed:     "listener_closed",
}

// String names the type as the kernel's enum does, in lower case
// ("sub_established"), or "event(N)" for a type this package does not
// know.
func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// ResetReason is the reason code of an MP_TCPRST option (RFC 8684,
// section 3.6) that reset a subflow.
type ResetReason uint32

// String describes the reason as RFC 8684 does.
func (r ResetReason) String() string {
	names := []string{
		"unspecified error", "MPTCP-specific error", "lack of resources",
		"administratively prohibited", "too much outstanding data",
		"unacceptable performance", "middlebox interference",
	}
	if int(r) < len(names) {
		return names[r]
	}
	return fmt.Sprintf("reason(%d)", uint32(r))
}

// ResetFlags are the flags of an MP_TCPRST option.
type ResetFlags uint32

// ResetFlagTransient is MP_TCPRST's T flag: the condition that reset the
// subflow is temporary, and a new subflow may be tried.
const ResetFlagTransient ResetFlags = 1 << 0

// String lists the flags, as in "transient".
func (f ResetFlags) String() string {
	return flagfmt.Format(uint64(f), []string{"transient"})
}

// EventFlags are the flags of a connection event (MPTCP_PM_EV_FLAG_*).
type EventFlags uint16

const (
	// EventFlagDenyJoinID0: the peer refuses subflows to the address of
	// its first subflow.
	EventFlagDenyJoinID0 EventFlags = 1 << 0
	// EventFlagServerSide: this side accepted the connection (recent
	// kernels; older ones set only Event.ServerSide).
	EventFlagServerSide EventFlags = 1 << 1
)

// String lists the flags, as in "deny_join_id0|server_side".
func (f EventFlags) String() string {
	return flagfmt.Format(uint64(f), []string{"deny_join_id0", "server_side"})
}

// Event is one message of the path manager's events multicast group.
// Which fields are set depends on Type, as the kernel documents them:
//
//	created, established        Token, Local, Remote, ServerSide, Flags
//	closed                      Token
//	announced                   Token, RemoteID, Remote (the announced port,
//	                            or the kernel's guess: the peer's port of
//	                            the subflow that carried the announcement)
//	removed                     Token, RemoteID
//	sub_established, sub_closed,
//	sub_priority                Token, Local, Remote, LocalID, RemoteID,
//	                            Backup, Ifindex, Error; ResetReason and
//	                            ResetFlags in sub_closed after a reset
//	listener_created, _closed   Local
type Event struct {
	// Type is the kind of event.
	Type EventType
	// Token names the connection: the local token, as mptcp.Info.Token
	// reports on the same host.
	Token uint32
	// Local and Remote are the addresses and ports of the subflow or
	// connection, IPv4-mapped IPv6 addresses reported as IPv4.
	Local, Remote netip.AddrPort
	// LocalID and RemoteID are the address ids of a subflow's ends; 0 is
	// the address of the connection's first subflow.
	LocalID, RemoteID uint8
	// Backup reports a backup subflow.
	Backup bool
	// Ifindex is the interface a subflow is bound to, or 0.
	Ifindex int
	// Error is the subflow's socket error, or 0.
	Error syscall.Errno
	// ResetReason and ResetFlags come from the MP_TCPRST that reset the
	// subflow, when one did.
	ResetReason ResetReason
	ResetFlags  ResetFlags
	// ServerSide reports a connection this side accepted.
	ServerSide bool
	// Flags are the connection's flags.
	Flags EventFlags
}

// String formats the event on one line, with the fields its type has, as
// in "sub_established token=5a3c1e2f local=10.0.2.2:41234 id 2
// remote=10.0.1.1:8080 remote id 0 ifindex 3".
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Type.String())
	switch e.Type {
	case EventListenerCreated, EventListenerClosed:
	default:
		fmt.Fprintf(&b, " token=%08x", e.Token)
	}
	sub := e.Type == EventSubflowEstablished || e.Type == EventSubflowClosed || e.Type == EventSubflowPriority
	if e.Local.IsValid() {
		fmt.Fprintf(&b, " local=%v", e.Local)
		if sub {
			fmt.Fprintf(&b, " id %d", e.LocalID)
		}
	}
	if e.Remote.Addr().IsValid() {
		fmt.Fprintf(&b, " remote=%v", e.Remote)
	}
	if sub || e.Type == EventAnnounced || e.Type == EventRemoved {
		fmt.Fprintf(&b, " remote id %d", e.RemoteID)
	}
	if e.Backup {
		b.WriteString(" backup")
	}
	if e.Ifindex != 0 {
		fmt.Fprintf(&b, " ifindex %d", e.Ifindex)
	}
	if e.Error != 0 {
		fmt.Fprintf(&b, " error=%q", e.Error.Error())
	}
	if e.ResetReason != 0 || e.ResetFlags != 0 {
		fmt.Fprintf(&b, " reset=%q flags=%v", e.ResetReason.String(), e.ResetFlags)
	}
	if e.ServerSide {
		b.WriteString(" server_side")
	}
	if e.Flags != 0 {
		fmt.Fprintf(&b, " flags=%v", e.Flags)
	}
	return b.String()
}

// decodeEvent decodes one event message.
func decodeEvent(m message) (Event, error) {
	e := Event{Type: EventType(m.cmd)}
	ad, err := netlink.NewAttributeDecoder(m.data)
	if err != nil {
		return e, err
	}
	var saddr, daddr netip.Addr
	var sport, dport uint16
	for ad.Next() {
		switch ad.Type() {
		case evAttrToken:
			e.Token = ad.Uint32()
		case evAttrLocID:
			e.LocalID = ad.Uint8()
		case evAttrRemID:
			e.RemoteID = ad.Uint8()
		case evAttrSaddr4:
			saddr, err = ipFrom(platform.AFInet, ad.Bytes())
		case evAttrSaddr6:
			saddr, err = ipFrom(platform.AFInet6, ad.Bytes())
		case evAttrDaddr4:
			daddr, err = ipFrom(platform.AFInet, ad.Bytes())
		case evAttrDaddr6:
			daddr, err = ipFrom(platform.AFInet6, ad.Bytes())
		case evAttrSport:
			sport, err = be16(ad.Bytes())
		case evAttrDport:
			dport, err = be16(ad.Bytes())
		case evAttrBackup:
			e.Backup = ad.Uint8() != 0
		case evAttrError:
			e.Error = syscall.Errno(ad.Uint8())
		case evAttrFlags:
			e.Flags = EventFlags(ad.Uint16())
		case evAttrIfIdx:
			e.Ifindex = int(ad.Int32())
		case evAttrResetReason:
			e.ResetReason = ResetReason(ad.Uint32())
		case evAttrResetFlags:
			e.ResetFlags = ResetFlags(ad.Uint32())
		case evAttrServerSide:
			e.ServerSide = ad.Uint8() != 0
		}
		if err != nil {
			return e, err
		}
	}
	if err := ad.Err(); err != nil {
		return e, err
	}
	if e.Flags&EventFlagServerSide != 0 {
		e.ServerSide = true
	}
	if saddr.IsValid() {
		e.Local = netip.AddrPortFrom(saddr.Unmap(), sport)
	}
	if daddr.IsValid() {
		e.Remote = netip.AddrPortFrom(daddr.Unmap(), dport)
	}
	return e, nil
}

// Subscription receives the path manager's events in one network
// namespace, from a socket of its own. Every event of every connection in
// the namespace arrives: match them to a connection by Event.Token.
type Subscription struct {
	mu      sync.Mutex // serializes Next
	s       *sysSub
	closed  atomic.Bool
	pending []Event
}

// Subscribe joins the mptcp_pm_events multicast group of the connection's
// network namespace, on a socket of its own that the Subscription keeps
// until closed. For a Conn dialed without a namespace, that is the
// calling thread's namespace, as for Dial. The kernel lets only holders
// of CAP_NET_ADMIN join (6.7, and the stable kernels since, Debian 12's
// 6.1 among them); without it the error matches syscall.EPERM and
// os.ErrPermission. Kernels before 5.12 have no events: the error then
// matches errors.ErrUnsupported and says so.
func (c *Conn) Subscribe() (*Subscription, error) {
	const op = "subscribe"
	if c == nil || c.s == nil || c.closed.Load() {
		return nil, opError(op, net.ErrClosed)
	}
	s, err := c.s.subscribe()
	if err != nil {
		return nil, wrapOp(op, err)
	}
	return &Subscription{s: s}, nil
}

// Next returns the next event, waiting for one until ctx is done. It
// returns ctx's error then, inside an *net.OpError, and starts no goroutine
// that outlives the call. Events the kernel could not queue because the
// program read too slowly are lost: Next then reports an error matching
// syscall.ENOBUFS once, and goes on with the next events. After Close, it
// returns an error matching net.ErrClosed.
//
// Next may be called from one goroutine at a time; Close may be called
// from any, and interrupts a waiting Next. On a nil or zero Subscription,
// one not made by [Conn.Subscribe], it returns an error matching
// net.ErrClosed, as the methods of a zero Conn do.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	const op = "receive"
	if s == nil {
		return Event{}, opError(op, net.ErrClosed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if len(s.pending) > 0 {
			e := s.pending[0]
			s.pending = s.pending[1:]
			return e, nil
		}
		if s.s == nil || s.closed.Load() {
			return Event{}, opError(op, net.ErrClosed)
		}
		msgs, err := s.s.receive(ctx)
		if err != nil {
			if s.closed.Load() {
				return Event{}, opError(op, net.ErrClosed)
			}
			return Event{}, wrapOp(op, err)
		}
		var derr error
		for _, m := range msgs {
			e, err := decodeEvent(m)
			if err != nil {
				derr = fmt.Errorf("malformed %v event: %w", EventType(m.cmd), err)
				continue
			}
			s.pending = append(s.pending, e)
		}
		if derr != nil && len(s.pending) == 0 {
			return Event{}, opError(op, derr)
		}
	}
}

// Close closes the subscription's socket; a Next waiting in another
// goroutine returns. Closing twice returns an error matching
// net.ErrClosed.
func (s *Subscription) Close() error {
	if s == nil || s.s == nil || s.closed.Swap(true) {
		return opError("close", net.ErrClosed)
	}
	if err := s.s.close(); err != nil {
		return wrapOp("close", err)
	}
	return nil
}
