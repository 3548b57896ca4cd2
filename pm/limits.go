package pm

import (
	"fmt"

	"github.com/mdlayher/netlink"
)

// Limits are the per-connection limits of the in-kernel path manager in a
// network namespace ("ip mptcp limits"). Each is at most [MaxLimit].
type Limits struct {
	// Subflows is the most additional subflows a connection may have,
	// the first one not counted.
	Subflows uint32
	// AddAddrAccepted is the most addresses announced by a peer
	// (ADD_ADDR) that a connection accepts and opens subflows to.
	AddAddrAccepted uint32
}

// String formats the limits as "ip mptcp limits show" does.
func (l Limits) String() string {
	return fmt.Sprintf("add_addr_accepted %d subflows %d", l.AddAddrAccepted, l.Subflows)
}

// Limits returns the limits (GET_LIMITS). It needs no privilege.
func (c *Conn) Limits() (Limits, error) {
	const op = "get-limits"
	msgs, err := c.request(cmdGetLimits, reqGet, noAttrs)
	if err != nil {
		return Limits{}, err
	}
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.data)
		if err != nil {
			return Limits{}, opError(op, err)
		}
		var l Limits
		var n int
		for ad.Next() {
			switch ad.Type() {
			case attrRcvAddAddrs:
				l.AddAddrAccepted = ad.Uint32()
				n++
			case attrSubflows:
				l.Subflows = ad.Uint32()
				n++
			}
		}
		if err := ad.Err(); err != nil {
			return Limits{}, opError(op, err)
		}
		if n > 0 {
			return l, nil
		}
	}
	return Limits{}, opError(op, fmt.Errorf("the kernel answered without limits"))
}

// SetLimits sets both limits (SET_LIMITS). A value above [MaxLimit] is
// refused before sending.
func (c *Conn) SetLimits(l Limits) error {
	if l.Subflows > MaxLimit || l.AddAddrAccepted > MaxLimit {
		return opError(cmdNames[cmdSetLimits], invalid("limits %v: each is at most %d", l, MaxLimit))
	}
	_, err := c.request(cmdSetLimits, reqAck, func(ae *netlink.AttributeEncoder) error {
		ae.Uint32(attrRcvAddAddrs, l.AddAddrAccepted)
		ae.Uint32(attrSubflows, l.Subflows)
		return nil
	})
	return err
}
