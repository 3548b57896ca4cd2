package pm

import (
	"net/netip"

	"github.com/mdlayher/netlink"
)

// The userspace path manager leaves every decision to a program: with
// sysctl net.mptcp.pm_type=1 in a network namespace, the kernel opens no
// subflow and announces no address by itself for connections made there,
// and the program does it with these commands, naming each connection by
// its token (mptcp.Info.Token, or Event.Token). They all need
// CAP_NET_ADMIN, and the kernel refuses them (EINVAL, "invalid token" or
// "userspace PM not selected") for a token it does not know or a
// connection the in-kernel path manager drives.

// SubflowOptions are the optional parts of a [Conn.CreateSubflow]
// request. A nil *SubflowOptions is the zero value.
type SubflowOptions struct {
	// LocalID is the id the local address takes in the connection, 1 to
	// 255, which the peer sees in MP_JOIN and RM_ADDR. With 0, the
	// kernel (6.18) gives the subflow id 0, the id of the first
	// subflow's address: name one.
	LocalID uint8
	// Ifindex binds the subflow to a network interface; 0 binds none.
	Ifindex int
	// Backup makes the subflow a backup from its start (MP_JOIN's B bit).
	Backup bool
	// Kernels before 6.9 ignore Ifindex and Backup without an error: the
	// subflow is not bound and joins as a regular one (SetSubflowBackup
	// can change its priority once it is established).
}

// Announce announces a local address, with id (1 to 255) and, when
// addr's port is not 0, a port, to the peer of the connection token
// (ANNOUNCE, ADD_ADDR on the wire). Id 0 and invalid addresses are
// refused before sending, loopback addresses and the broadcast address
// among them: no peer can reach them.
func (c *Conn) Announce(token uint32, id uint8, addr netip.AddrPort) error {
	const op = "announce"
	if id == 0 {
		return opError(op, invalid("announced address id 0: ids are 1 to 255"))
	}
	a, err := checkLocalAddr("announced", addr.Addr())
	if err != nil {
		return opError(op, err)
	}
	_, err = c.request(cmdAnnounce, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Uint32(attrToken, token)
		ae.Nested(attrAddr, addrNest{addr: a, id: id, withID: true, port: addr.Port(), flags: FlagSignal}.encode)
		return nil
	})
	return err
}

// Remove withdraws the local address with the given id from the
// connection token (REMOVE, RM_ADDR on the wire), and closes the subflows
// that use it. Id 0 is the address of the first subflow (recent
// kernels, 6.18 included).
func (c *Conn) Remove(token uint32, id uint8) error {
	_, err := c.request(cmdRemove, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Uint32(attrToken, token)
		ae.Uint8(attrLocID, id)
		return nil
	})
	return err
}

// CreateSubflow opens a subflow of the connection token from local to
// remote (SUBFLOW_CREATE, MP_JOIN on the wire). A local port of 0 lets
// the kernel choose one. The call returns once the kernel has sent the
// SYN; the subflow is usable after an EventSubflowEstablished, or gone
// after an EventSubflowClosed.
//
// Refused before sending: invalid addresses (unspecified, multicast, the
// broadcast address 255.255.255.255), a remote port of 0, addresses of
// different families, a negative Ifindex, and an Ifindex that no
// interface of the Conn's network namespace has. The index is looked up
// (net.Interfaces) on a thread that enters the namespace the Conn was
// dialed in, or, for a Conn dialed without one, in the calling thread's
// namespace; when the lookup itself fails, the request is sent as is.
func (c *Conn) CreateSubflow(token uint32, local, remote netip.AddrPort, opts *SubflowOptions) error {
	const op = "subflow-create"
	if opts == nil {
		opts = &SubflowOptions{}
	}
	l, r, err := checkPair(local, remote, false, true)
	if err == nil && opts.Ifindex < 0 {
		err = invalid("negative interface index %d", opts.Ifindex)
	}
	if err == nil {
		err = c.checkIfindex(opts.Ifindex)
	}
	if err != nil {
		return opError(op, err)
	}
	var flags Flags
	if opts.Backup {
		flags = FlagBackup
	}
	_, err = c.request(cmdSubflowCreate, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Uint32(attrToken, token)
		ae.Nested(attrAddr, addrNest{
			addr: l.Addr(), id: opts.LocalID, withID: opts.LocalID != 0,
			port: l.Port(), flags: flags, ifindex: opts.Ifindex,
		}.encode)
		ae.Nested(attrAddrRemote, addrNest{addr: r.Addr(), port: r.Port()}.encode)
		return nil
	})
	return err
}

// DestroySubflow closes the subflow of the connection token from local to
// remote (SUBFLOW_DESTROY), both with their ports. The kernel answers
// ESRCH when no subflow matches. Invalid addresses, ports of 0 and
// addresses of different families are refused before sending.
func (c *Conn) DestroySubflow(token uint32, local, remote netip.AddrPort) error {
	const op = "subflow-destroy"
	l, r, err := checkPair(local, remote, true, true)
	if err != nil {
		return opError(op, err)
	}
	_, err = c.request(cmdSubflowDestroy, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Uint32(attrToken, token)
		ae.Nested(attrAddr, addrNest{addr: l.Addr(), port: l.Port()}.encode)
		ae.Nested(attrAddrRemote, addrNest{addr: r.Addr(), port: r.Port()}.encode)
		return nil
	})
	return err
}

// SetSubflowBackup sets or clears the backup priority of the subflows of
// the connection token from local to remote, and tells the peer (SET_FLAGS
// with a token, MP_PRIO on the wire). A port of 0 matches any port. The
// kernel refuses the request when no subflow matches. Invalid addresses
// and addresses of different families are refused before sending.
func (c *Conn) SetSubflowBackup(token uint32, local, remote netip.AddrPort, backup bool) error {
	const op = "set-flags"
	l, r, err := checkPair(local, remote, false, false)
	if err != nil {
		return opError(op, err)
	}
	var flags Flags
	if backup {
		flags = FlagBackup
	}
	_, err = c.request(cmdSetFlags, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Uint32(attrToken, token)
		ae.Nested(attrAddr, addrNest{addr: l.Addr(), port: l.Port(), flags: flags}.encode)
		ae.Nested(attrAddrRemote, addrNest{addr: r.Addr(), port: r.Port()}.encode)
		return nil
	})
	return err
}

// checkPair checks the local and remote addresses of a subflow request:
// valid, of one family, with the ports that are needed.
func checkPair(local, remote netip.AddrPort, needLocalPort, needRemotePort bool) (l, r netip.AddrPort, err error) {
	la, err := checkAddr("local", local.Addr())
	if err != nil {
		return l, r, err
	}
	ra, err := checkAddr("remote", remote.Addr())
	if err != nil {
		return l, r, err
	}
	l, r = netip.AddrPortFrom(la, local.Port()), netip.AddrPortFrom(ra, remote.Port())
	switch {
	case la.Is4() != ra.Is4():
		return l, r, invalid("local address %v and remote address %v are of different families", la, ra)
	case needRemotePort && remote.Port() == 0:
		return l, r, invalid("remote %v has no port", r)
	case needLocalPort && local.Port() == 0:
		return l, r, invalid("local %v has no port", l)
	}
	return l, r, nil
}
