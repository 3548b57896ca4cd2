// Package pm drives the Linux kernel's MPTCP path manager: the part of
// the kernel that decides which subflows an MPTCP connection opens and
// which addresses it announces. It speaks the kernel's generic netlink
// family mptcp_pm, through github.com/mdlayher/genetlink, as "ip mptcp"
// does.
//
// A [Conn], from [Dial], works in one network namespace: the calling
// thread's, or one that [Config] names by path (/run/netns/NAME) or file
// descriptor. With it a program can:
//
//   - configure the in-kernel path manager: list, get, add, delete and
//     flush the namespace's [Endpoint]s (local addresses to use and
//     announce, with [Flags] such as [FlagSubflow] and [FlagSignal]),
//     change their backup and fullmesh flags, and read and set the
//     [Limits] (at most [MaxLimit] each);
//   - act as a userspace path manager, where the namespace has sysctl
//     net.mptcp.pm_type=1: announce and withdraw addresses, open and close
//     subflows, and set their backup priority, for a connection named by
//     its token ([Conn.Announce], [Conn.Remove], [Conn.CreateSubflow],
//     [Conn.DestroySubflow], [Conn.SetSubflowBackup]);
//   - watch every connection of the namespace: [Conn.Subscribe] returns a
//     [Subscription] whose Next returns typed [Event]s (connection
//     created, established, closed; subflow established, closed,
//     priority changed; addresses announced and removed by the peer;
//     listeners), with addresses as netip values, and which a context
//     cancels.
//
// The token links the three: package mptcp reports a connection's token
// in Info.Token (MPTCPConn.MPTCPInfo), events carry it, and the userspace
// commands take it.
//
// # Privileges
//
// Reading endpoints and limits needs no privilege. Every command that
// changes something, and subscribing to events, need CAP_NET_ADMIN in the
// namespace's user namespace; without it the kernel answers EPERM, and
// the error says that CAP_NET_ADMIN is needed and matches syscall.EPERM
// and os.ErrPermission. Working in another namespace than the calling
// thread's needs CAP_SYS_ADMIN, to enter it.
//
// # Errors
//
// Every error is a *net.OpError, as package net's are, whose Op names
// the kernel command ("add-addr", "get-limits", "subflow-create", ...,
// or "dial", "close", "subscribe", "receive") and whose Net is
// "mptcp_pm". Arguments the kernel would refuse (no address, id 0 where
// an id is needed, a limit above 8, a port where the kernel allows none,
// addresses of two families) are refused before any request is sent,
// with an error matching os.ErrInvalid and no errno. The kernel's own
// refusals keep their errno (errors.Is(err, syscall.EEXIST),
// syscall.EINVAL, ...) inside mdlayher/netlink's *netlink.OpError, whose
// Message is the kernel's explanation ("invalid token", "address not
// found") where it gave one:
//
//	var ne *netlink.OpError
//	if errors.As(err, &ne) && ne.Message != "" { ... }
//
// After Close, errors match net.ErrClosed. A kernel without MPTCP, which
// has no mptcp_pm family, and every system other than Linux, give an
// error matching errors.ErrUnsupported, as package mptcp does for what the
// kernel cannot do.
//
// # Kernels
//
// Verified by the tests of this package against iproute2 on Linux 6.18,
// and in the kernel matrix (docs/kernels.md) on 6.12, 6.1 and 5.10 built
// with MPTCP; the other versions come from the kernel's history:
//
//	command or event                                kernel  netlink
//	Endpoints, Endpoint, AddEndpoint, Delete-,      5.7     GET_ADDR, ADD_ADDR, DEL_ADDR,
//	  FlushEndpoints, Limits, SetLimits                     FLUSH_ADDRS, GET_LIMITS, SET_LIMITS
//	Endpoint.ID chosen by AddEndpoint               5.11    MPTCP_PM_ADDR_ATTR_ID
//	SetEndpointFlags (backup), endpoint ports       5.12    SET_FLAGS, MPTCP_PM_ADDR_ATTR_PORT
//	Subscribe, Next: connection, subflow,           5.12    group mptcp_pm_events
//	  announced and removed events
//	Event.ResetReason, Event.ResetFlags             5.13    MPTCP_ATTR_RESET_*
//	FlagFullmesh, FlagImplicit                      5.18    MPTCP_PM_ADDR_FLAG_*
//	Announce, Remove, CreateSubflow,                5.19    ANNOUNCE, REMOVE, SUBFLOW_CREATE,
//	  DestroySubflow; Event.ServerSide                      SUBFLOW_DESTROY, MPTCP_ATTR_SERVER_SIDE
//	listener events                                 6.2     MPTCP_EVENT_LISTENER_*
//	duplicate endpoint refused with EEXIST          6.2     (EINVAL before)
//	Subscribe needs CAP_NET_ADMIN                   6.7     GENL_MCAST_CAP_NET_ADMIN
//	  (and stable kernels since: Debian 12's 6.1)
//	SubflowOptions.Ifindex and .Backup              6.9     (ignored before)
//	FlagLaminar                                     6.18    MPTCP_PM_ADDR_FLAG_LAMINAR
//
// SetSubflowBackup (SET_FLAGS with a token), Remove with id 0 (the
// address of the first subflow) and EventFlagServerSide came between
// 5.19 and 6.18; they are known to work on 6.18.
//
// Dial reads which commands the kernel registered. A command it lacks is
// refused before sending, and Subscribe on a kernel without the events
// group, with an error matching errors.ErrUnsupported that names what is
// missing and the release that added it, as in "set-flags mptcp_pm: the
// kernel's mptcp_pm family has no set-flags command (Linux 5.12 added
// it)". What the kernel does not know of an endpoint it drops without an
// error: an id before 5.11 (it chooses one), a port before 5.12, a flag
// (kept without effect on 5.10, dropped by later kernels):
// [Conn.AddEndpoint] returns what the kernel kept, to compare with what
// was asked.
//
// # What pm leaves out
//
// Two requests are not offered: the userspace path manager's list of a
// connection's local addresses (GET_ADDR with a token, 6.10), and
// DEL_ADDR with id 0 and an address ("ip mptcp endpoint delete id 0
// ADDRESS"), which closes the first subflows that use the address.
package pm
