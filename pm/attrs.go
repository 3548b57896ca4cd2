package pm

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"github.com/multipath-go/mptcp/internal/platform"
)

// The mptcp_pm generic netlink family (include/uapi/linux/mptcp_pm.h).
const (
	familyName  = "mptcp_pm"
	familyVer   = 1
	eventsGroup = "mptcp_pm_events"
)

// Commands.
const (
	cmdAddAddr        = 1
	cmdDelAddr        = 2
	cmdGetAddr        = 3
	cmdFlushAddrs     = 4
	cmdSetLimits      = 5
	cmdGetLimits      = 6
	cmdSetFlags       = 7
	cmdAnnounce       = 8
	cmdRemove         = 9
	cmdSubflowCreate  = 10
	cmdSubflowDestroy = 11
)

// cmdNames name the commands in errors as the kernel's netlink spec
// (Documentation/netlink/specs/mptcp_pm.yaml) does.
var cmdNames = [...]string{
	cmdAddAddr:        "add-addr",
	cmdDelAddr:        "del-addr",
	cmdGetAddr:        "get-addr",
	cmdFlushAddrs:     "flush-addrs",
	cmdSetLimits:      "set-limits",
	cmdGetLimits:      "get-limits",
	cmdSetFlags:       "set-flags",
	cmdAnnounce:       "announce",
	cmdRemove:         "remove",
	cmdSubflowCreate:  "subflow-create",
	cmdSubflowDestroy: "subflow-destroy",
}

// Top-level attributes of commands.
const (
	attrAddr        = 1 // nested address
	attrRcvAddAddrs = 2 // u32
	attrSubflows    = 3 // u32
	attrToken       = 4 // u32
	attrLocID       = 5 // u8
	attrAddrRemote  = 6 // nested address
)

// Attributes inside an address nest. The port is in host byte order
// here, unlike in events.
const (
	addrAttrFamily = 1 // u16
	addrAttrID     = 2 // u8
	addrAttrAddr4  = 3 // 4 bytes, network order
	addrAttrAddr6  = 4 // 16 bytes
	addrAttrPort   = 5 // u16, host order
	addrAttrFlags  = 6 // u32
	addrAttrIfIdx  = 7 // s32
)

// Event attributes. Ports are big-endian here.
const (
	evAttrToken       = 1  // u32
	evAttrFamily      = 2  // u16
	evAttrLocID       = 3  // u8
	evAttrRemID       = 4  // u8
	evAttrSaddr4      = 5  // 4 bytes
	evAttrSaddr6      = 6  // 16 bytes
	evAttrDaddr4      = 7  // 4 bytes
	evAttrDaddr6      = 8  // 16 bytes
	evAttrSport       = 9  // be16
	evAttrDport       = 10 // be16
	evAttrBackup      = 11 // u8
	evAttrError       = 12 // u8
	evAttrFlags       = 13 // u16
	evAttrTimeout     = 14 // u32
	evAttrIfIdx       = 15 // s32
	evAttrResetReason = 16 // u32
	evAttrResetFlags  = 17 // u32
	evAttrServerSide  = 18 // u8
)

// message is one generic netlink message of the family: its command and
// its attributes.
type message struct {
	cmd  uint8
	data []byte
}

// addrNest describes the address nest of a request. Zero fields are left
// out, except where the kernel reads a zero.
type addrNest struct {
	addr    netip.Addr // left out when invalid
	id      uint8
	withID  bool
	port    uint16
	flags   Flags
	ifindex int
}

// encode writes the nest's attributes.
func (a addrNest) encode(ae *netlink.AttributeEncoder) error {
	if a.addr.IsValid() {
		if a.addr.Is4() {
			ae.Uint16(addrAttrFamily, platform.AFInet)
			b := a.addr.As4()
			ae.Bytes(addrAttrAddr4, b[:])
		} else {
			ae.Uint16(addrAttrFamily, platform.AFInet6)
			b := a.addr.As16()
			ae.Bytes(addrAttrAddr6, b[:])
		}
	}
	if a.withID {
		ae.Uint8(addrAttrID, a.id)
	}
	if a.port != 0 {
		ae.Uint16(addrAttrPort, a.port)
	}
	if a.flags != 0 {
		ae.Uint32(addrAttrFlags, uint32(a.flags))
	}
	if a.ifindex != 0 {
		ae.Int32(addrAttrIfIdx, int32(a.ifindex))
	}
	return nil
}

// decodeEndpoint reads an address nest as the kernel fills it for
// GET_ADDR.
func decodeEndpoint(ad *netlink.AttributeDecoder) (Endpoint, error) {
	var e Endpoint
	var family uint16
	var raw []byte
	for ad.Next() {
		switch ad.Type() {
		case addrAttrFamily:
			family = ad.Uint16()
		case addrAttrID:
			e.ID = ad.Uint8()
		case addrAttrAddr4, addrAttrAddr6:
			raw = ad.Bytes()
		case addrAttrPort:
			e.Port = ad.Uint16()
		case addrAttrFlags:
			e.Flags = Flags(ad.Uint32())
		case addrAttrIfIdx:
			e.Ifindex = int(ad.Int32())
		}
	}
	if err := ad.Err(); err != nil {
		return Endpoint{}, err
	}
	addr, err := ipFrom(family, raw)
	if err != nil {
		return Endpoint{}, err
	}
	e.Addr = addr
	return e, nil
}

// ipFrom builds an address from its family and network-order bytes.
func ipFrom(family uint16, raw []byte) (netip.Addr, error) {
	switch {
	case raw == nil:
		return netip.Addr{}, nil
	case family == platform.AFInet && len(raw) == 4:
		return netip.AddrFrom4([4]byte(raw)), nil
	case family == platform.AFInet6 && len(raw) == 16:
		return netip.AddrFrom16([16]byte(raw)), nil
	}
	return netip.Addr{}, fmt.Errorf("pm: address of %d bytes for family %d", len(raw), family)
}

// be16 reads a big-endian 16-bit attribute, as event ports are.
func be16(b []byte) (uint16, error) {
	if len(b) != 2 {
		return 0, fmt.Errorf("pm: port attribute of %d bytes", len(b))
	}
	return binary.BigEndian.Uint16(b), nil
}

// encode runs fn on a fresh encoder and returns the attributes.
func encode(fn func(ae *netlink.AttributeEncoder) error) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	if err := fn(ae); err != nil {
		return nil, err
	}
	return ae.Encode()
}
