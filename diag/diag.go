package diag

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/flagfmt"
)

// Config selects the network namespace to read.
type Config struct {
	// NetNS is the path of a network namespace file, such as
	// /run/netns/NAME (made by "ip netns add NAME") or /proc/PID/ns/net.
	// Entering a namespace needs CAP_SYS_ADMIN.
	NetNS string

	// NetNSFD is an open file descriptor of a network namespace, used
	// when NetNS is empty; 0 means none. Dial does not keep it: the
	// caller may close it once Dial returns.
	NetNSFD int
}

// Connection is one MPTCP connection: the MPTCP-level socket, as socket
// diagnostics show it.
type Connection struct {
	// Local and Remote are the connection's addresses: those of its
	// first subflow. IPv4-mapped IPv6 addresses are reported as IPv4.
	Local, Remote netip.AddrPort
	// State is the MPTCP-level socket's state, in TCP's terms.
	State mptcp.TCPState
	// UID owns the socket; Inode is its inode number, as in
	// /proc/PID/fd (0 for a socket no process holds).
	UID, Inode uint32
	// Cookie is the kernel's socket cookie.
	Cookie uint64
	// RecvQueue and SendQueue are what ss prints as Recv-Q and Send-Q,
	// the inet_diag_msg's idiag_rqueue and idiag_wqueue. For an MPTCP
	// socket the kernel gives the bytes its receive and send queues
	// hold; for a listener, the connections waiting in its accept queue
	// and that queue's limit, the listen backlog.
	RecvQueue, SendQueue uint32
	// Info is the connection's struct mptcp_info.
	Info mptcp.Info
	// Subflows holds the subflows when the Filter asked for them, in
	// the kernel's order; nil otherwise.
	Subflows []Subflow
}

// Token returns the connection's token on this host.
func (c *Connection) Token() uint32 { return c.Info.Token }

// FellBack reports whether the connection fell back to plain TCP.
func (c *Connection) FellBack() bool { return c.Info.Flags&mptcp.InfoFlagFallback != 0 }

// Subflow is one TCP subflow of an MPTCP connection.
type Subflow struct {
	// Local and Remote are the subflow's addresses.
	Local, Remote netip.AddrPort
	// LocalID and RemoteID are the address ids of its two ends, as the
	// path manager numbers them (0 for the addresses the connection
	// began with).
	LocalID, RemoteID uint8
	// Token is the connection's token on this host, RemoteToken the
	// peer's (0 on a server's first subflow, which never learns it).
	Token, RemoteToken uint32
	// Flags are the subflow's MPTCP flags.
	Flags SubflowFlags
	// RecvQueue and SendQueue are the subflow's TCP queues, as ss -t
	// prints them: bytes received and not yet moved to the MPTCP
	// socket, bytes sent and not acknowledged.
	RecvQueue, SendQueue uint32
	// TCP holds the subflow's TCP statistics.
	TCP mptcp.TCPInfo
}

// SubflowFlags are the MPTCP_SUBFLOW_FLAG_* bits of a subflow.
type SubflowFlags uint32

// The subflow flags, from <linux/mptcp.h>.
const (
	FlagMPCapableRemote  SubflowFlags = 1 << iota // the peer sent MP_CAPABLE
	FlagMPCapableLocal                            // this side sent MP_CAPABLE
	FlagJoinRemote                                // the peer sent MP_JOIN
	FlagJoinLocal                                 // this side sent MP_JOIN
	FlagBackupRemote                              // the peer marked the subflow backup
	FlagBackupLocal                               // this side marked it backup
	FlagFullyEstablished                          // the MPTCP handshake completed
	FlagConnected                                 // the subflow is connected
	FlagMapValid                                  // a DSS mapping is in use
)

var subflowFlagNames = []string{"mp-capable-remote", "mp-capable-local", "join-remote", "join-local",
	"backup-remote", "backup-local", "fully-established", "connected", "map-valid"}

// String lists the flags, as in "mp-capable-local|connected".
func (f SubflowFlags) String() string { return flagfmt.Format(uint64(f), subflowFlagNames) }

// Filter selects connections, as ss's filters do. The zero Filter
// selects every MPTCP connection, without subflows.
type Filter struct {
	// Network is "tcp" (or empty) for both address families, "tcp4" or
	// "tcp6" for one: the family of the addresses a Connection shows,
	// not of its socket. A dual-stack listener's connection from an IPv4
	// client is an IPv6 socket with IPv4-mapped addresses, shown (and
	// so selected) as IPv4.
	Network string
	// States selects connections in these states; none selects all.
	States []mptcp.TCPState
	// Local and Remote select connections whose address lies in the
	// prefix; the zero Prefix selects any.
	Local, Remote netip.Prefix
	// LocalPort and RemotePort select connections with that port; 0
	// selects any.
	LocalPort, RemotePort uint16
	// Subflows asks for each connection's subflows.
	Subflows bool
}

// families returns the socket address families to list for the
// filter's network, in Linux's numbering. IPv4 connections live in both:
// an IPv6 socket's IPv4-mapped ones are IPv4 too; match sorts them out.
func (f *Filter) families() ([]uint8, error) {
	switch f.Network {
	case "", "tcp", "tcp4":
		return []uint8{afInet, afInet6}, nil
	case "tcp6":
		return []uint8{afInet6}, nil
	}
	return nil, fmt.Errorf("network %q: want tcp, tcp4 or tcp6: %w", f.Network, os.ErrInvalid)
}

// Linux's address families.
const (
	afInet  = 2
	afInet6 = 10
)

// stateMask returns the kernel's state filter: a bit per state.
func (f *Filter) stateMask() uint32 {
	if len(f.States) == 0 {
		return ^uint32(0)
	}
	var m uint32
	for _, s := range f.States {
		if s < 32 {
			m |= 1 << s
		}
	}
	return m
}

// match applies the network, address and port filters, which the
// kernel is not asked to apply. The addresses are unmapped already: an
// IPv4-mapped address is IPv4 here, as a Connection shows it.
func (f *Filter) match(c *Connection) bool {
	switch {
	case f.Network == "tcp4" && !c.Local.Addr().Is4(),
		f.Network == "tcp6" && c.Local.Addr().Is4(),
		f.LocalPort != 0 && c.Local.Port() != f.LocalPort,
		f.RemotePort != 0 && c.Remote.Port() != f.RemotePort,
		f.Local.IsValid() && !f.Local.Contains(c.Local.Addr()),
		f.Remote.IsValid() && !f.Remote.Contains(c.Remote.Addr()):
		return false
	}
	return true
}
