package pm

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"

	"github.com/multipath-go/mptcp/internal/platform"
)

// attr builds one netlink attribute by hand: length, type, value,
// padding to 4 bytes.
func attr(typ uint16, v []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func be(v uint16) []byte  { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func ip(s string) []byte  { return netip.MustParseAddr(s).AsSlice() }
func cat(b ...[]byte) []byte {
	var out []byte
	for _, x := range b {
		out = append(out, x...)
	}
	return out
}

// Events decoded from byte images shaped as the kernel sends them
// (net/mptcp/pm_netlink.c on 6.18): ports big-endian, addresses in
// network order, IPv4-mapped IPv6 addresses unmapped.
func TestDecodeEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  uint8
		data []byte
		want Event
	}{{
		name: "sub_established, IPv4",
		cmd:  10,
		data: cat(
			attr(evAttrToken, u32(0x5a3c1e2f)), attr(evAttrFamily, u16(platform.AFInet)),
			attr(evAttrSaddr4, ip("10.0.2.2")), attr(evAttrDaddr4, ip("10.0.1.1")),
			attr(evAttrSport, be(41234)), attr(evAttrDport, be(8080)),
			attr(evAttrLocID, u8(2)), attr(evAttrRemID, u8(0)),
			attr(evAttrBackup, u8(1)), attr(evAttrIfIdx, u32(3)),
		),
		want: Event{
			Type: EventSubflowEstablished, Token: 0x5a3c1e2f,
			Local: netip.MustParseAddrPort("10.0.2.2:41234"), Remote: netip.MustParseAddrPort("10.0.1.1:8080"),
			LocalID: 2, Backup: true, Ifindex: 3,
		},
	}, {
		name: "sub_closed after a reset, IPv4-mapped",
		cmd:  11,
		data: cat(
			attr(evAttrToken, u32(7)), attr(evAttrFamily, u16(platform.AFInet6)),
			attr(evAttrSaddr6, ip("::ffff:10.0.1.1")), attr(evAttrDaddr6, ip("::ffff:10.0.2.2")),
			attr(evAttrSport, be(80)), attr(evAttrDport, be(50000)),
			attr(evAttrLocID, u8(0)), attr(evAttrRemID, u8(3)),
			attr(evAttrBackup, u8(0)), attr(evAttrError, u8(104)),
			attr(evAttrResetReason, u32(6)), attr(evAttrResetFlags, u32(1)),
		),
		want: Event{
			Type: EventSubflowClosed, Token: 7,
			Local: netip.MustParseAddrPort("10.0.1.1:80"), Remote: netip.MustParseAddrPort("10.0.2.2:50000"),
			RemoteID: 3, Error: syscall.Errno(104), // ECONNRESET on Linux
			ResetReason: 6, ResetFlags: ResetFlagTransient,
		},
	}, {
		name: "created, server side, IPv6",
		cmd:  1,
		data: cat(
			attr(evAttrToken, u32(0xffffffff)), attr(evAttrServerSide, u8(1)), attr(evAttrFlags, u16(3)),
			attr(evAttrFamily, u16(platform.AFInet6)),
			attr(evAttrSaddr6, ip("fd00:0:0:1::1")), attr(evAttrDaddr6, ip("fd00:0:0:1::2")),
			attr(evAttrSport, be(443)), attr(evAttrDport, be(1)),
		),
		want: Event{
			Type: EventCreated, Token: 0xffffffff, ServerSide: true, Flags: EventFlagDenyJoinID0 | EventFlagServerSide,
			Local: netip.MustParseAddrPort("[fd00:0:0:1::1]:443"), Remote: netip.MustParseAddrPort("[fd00:0:0:1::2]:1"),
		},
	}, {
		name: "server side from the flags alone (6.17+)",
		cmd:  2,
		data: cat(attr(evAttrToken, u32(1)), attr(evAttrFlags, u16(2))),
		want: Event{Type: EventEstablished, Token: 1, ServerSide: true, Flags: EventFlagServerSide},
	}, {
		name: "announced without port",
		cmd:  6,
		data: cat(attr(evAttrToken, u32(9)), attr(evAttrRemID, u8(5)), attr(evAttrDaddr4, ip("192.0.2.7"))),
		want: Event{Type: EventAnnounced, Token: 9, RemoteID: 5, Remote: netip.MustParseAddrPort("192.0.2.7:0")},
	}, {
		name: "listener_created",
		cmd:  15,
		data: cat(attr(evAttrFamily, u16(platform.AFInet6)), attr(evAttrSport, be(8443)), attr(evAttrSaddr6, ip("::"))),
		want: Event{Type: EventListenerCreated, Local: netip.MustParseAddrPort("[::]:8443")},
	}, {
		name: "an unknown type and attribute",
		cmd:  99,
		data: cat(attr(evAttrToken, u32(4)), attr(200, []byte{1, 2, 3})),
		want: Event{Type: 99, Token: 4},
	}} {
		got, err := decodeEvent(message{cmd: tc.cmd, data: tc.data})
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %v, %v\nwant %v", tc.name, got, err, tc.want)
		}
	}

	for name, data := range map[string][]byte{
		"short port":      attr(evAttrSport, []byte{1}),
		"short address":   attr(evAttrSaddr4, []byte{10, 0, 0}),
		"long token":      attr(evAttrToken, []byte{1, 2, 3, 4, 5, 6, 7, 8}),
		"truncated":       attr(evAttrToken, u32(1))[:6],
		"IPv6 of 4 bytes": attr(evAttrDaddr6, ip("10.0.0.1")),
	} {
		if e, err := decodeEvent(message{cmd: 10, data: data}); err == nil {
			t.Errorf("%s: decoded as %v", name, e)
		}
	}
}

// Endpoints as GET_ADDR replies carry them: the port in host order.
func TestDecodeEndpoint(t *testing.T) {
	nest := cat(
		attr(addrAttrFamily, u16(platform.AFInet6)), attr(addrAttrPort, u16(8443)), attr(addrAttrID, u8(42)),
		attr(addrAttrFlags, u32(uint32(FlagSignal|FlagBackup|1<<9))), attr(addrAttrIfIdx, u32(7)),
		attr(addrAttrAddr6, ip("fd00::5")),
	)
	data := attr(attrAddr|1<<15, nest) // NLA_F_NESTED, as the kernel may set it
	e, ok, err := endpointOf(message{cmd: cmdGetAddr, data: data})
	want := Endpoint{ID: 42, Addr: netip.MustParseAddr("fd00::5"), Port: 8443, Flags: FlagSignal | FlagBackup | 1<<9, Ifindex: 7}
	if err != nil || !ok || e != want {
		t.Errorf("endpointOf = %v, %v, %v; want %v", e, ok, err, want)
	}
	if s := e.String(); s != "fd00::5 port 8443 id 42 signal|backup|0x200 ifindex 7" {
		t.Errorf("String = %q", s)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Flags(0).String(), "0"},
		{(FlagSubflow | FlagFullmesh).String(), "subflow|fullmesh"},
		{(FlagImplicit | FlagLaminar | 1<<8).String(), "implicit|laminar|0x100"},
		{EventSubflowPriority.String(), "sub_priority"},
		{EventType(4).String(), "event(4)"},
		{ResetReason(6).String(), "middlebox interference"},
		{ResetReason(9).String(), "reason(9)"},
		{ResetFlagTransient.String(), "transient"},
		{(EventFlagDenyJoinID0 | EventFlagServerSide).String(), "deny_join_id0|server_side"},
		{Limits{Subflows: 2, AddAddrAccepted: 1}.String(), "add_addr_accepted 1 subflows 2"},
		{Event{Type: EventClosed, Token: 0xab}.String(), "closed token=000000ab"},
		{Event{
			Type: EventSubflowEstablished, Token: 1, LocalID: 2, Ifindex: 3, Backup: true,
			Local: netip.MustParseAddrPort("10.0.2.2:5"), Remote: netip.MustParseAddrPort("10.0.1.1:80"),
		}.String(), "sub_established token=00000001 local=10.0.2.2:5 id 2 remote=10.0.1.1:80 remote id 0 backup ifindex 3"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
