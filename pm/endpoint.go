package pm

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/mdlayher/netlink"

	"github.com/multipath-go/mptcp/internal/flagfmt"
)

// Flags are the flags of an endpoint of the in-kernel path manager, a bit
// set with the kernel's values (MPTCP_PM_ADDR_FLAG_*).
type Flags uint32

// The endpoint flags.
const (
	// FlagSignal: announce the address to peers (ADD_ADDR).
	FlagSignal Flags = 1 << 0
	// FlagSubflow: open subflows from the address to the peer.
	FlagSubflow Flags = 1 << 1
	// FlagBackup: subflows from the address are backups, used when no
	// other subflow is (MP_PRIO).
	FlagBackup Flags = 1 << 2
	// FlagFullmesh: with FlagSubflow, open a subflow from the address to
	// every address the peer announced, not only to its first one (5.18).
	FlagFullmesh Flags = 1 << 3
	// FlagImplicit marks an endpoint the kernel made itself for a local
	// address a subflow uses (5.18). Only the kernel sets it; adding an
	// endpoint for the same address replaces the implicit one.
	FlagImplicit Flags = 1 << 4
	// FlagLaminar: open subflows from the address to the addresses the
	// peer announces (6.18).
	FlagLaminar Flags = 1 << 5
)

// changeableFlags are the flags SET_FLAGS changes on an endpoint.
const changeableFlags = FlagBackup | FlagFullmesh

var flagNames = []string{"signal", "subflow", "backup", "fullmesh", "implicit", "laminar"}

// String lists the flags with the words of "ip mptcp endpoint", joined
// by '|', as in "subflow|backup"; unknown bits are shown in hexadecimal,
// and no flag as "0".
func (f Flags) String() string { return flagfmt.Format(uint64(f), flagNames) }

// Endpoint is a local address the in-kernel path manager may use for
// subflows or announce to peers ("ip mptcp endpoint").
type Endpoint struct {
	// ID is the endpoint's id, 1 to 255; 0 in AddEndpoint lets the kernel
	// choose.
	ID uint8
	// Addr is the local address. IPv4-mapped IPv6 addresses are sent as
	// IPv4.
	Addr netip.Addr
	// Port, when not 0, is a port announced with the address; the kernel
	// then listens on it for joining subflows. Only endpoints with
	// FlagSignal and without FlagSubflow may have one.
	Port uint16
	// Flags are the endpoint's flags.
	Flags Flags
	// Ifindex is the index of the network interface subflows from this
	// address are bound to ("dev" in ip), or 0 for none.
	Ifindex int
}

// String formats the endpoint as "ip mptcp endpoint show" does, with the
// interface by index: "10.0.2.2 port 8080 id 2 signal ifindex 3".
func (e Endpoint) String() string {
	var b strings.Builder
	b.WriteString(e.Addr.String())
	if e.Port != 0 {
		fmt.Fprintf(&b, " port %d", e.Port)
	}
	fmt.Fprintf(&b, " id %d", e.ID)
	if e.Flags != 0 {
		fmt.Fprintf(&b, " %v", e.Flags)
	}
	if e.Ifindex != 0 {
		fmt.Fprintf(&b, " ifindex %d", e.Ifindex)
	}
	return b.String()
}

// Endpoints lists the endpoints of the in-kernel path manager (a GET_ADDR
// dump), in the kernel's order (by id). It needs no privilege on 6.18.
func (c *Conn) Endpoints() ([]Endpoint, error) {
	msgs, err := c.request(cmdGetAddr, reqDump, noAttrs)
	if err != nil {
		return nil, err
	}
	eps := make([]Endpoint, 0, len(msgs))
	for _, m := range msgs {
		e, ok, err := endpointOf(m)
		if err != nil {
			return nil, opError(cmdNames[cmdGetAddr], err)
		}
		if ok {
			eps = append(eps, e)
		}
	}
	return eps, nil
}

// Endpoint returns the endpoint with the given id (GET_ADDR). The kernel
// refuses an id it does not hold (EINVAL on 6.18, with the message
// "address not found"); id 0 is refused before sending.
func (c *Conn) Endpoint(id uint8) (Endpoint, error) {
	const op = "get-addr"
	if id == 0 {
		return Endpoint{}, opError(op, invalid("endpoint id 0: ids are 1 to 255"))
	}
	msgs, err := c.request(cmdGetAddr, reqGet, func(ae *netlink.AttributeEncoder) error {
		ae.Nested(attrAddr, addrNest{id: id, withID: true}.encode)
		return nil
	})
	if err != nil {
		return Endpoint{}, err
	}
	for _, m := range msgs {
		e, ok, err := endpointOf(m)
		if err != nil {
			return Endpoint{}, opError(op, err)
		}
		if ok {
			return e, nil
		}
	}
	return Endpoint{}, opError(op, fmt.Errorf("the kernel answered without an endpoint"))
}

// endpointOf decodes the endpoint of one GET_ADDR reply.
func endpointOf(m message) (Endpoint, bool, error) {
	ad, err := netlink.NewAttributeDecoder(m.data)
	if err != nil {
		return Endpoint{}, false, err
	}
	var e Endpoint
	found := false
	for ad.Next() {
		if ad.Type() == attrAddr {
			found = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				var err error
				e, err = decodeEndpoint(nad)
				return err
			})
		}
	}
	if err := ad.Err(); err != nil {
		return Endpoint{}, false, err
	}
	return e, found, nil
}

// AddEndpoint adds an endpoint (ADD_ADDR) and returns it as the kernel
// then holds it, read back by id or by address and port. Should that
// reading fail, the endpoint may have been added all the same.
//
// The kernel may keep less than e, without an error: compare the result
// with e where it matters. Kernels before 5.11 choose the id themselves,
// whatever e.ID (as "ip mptcp endpoint add ... id N" shows there too);
// before 5.12 they drop the port; before 6.18 the laminar flag.
//
// Refused before sending: an invalid, unspecified, multicast, broadcast,
// loopback or zoned address, a port without FlagSignal or with
// FlagSubflow, FlagSignal with FlagFullmesh, FlagImplicit, a negative
// Ifindex, and an Ifindex that no interface of the Conn's namespace has
// (see [Conn.CreateSubflow] for how it is looked up). The kernel refuses
// an address it already holds (EEXIST since 6.2, EINVAL before), an id
// it already holds (EBUSY), and endpoints beyond its maximum.
func (c *Conn) AddEndpoint(e Endpoint) (Endpoint, error) {
	const op = "add-addr"
	addr, err := checkLocalAddr("endpoint", e.Addr)
	if err != nil {
		return Endpoint{}, opError(op, err)
	}
	e.Addr = addr
	switch {
	case e.Port != 0 && e.Flags&(FlagSignal|FlagSubflow) != FlagSignal:
		err = invalid("an endpoint with a port needs the signal flag, without subflow")
	case e.Flags&FlagSignal != 0 && e.Flags&FlagFullmesh != 0:
		err = invalid("an endpoint cannot have both signal and fullmesh")
	case e.Flags&FlagImplicit != 0:
		err = invalid("only the kernel makes implicit endpoints")
	case e.Ifindex < 0:
		err = invalid("negative interface index %d", e.Ifindex)
	default:
		err = c.checkIfindex(e.Ifindex)
	}
	if err != nil {
		return Endpoint{}, opError(op, err)
	}
	if _, err := c.request(cmdAddAddr, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Nested(attrAddr, addrNest{
			addr: e.Addr, id: e.ID, withID: e.ID != 0, port: e.Port, flags: e.Flags, ifindex: e.Ifindex,
		}.encode)
		return nil
	}); err != nil {
		return Endpoint{}, err
	}
	return c.readBack(e)
}

// readBack returns the endpoint AddEndpoint just added for e: the one
// with e's id, where the kernel kept it, or else the one with e's address
// and port, or else the only one with e's address (a kernel that dropped
// the port).
func (c *Conn) readBack(e Endpoint) (Endpoint, error) {
	if e.ID != 0 {
		// A kernel that chose another id answers EINVAL, "address not
		// found", or another endpoint's address.
		if got, err := c.Endpoint(e.ID); err == nil && got.Addr == e.Addr {
			return got, nil
		}
	}
	eps, err := c.Endpoints()
	if err != nil {
		return Endpoint{}, err
	}
	var same []Endpoint
	for _, got := range eps {
		if got.Addr == e.Addr {
			if got.Port == e.Port {
				return got, nil
			}
			same = append(same, got)
		}
	}
	if len(same) == 1 {
		return same[0], nil
	}
	return Endpoint{}, opError(cmdNames[cmdGetAddr], fmt.Errorf("endpoint %v added but not found when read back", e.Addr))
}

// DeleteEndpoint deletes the endpoint with the given id (DEL_ADDR). The
// kernel removes the address from the connections that use or announced
// it. Id 0 is refused before sending.
func (c *Conn) DeleteEndpoint(id uint8) error {
	if id == 0 {
		return opError(cmdNames[cmdDelAddr], invalid("endpoint id 0: ids are 1 to 255"))
	}
	_, err := c.request(cmdDelAddr, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Nested(attrAddr, addrNest{id: id, withID: true}.encode)
		return nil
	})
	return err
}

// FlushEndpoints deletes every endpoint (FLUSH_ADDRS).
func (c *Conn) FlushEndpoints() error {
	_, err := c.request(cmdFlushAddrs, reqAck, noAttrs)
	return err
}

// SetEndpointFlags sets the changeable flags of the endpoint with the
// given id, FlagBackup and FlagFullmesh, to their values in flags: one
// absent from flags is cleared (SET_FLAGS, "ip mptcp endpoint change").
// The kernel tells the connections that use the endpoint (MP_PRIO for a
// change of backup). Id 0 and other flags are refused before sending;
// the kernel refuses fullmesh on a signal endpoint.
func (c *Conn) SetEndpointFlags(id uint8, flags Flags) error {
	const op = "set-flags"
	if id == 0 {
		return opError(op, invalid("endpoint id 0: ids are 1 to 255"))
	}
	if extra := flags &^ changeableFlags; extra != 0 {
		return opError(op, invalid("flags %v cannot be changed: only backup and fullmesh can", extra))
	}
	_, err := c.request(cmdSetFlags, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Nested(attrAddr, addrNest{id: id, withID: true, flags: flags}.encode)
		return nil
	})
	return err
}

// checkAddr refuses addresses that cannot name a local or remote host,
// and unmaps IPv4-mapped IPv6 addresses.
func checkAddr(what string, a netip.Addr) (netip.Addr, error) {
	switch {
	case !a.IsValid():
		return a, invalid("no %s address", what)
	case a.Zone() != "":
		return a, invalid("%s address %v has a zone: use Ifindex", what, a)
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return a, invalid("%s address %v is unspecified", what, a)
	case a.IsMulticast():
		return a, invalid("%s address %v is multicast", what, a)
	case a == limitedBroadcast:
		return a, invalid("%s address %v is the broadcast address", what, a)
	}
	return a, nil
}

// limitedBroadcast is IPv4's limited broadcast address, 255.255.255.255.
var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// checkLocalAddr checks an address this host gives peers to reach it by,
// an endpoint's or an announced one: what checkAddr refuses, and loopback
// addresses (127.0.0.0/8, ::1), which no peer on another host can reach.
func checkLocalAddr(what string, a netip.Addr) (netip.Addr, error) {
	a, err := checkAddr(what, a)
	if err == nil && a.IsLoopback() {
		err = invalid("%s address %v is a loopback address, which peers cannot reach", what, a)
	}
	return a, err
}

// checkIfindex refuses a positive interface index that no interface of
// the Conn's network namespace has. It lets through 0 (no interface), an
// index it cannot look up (the request then goes to the kernel, as
// before), and a closed Conn, which request refuses.
func (c *Conn) checkIfindex(ifindex int) error {
	if ifindex <= 0 || c == nil || c.s == nil || c.closed.Load() {
		return nil
	}
	if ok, err := c.s.hasInterface(ifindex); err == nil && !ok {
		return invalid("no interface has index %d in the path manager's network namespace", ifindex)
	}
	return nil
}
