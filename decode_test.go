package mptcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The decoders' tests that need nothing from the platform: the kernel
// structures are Linux's, but the decoders and their layouts build
// everywhere, and so do these tests and fuzz targets. tcp_info is
// checked against unix.TCPInfo in decode_linux_test.go.

// The kernel writes its structures in host order; the decoders read them
// with binary.NativeEndian, so the images here are built the same way.
var hostEndian = binary.NativeEndian

// diff lists the fields in which two structs differ, one a line, the
// first eight of them; %+v would print Info through its String method.
func diff(got, want any) string {
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	var b strings.Builder
	n := 0
	for i := range g.NumField() {
		if g.Field(i).Equal(w.Field(i)) {
			continue
		}
		if n++; n <= 8 {
			fmt.Fprintf(&b, "\n\t%s: got %v, want %v", g.Type().Field(i).Name, g.Field(i), w.Field(i))
		}
	}
	if n > 8 {
		fmt.Fprintf(&b, "\n\t... and %d more fields", n-8)
	}
	return b.String()
}

func putUint(b []byte, size int, v uint64) {
	switch size {
	case 1:
		b[0] = uint8(v)
	case 2:
		hostEndian.PutUint16(b, uint16(v))
	case 4:
		hostEndian.PutUint32(b, uint32(v))
	case 8:
		hostEndian.PutUint64(b, v)
	}
}

func getUint(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(hostEndian.Uint16(b))
	case 4:
		return uint64(hostEndian.Uint32(b))
	}
	return hostEndian.Uint64(b)
}

// ---------------------------------------------------------------------------
// struct mptcp_info

const allInfoGroups = InfoBase | InfoLocalAddr | InfoChecksum | InfoCounters | InfoSubflowsTotal | InfoLastActivity

// infoLayout is struct mptcp_info transcribed from the kernel header
// <linux/mptcp.h> (the table in KERNEL.md), field by field in the
// header's order, without the fields Info does not report
// (endp_laminar_max, the reserved bytes). It is written out apart from
// layout.go, the decoder's one source of offsets, so that a mistake in
// one shows up against the other: it is the independent source the
// mptcp_info tests hold layout.go and the decoder to, as unix.TCPInfo is
// for tcp_info. The group ends are derived from it, not copied.
var infoLayout = []struct {
	off, size int
	group     InfoField
	get       func(*Info) uint64
	set       func(*Info, uint64)
}{
	{0, 1, InfoBase, func(in *Info) uint64 { return uint64(in.Subflows) }, func(in *Info, v uint64) { in.Subflows = uint8(v) }},
	{1, 1, InfoBase, func(in *Info) uint64 { return uint64(in.AddAddrSignal) }, func(in *Info, v uint64) { in.AddAddrSignal = uint8(v) }},
	{2, 1, InfoBase, func(in *Info) uint64 { return uint64(in.AddAddrAccepted) }, func(in *Info, v uint64) { in.AddAddrAccepted = uint8(v) }},
	{3, 1, InfoBase, func(in *Info) uint64 { return uint64(in.SubflowsMax) }, func(in *Info, v uint64) { in.SubflowsMax = uint8(v) }},
	{4, 1, InfoBase, func(in *Info) uint64 { return uint64(in.AddAddrSignalMax) }, func(in *Info, v uint64) { in.AddAddrSignalMax = uint8(v) }},
	{5, 1, InfoBase, func(in *Info) uint64 { return uint64(in.AddAddrAcceptedMax) }, func(in *Info, v uint64) { in.AddAddrAcceptedMax = uint8(v) }},
	{8, 4, InfoBase, func(in *Info) uint64 { return uint64(in.Flags) }, func(in *Info, v uint64) { in.Flags = InfoFlags(v) }},
	{12, 4, InfoBase, func(in *Info) uint64 { return uint64(in.Token) }, func(in *Info, v uint64) { in.Token = uint32(v) }},
	{16, 8, InfoBase, func(in *Info) uint64 { return in.WriteSeq }, func(in *Info, v uint64) { in.WriteSeq = v }},
	{24, 8, InfoBase, func(in *Info) uint64 { return in.SndUna }, func(in *Info, v uint64) { in.SndUna = v }},
	{32, 8, InfoBase, func(in *Info) uint64 { return in.RcvNxt }, func(in *Info, v uint64) { in.RcvNxt = v }},
	{40, 1, InfoLocalAddr, func(in *Info) uint64 { return uint64(in.LocalAddrUsed) }, func(in *Info, v uint64) { in.LocalAddrUsed = uint8(v) }},
	{41, 1, InfoLocalAddr, func(in *Info) uint64 { return uint64(in.LocalAddrMax) }, func(in *Info, v uint64) { in.LocalAddrMax = uint8(v) }},
	{42, 1, InfoChecksum, func(in *Info) uint64 {
		if in.ChecksumEnabled {
			return 1
		}
		return 0
	}, func(in *Info, v uint64) { in.ChecksumEnabled = v != 0 }},
	{44, 4, InfoCounters, func(in *Info) uint64 { return uint64(in.Retransmits) }, func(in *Info, v uint64) { in.Retransmits = uint32(v) }},
	{48, 8, InfoCounters, func(in *Info) uint64 { return in.BytesRetrans }, func(in *Info, v uint64) { in.BytesRetrans = v }},
	{56, 8, InfoCounters, func(in *Info) uint64 { return in.BytesSent }, func(in *Info, v uint64) { in.BytesSent = v }},
	{64, 8, InfoCounters, func(in *Info) uint64 { return in.BytesReceived }, func(in *Info, v uint64) { in.BytesReceived = v }},
	{72, 8, InfoCounters, func(in *Info) uint64 { return in.BytesAcked }, func(in *Info, v uint64) { in.BytesAcked = v }},
	{80, 1, InfoSubflowsTotal, func(in *Info) uint64 { return uint64(in.SubflowsTotal) }, func(in *Info, v uint64) { in.SubflowsTotal = uint8(v) }},
	{84, 4, InfoLastActivity, func(in *Info) uint64 { return uint64(in.LastDataSent / time.Millisecond) }, func(in *Info, v uint64) { in.LastDataSent = time.Duration(v) * time.Millisecond }},
	{88, 4, InfoLastActivity, func(in *Info) uint64 { return uint64(in.LastDataRecv / time.Millisecond) }, func(in *Info, v uint64) { in.LastDataRecv = time.Duration(v) * time.Millisecond }},
	{92, 4, InfoLastActivity, func(in *Info) uint64 { return uint64(in.LastAckRecv / time.Millisecond) }, func(in *Info, v uint64) { in.LastAckRecv = time.Duration(v) * time.Millisecond }},
}

// infoSample gives every field a value no neighbour has, so that an offset
// or width mistake changes what is decoded. SubflowsTotal is deliberately
// not Subflows+1, so that TotalSubflows shows which one it used.
var infoSample = Info{
	Subflows: 2, AddAddrSignal: 3, AddAddrAccepted: 4, SubflowsMax: 5, AddAddrSignalMax: 6, AddAddrAcceptedMax: 7,
	Flags: InfoFlagFallback | InfoFlagRemoteKeyReceived | 0x80000000, Token: 0xa1b2c3d4,
	WriteSeq: 0x1112131415161718, SndUna: 0x2122232425262728, RcvNxt: 0x3132333435363738,
	LocalAddrUsed: 8, LocalAddrMax: 9, ChecksumEnabled: true,
	Retransmits: 0x41424344, BytesRetrans: 0x5152535455565758, BytesSent: 0x6162636465666768,
	BytesReceived: 0x7172737475767778, BytesAcked: 0x0182838485868788,
	SubflowsTotal: 11,
	LastDataSent:  1500 * time.Millisecond,
	LastDataRecv:  250 * time.Second,
	LastAckRecv:   0xfffffffe * time.Millisecond, // the largest u32 the kernel can report, minus one
	fields:        allInfoGroups,
}

// infoGroupsIn returns the groups whose every field lies within n bytes.
func infoGroupsIn(n int) InfoField {
	g := allInfoGroups
	for _, s := range infoLayout {
		if s.off+s.size > n {
			g &^= s.group
		}
	}
	return g
}

// maskInfo keeps the fields of groups and zeroes the others, which is
// what the Info documentation promises for fields a kernel lacks.
func maskInfo(in Info, groups InfoField) Info {
	for _, s := range infoLayout {
		if groups&s.group == 0 {
			s.set(&in, 0)
		}
	}
	in.fields = groups
	return in
}

// infoImage is mptcp_info as a kernel whose structure is n bytes long
// writes it: the fields it has, and fill in its holes and its tail.
// Real kernels memset the structure, so fill 0 is what they send; another
// fill shows whether padding is mistaken for a field.
func infoImage(n int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, n)
	groups := infoGroupsIn(n)
	for _, s := range infoLayout {
		if groups&s.group != 0 {
			putUint(b[s.off:], s.size, s.get(&infoSample))
		}
	}
	return b
}

// readInfoImage is the fuzzers' reference decoder, built on infoLayout.
func readInfoImage(b []byte) Info {
	var in Info
	groups := infoGroupsIn(len(b))
	for _, s := range infoLayout {
		if groups&s.group != 0 {
			s.set(&in, getUint(b[s.off:], s.size))
		}
	}
	in.fields = groups
	return in
}

func TestDecodeInfoGroupEndsMatchKernelTable(t *testing.T) {
	// The lengths at which each group appears, from KERNEL.md's table.
	for _, c := range []struct {
		g   InfoField
		end int
	}{{InfoBase, 40}, {InfoLocalAddr, 42}, {InfoChecksum, 43}, {InfoCounters, 80}, {InfoSubflowsTotal, 81}, {InfoLastActivity, 96}} {
		if infoGroupsIn(c.end)&c.g == 0 || infoGroupsIn(c.end-1)&c.g != 0 {
			t.Errorf("test layout: group %v should appear at exactly %d bytes", c.g, c.end)
		}
		if in := decodeInfo(make([]byte, c.end)); !in.Has(c.g) {
			t.Errorf("decodeInfo(%d bytes).Has(%v) = false, want true", c.end, c.g)
		}
		if in := decodeInfo(make([]byte, c.end-1)); in.Has(c.g) {
			t.Errorf("decodeInfo(%d bytes).Has(%v) = true, want false", c.end-1, c.g)
		}
	}
}

// layout.go against the kernel header: every mptcp_info offset, the
// structure's size and where each group ends, as infoLayout has them.
func TestDecodeInfoOffsetsMatchKernelHeader(t *testing.T) {
	// layout.go's offsets, in the kernel header's order.
	offs := []int{
		miSubflows, miAddAddrSignal, miAddAddrAccepted, miSubflowsMax, miAddAddrSignalMax, miAddAddrAcceptedMax,
		miFlags, miToken, miWriteSeq, miSndUna, miRcvNxt,
		miLocalAddrUsed, miLocalAddrMax, miCsumEnabled,
		miRetransmits, miBytesRetrans, miBytesSent, miBytesReceived, miBytesAcked,
		miSubflowsTotal, miLastDataSent, miLastDataRecv, miLastAckRecv,
	}
	if len(offs) != len(infoLayout) {
		t.Fatalf("layout.go lists %d mptcp_info fields, the kernel header %d", len(offs), len(infoLayout))
	}
	ends := map[InfoField]int{}
	for i, s := range infoLayout {
		if offs[i] != s.off {
			t.Errorf("field %d: layout.go has offset %d, the kernel header %d", i, offs[i], s.off)
		}
		ends[s.group] = max(ends[s.group], s.off+s.size)
	}
	if last := infoLayout[len(infoLayout)-1]; infoLen != last.off+last.size {
		t.Errorf("infoLen = %d, the kernel header's structure ends at %d", infoLen, last.off+last.size)
	}
	if len(infoGroupEnds) != len(ends) {
		t.Fatalf("layout.go has %d mptcp_info groups, infoLayout %d", len(infoGroupEnds), len(ends))
	}
	for i, end := range infoGroupEnds {
		if g := InfoField(1 << i); ends[g] != end {
			t.Errorf("infoGroupEnds[%d] (%v) = %d, the kernel header's fields of it end at %d", i, g, end, ends[g])
		}
	}
}

func TestDecodeInfoHistoricalLengths(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		fill byte
		want InfoField
	}{
		{"32-bit 5.16-6.4", 44, 0, InfoBase | InfoLocalAddr | InfoChecksum},
		{"5.16-6.4", 48, 0, InfoBase | InfoLocalAddr | InfoChecksum},
		{"6.5-6.7", 80, 0, InfoBase | InfoLocalAddr | InfoChecksum | InfoCounters},
		{"32-bit 6.8-6.9", 84, 0, allInfoGroups &^ InfoLastActivity},
		// Bytes 84..88 are padding here, not last_data_sent: fill them.
		{"64-bit 6.8-6.9", 88, 0xee, allInfoGroups &^ InfoLastActivity},
		{"6.10+", 96, 0, allInfoGroups},
		{"oversized, garbage after 96", 128, 0xee, allInfoGroups},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decodeInfo(infoImage(c.n, c.fill))
			if got.Fields() != c.want {
				t.Errorf("Fields() = %v, want %v", got.Fields(), c.want)
			}
			for _, g := range []InfoField{InfoBase, InfoLocalAddr, InfoChecksum, InfoCounters, InfoSubflowsTotal, InfoLastActivity} {
				if got.Has(g) != (c.want&g != 0) {
					t.Errorf("Has(%v) = %v, want %v", g, got.Has(g), c.want&g != 0)
				}
			}
			if want := maskInfo(infoSample, c.want); got != want {
				t.Errorf("decodeInfo(%d bytes):%s", c.n, diff(got, want))
			}
		})
	}
}

func TestDecodeInfoLastActivityIsMilliseconds(t *testing.T) {
	b := make([]byte, 96)
	hostEndian.PutUint32(b[84:], 1)
	hostEndian.PutUint32(b[88:], 60000)
	hostEndian.PutUint32(b[92:], math.MaxUint32)
	in := decodeInfo(b)
	if in.LastDataSent != time.Millisecond || in.LastDataRecv != time.Minute ||
		in.LastAckRecv != math.MaxUint32*time.Millisecond {
		t.Errorf("last_* = %v %v %v, want 1ms 1m0s %v", in.LastDataSent, in.LastDataRecv, in.LastAckRecv,
			math.MaxUint32*time.Millisecond)
	}
}

// The kernel zeroes its padding (mptcp_diag_fill_info starts with a
// memset), but the decoder must not depend on it: the bytes after the
// last field of an older structure are not the next kernel's field.
func TestDecodeInfoPaddingIsNotAField(t *testing.T) {
	for _, n := range []int{44, 48, 80, 84, 88, 96} {
		got := decodeInfo(infoImage(n, 0xee))
		if want := maskInfo(infoSample, infoGroupsIn(n)); got != want {
			t.Errorf("BUG: decodeInfo(%d-byte answer with 0xee padding) reads padding as a field (decode.go, decodeInfoTo):%s",
				n, diff(got, want))
		}
	}
}

// A truncated answer holds part of a group: Has must say the group is
// absent, and the Info documentation says absent fields are zero.
func TestDecodeInfoTruncatedAnswersHaveNoPartialGroups(t *testing.T) {
	full := infoImage(96, 0)
	for _, c := range []struct {
		n    int
		want InfoField
	}{
		{0, 0}, {1, 0}, {12, 0}, {39, 0},
		{40, InfoBase}, {41, InfoBase}, {42, InfoBase | InfoLocalAddr},
		{79, InfoBase | InfoLocalAddr | InfoChecksum}, {95, allInfoGroups &^ InfoLastActivity},
	} {
		got := decodeInfo(full[:c.n])
		if got.Fields() != c.want {
			t.Errorf("decodeInfo(%d bytes).Fields() = %v, want %v", c.n, got.Fields(), c.want)
		}
		if want := maskInfo(infoSample, c.want); got != want {
			t.Errorf("BUG: decodeInfo(%d bytes) fills fields of groups it reports absent (decode.go, decodeInfoTo):%s",
				c.n, diff(got, want))
		}
	}
}

func TestDecodeInfoTotalSubflows(t *testing.T) {
	// Subflows=2 and SubflowsTotal=11 in the sample: 3 means Subflows+1.
	for _, c := range []struct{ n, want int }{{48, 3}, {80, 3}, {81, 11}, {88, 11}, {96, 11}} {
		in := decodeInfo(infoImage(96, 0)[:c.n])
		if got := in.TotalSubflows(); got != c.want {
			t.Errorf("%d bytes: TotalSubflows() = %d, want %d", c.n, got, c.want)
		}
	}
}

// ---------------------------------------------------------------------------
// struct tcp_info (the tests against unix.TCPInfo are in decode_linux_test.go)

func TestDecodeTCPInfoWindowScaleNibbles(t *testing.T) {
	for _, c := range []struct{ b6, snd, rcv uint8 }{
		{0x00, 0, 0}, {0x07, 7, 0}, {0x70, 0, 7}, {0x9c, 12, 9}, {0xe1, 1, 14}, {0xff, 15, 15},
	} {
		b := make([]byte, 232)
		b[6] = c.b6
		b[5], b[7] = 0xff, 0xff // the neighbours must not leak in
		got := decodeTCPInfo(b)
		if got.SndWScale != c.snd || got.RcvWScale != c.rcv {
			t.Errorf("byte 6 = %#02x: snd_wscale %d rcv_wscale %d, want %d %d", c.b6, got.SndWScale, got.RcvWScale, c.snd, c.rcv)
		}
	}
}

// ---------------------------------------------------------------------------
// sockaddr

func sockaddr4(ip string, port uint16) []byte {
	b := bytes.Repeat([]byte{0xee}, sockaddrLen) // the kernel zeroes the rest; ignore it anyway
	hostEndian.PutUint16(b, afInet)
	binary.BigEndian.PutUint16(b[2:], port)
	a := netip.MustParseAddr(ip).As4()
	copy(b[4:8], a[:])
	return b
}

func sockaddr6(ip string, port uint16, scope uint32) []byte {
	b := bytes.Repeat([]byte{0xee}, sockaddrLen)
	hostEndian.PutUint16(b, afInet6)
	binary.BigEndian.PutUint16(b[2:], port)
	hostEndian.PutUint32(b[4:], 0x000abcde) // sin6_flowinfo: not part of the address
	a := netip.MustParseAddr(ip).As16()
	copy(b[8:24], a[:])
	hostEndian.PutUint32(b[24:], scope)
	return b
}

func swapFamily(b []byte) []byte {
	hostEndian.PutUint16(b, bits.ReverseBytes16(hostEndian.Uint16(b)))
	return b
}

var sockaddrCases = []struct {
	name string
	b    []byte
	want string // "" for the zero AddrPort
}{
	{"ipv4", sockaddr4("192.0.2.1", 443), "192.0.2.1:443"},
	{"ipv4 port is big-endian", sockaddr4("10.0.0.1", 0x1234), "10.0.0.1:4660"},
	{"ipv4 exactly sockaddr_in", sockaddr4("192.0.2.1", 443)[:8], "192.0.2.1:443"},
	{"ipv6", sockaddr6("2001:db8::1", 8080, 0), "[2001:db8::1]:8080"},
	{"ipv4-mapped ipv6 is ipv4", sockaddr6("::ffff:198.51.100.7", 80, 0), "198.51.100.7:80"},
	{"ipv4-mapped ipv6 takes no zone", sockaddr6("::ffff:198.51.100.7", 80, 4), "198.51.100.7:80"},
	{"link-local ipv6 with scope id", sockaddr6("fe80::1", 22, 3), "[fe80::1%3]:22"},
	{"ipv6 exactly sockaddr_in6", sockaddr6("fe80::1", 22, 3)[:28], "[fe80::1%3]:22"},
	{"unspecified family", make([]byte, sockaddrLen), ""},
	{"unknown family (AF_UNIX)", append([]byte{1, 0}, make([]byte, 126)...), ""},
	{"family in the wrong byte order", swapFamily(sockaddr4("192.0.2.1", 443)), ""},
	{"nil", nil, ""},
	{"one byte", []byte{afInet}, ""},
	{"ipv4 truncated", sockaddr4("192.0.2.1", 443)[:7], ""},
	{"ipv6 truncated before scope id ends", sockaddr6("fe80::1", 22, 3)[:27], ""},
	{"ipv6 truncated inside the address", sockaddr6("2001:db8::1", 22, 0)[:20], ""},
}

func TestDecodeSockaddr(t *testing.T) {
	for _, c := range sockaddrCases {
		var want netip.AddrPort
		if c.want != "" {
			want = netip.MustParseAddrPort(c.want)
		}
		// == on netip values also tells IPv4 from IPv4-mapped IPv6 and compares zones.
		if got := decodeSockaddr(c.b); got != want {
			t.Errorf("%s: decodeSockaddr = %v (valid %v), want %v (valid %v)", c.name, got, got.IsValid(), want, want.IsValid())
		}
	}
}

// ---------------------------------------------------------------------------
// MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS

// subflowDataBuf is the buffer after the kernel answered: the header and
// room bytes of elements, element i filled with byte i+1 so that the
// decoder's split can be checked byte for byte.
func subflowDataBuf(room int, num, sizeKernel, sizeUser uint32) []byte {
	b := make([]byte, subflowDataLen+room)
	hostEndian.PutUint32(b[0:], subflowDataLen)
	hostEndian.PutUint32(b[4:], num)
	hostEndian.PutUint32(b[8:], sizeKernel)
	hostEndian.PutUint32(b[12:], sizeUser)
	for i := range room {
		if sizeUser != 0 {
			b[subflowDataLen+i] = byte(i/int(sizeUser) + 1)
		}
	}
	return b
}

var subflowDataCases = []struct {
	name          string
	buf           []byte
	optlen, asked uint32
	wantErr       bool
	num, copied   uint32
	size          uint32
}{
	{"tcp_info, two subflows", subflowDataBuf(4*280, 2, 280, 280), 16 + 2*280, 280, false, 2, 2, 280},
	{"tcp_info from a 6.1 kernel", subflowDataBuf(4*280, 3, 232, 232), 16 + 3*232, 280, false, 3, 3, 232},
	{"addresses, two subflows", subflowDataBuf(4*256, 2, 256, 256), 16 + 2*256, 256, false, 2, 2, 256},
	{"more subflows than fitted", subflowDataBuf(4*256, 6, 256, 256), 16 + 4*256, 256, false, 6, 4, 256},
	{"subflows but no room", subflowDataBuf(0, 2, 280, 280), 16, 280, false, 2, 0, 280},
	{"no subflow", subflowDataBuf(4*280, 0, 280, 280), 16, 280, false, 0, 0, 280},
	{"trailing partial element", subflowDataBuf(4*280, 2, 280, 280), 16 + 280 + 100, 280, false, 2, 1, 280},
	{"optlen covers more elements than exist", subflowDataBuf(4*280, 1, 280, 280), 16 + 3*280, 280, false, 1, 1, 280},
	{"num_subflows at its maximum", subflowDataBuf(4*256, math.MaxUint32, 256, 256), 16 + 4*256, 256, false, math.MaxUint32, 4, 256},
	{"optlen 0", subflowDataBuf(4*280, 2, 280, 280), 0, 280, true, 0, 0, 0},
	{"optlen shorter than the header", subflowDataBuf(4*280, 2, 280, 280), 15, 280, true, 0, 0, 0},
	{"optlen beyond the buffer", subflowDataBuf(2*280, 2, 280, 280), 16 + 2*280 + 1, 280, true, 0, 0, 0},
	{"buffer shorter than the header", subflowDataBuf(0, 0, 280, 280)[:8], 8, 280, true, 0, 0, 0},
	{"size_user 0", subflowDataBuf(4*280, 1, 280, 0), 16, 280, true, 0, 0, 0},
	{"size_user larger than asked", subflowDataBuf(4*281, 1, 281, 281), 16 + 281, 280, true, 0, 0, 0},
}

func TestDecodeSubflowData(t *testing.T) {
	for _, c := range subflowDataCases {
		t.Run(c.name, func(t *testing.T) {
			d := decodeSubflowData(c.buf, c.optlen, c.asked)
			if (d.err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", d.err, c.wantErr)
			}
			if c.wantErr {
				if d.num != 0 || d.copied != 0 || d.size != 0 || d.elems != nil {
					t.Errorf("error answer carries data: %+v", d)
				}
				return
			}
			if d.num != c.num || d.copied != c.copied || d.size != c.size {
				t.Errorf("num %d copied %d size %d, want %d %d %d", d.num, d.copied, d.size, c.num, c.copied, c.size)
			}
			if uint32(len(d.elems)) != c.copied*c.size {
				t.Fatalf("len(elems) = %d, want %d", len(d.elems), c.copied*c.size)
			}
			for i, x := range d.elems {
				if want := byte(i/int(c.size) + 1); x != want {
					t.Fatalf("elems[%d] = %d, want %d (element %d)", i, x, want, i/int(c.size))
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// MPTCP_FULL_INFO

// fullInfoBuf is the request buffer after the kernel answered: the
// header with the sizes it reports, then an mptcp_info of infoN bytes.
func fullInfoBuf(tcpUser, sfKernel, sfUser, num uint32, infoN int) ([]byte, uint32) {
	h := make([]byte, fullInfoHdrLen+infoLen)
	hostEndian.PutUint32(h[0:], tcpInfoLen)
	hostEndian.PutUint32(h[4:], tcpUser)
	hostEndian.PutUint32(h[8:], sfKernel)
	hostEndian.PutUint32(h[12:], sfUser)
	hostEndian.PutUint32(h[16:], num)
	hostEndian.PutUint32(h[20:], 4)                  // size_arrays_user, as asked: opaque to the decoder
	hostEndian.PutUint64(h[24:], 0x00007f0000001000) // the arrays' addresses: opaque too
	hostEndian.PutUint64(h[32:], 0x00007f0000002000)
	copy(h[fullInfoHdrLen:], infoImage(infoN, 0))
	return h, uint32(fullInfoHdrLen + infoN)
}

// subflowInfoElem is one struct mptcp_subflow_info of size bytes with
// its addresses at addrOff, as the kernel writes it: it zeroes the
// structure before filling it (a memset), so the padding between id and
// addresses is zero. The bytes after the addresses stand for fields a
// newer kernel appended: they are not zero, so that reading them as an
// address or as padding shows.
func subflowInfoElem(size, addrOff int, id uint32, local, remote []byte) []byte {
	b := make([]byte, size)
	hostEndian.PutUint32(b, id)
	copy(b[addrOff:], local)
	copy(b[addrOff+sockaddrLen:], remote)
	for i := addrOff + subflowAddrsLen; i < size; i++ {
		b[i] = 0xa7
	}
	return b
}

// sockaddrOf is the sockaddr the kernel writes for ap (no scope id).
func sockaddrOf(ap netip.AddrPort) []byte {
	if ap.Addr().Is4() {
		return sockaddr4(ap.Addr().String(), ap.Port())
	}
	return sockaddr6(ap.Addr().String(), ap.Port(), 0)
}

// subflowInfoArray is the mptcp_subflow_info array that a kernel whose
// structure is sfKernel bytes, with the addresses at addrOff, writes for
// subs when it copies sfUser bytes of each (sfUser <= sfKernel: the kernel
// clamps what is asked to its own size).
func subflowInfoArray(sfKernel, sfUser, addrOff int, subs []Subflow) []byte {
	var b []byte
	for _, sf := range subs {
		b = append(b, subflowInfoElem(sfKernel, addrOff, sf.ID, sockaddrOf(sf.Local), sockaddrOf(sf.Remote))[:sfUser]...)
	}
	return b
}

// decodeFullInfoSubflows decodes an MPTCP_FULL_INFO header and its
// mptcp_subflow_info array as readFullInfo does: the header checked, the
// addresses' offset read from the first element, then every element. It
// returns the offset it used.
func decodeFullInfoSubflows(t *testing.T, h []byte, optlen uint32, sfi []byte) (fullInfo, int, []Subflow) {
	t.Helper()
	fi, err := decodeFullInfoHeader(h, optlen)
	if err != nil {
		t.Fatal(err)
	}
	sfUser := int(fi.sfUser)
	if fi.num == 0 || len(sfi) < int(fi.num)*sfUser {
		t.Fatalf("%d subflows of %d bytes, %d bytes of array", fi.num, sfUser, len(sfi))
	}
	addrOff := subflowAddrOffset(fi.sfKernel, sfi[:sfUser])
	subs := make([]Subflow, fi.num)
	for i := range subs {
		if err := decodeSubflowInfoTo(&subs[i], sfi[i*sfUser:(i+1)*sfUser], addrOff); err != nil {
			t.Fatalf("subflow %d: %v", i, err)
		}
	}
	return fi, addrOff, subs
}

// fullInfoCase is an MPTCP_FULL_INFO answer. addrOff is where the kernel
// that wrote it puts the addresses in its mptcp_subflow_info.
type fullInfoCase struct {
	name    string
	h       []byte
	optlen  uint32
	wantErr bool
	addrOff int
	info    InfoField
}

func fullInfoCases() []fullInfoCase {
	c := func(name string, tcpUser, sfKernel, sfUser, num uint32, infoN int, wantErr bool, addrOff int) fullInfoCase {
		h, optlen := fullInfoBuf(tcpUser, sfKernel, sfUser, num, infoN)
		return fullInfoCase{name, h, optlen, wantErr, addrOff, infoGroupsIn(infoN)}
	}
	cases := []fullInfoCase{
		c("64-bit 6.18", 280, 264, 264, 2, 96, false, 8),
		c("64-bit 6.12", 248, 264, 264, 1, 96, false, 8),
		c("64-bit 6.5", 240, 264, 264, 3, 80, false, 8),
		c("64-bit 5.4-era tcp_info", 232, 264, 264, 1, 96, false, 8),
		c("32-bit layout", 280, 260, 260, 2, 96, false, 4),
		c("32-bit layout, 232-byte tcp_info", 232, 260, 260, 2, 80, false, 4),
		c("no room for mptcp_info", 280, 264, 264, 1, 0, false, 8),
		c("no subflow", 280, 264, 264, 0, 96, false, 8),
		// Kernels that appended fields to mptcp_subflow_info: the kernel
		// copies the 264 bytes asked for of each element.
		c("64-bit, 272-byte elements clamped to 264", 280, 272, 264, 2, 96, false, 8),
		c("64-bit, 4096-byte elements clamped to 264", 280, 4096, 264, 2, 96, false, 8),
		c("32-bit, 268-byte elements clamped to 264", 280, 268, 264, 2, 96, false, 4),
		c("32-bit, 264-byte elements", 280, 264, 264, 2, 96, false, 4),
		c("tcp_info size 0", 0, 264, 264, 1, 96, true, 0),
		c("tcp_info larger than asked", 281, 264, 264, 1, 96, true, 0),
		c("tcp_info size at its maximum", math.MaxUint32, 264, 264, 1, 96, true, 0),
		c("sfinfo larger than asked", 280, 264, 265, 1, 96, true, 0),
		c("sfinfo larger than asked, from a larger kernel element", 280, 272, 272, 1, 96, true, 0),
		c("sfinfo too small for addresses", 280, 259, 259, 1, 96, true, 0),
		c("addresses beyond what was copied", 280, 264, 260, 1, 96, true, 0),
		c("sfinfo shorter than a 260-byte kernel element", 280, 260, 259, 1, 96, true, 0),
		c("sfinfo below 264 from a 272-byte kernel element", 280, 272, 260, 1, 96, true, 0),
		c("sfinfo below 264 from a 268-byte kernel element", 280, 268, 263, 1, 96, true, 0),
		c("sfinfo size 0", 280, 0, 0, 1, 96, true, 0),
		c("sfinfo size 0 from a 264-byte kernel element", 280, 264, 0, 1, 96, true, 0),
	}
	h, _ := fullInfoBuf(280, 264, 264, 1, 96)
	cases = append(cases,
		fullInfoCase{"optlen exactly the header", h, 40, false, 8, 0},
		fullInfoCase{"optlen shorter than the header", h, 39, true, 0, 0},
		fullInfoCase{"optlen 0", h, 0, true, 0, 0},
		fullInfoCase{"optlen beyond the buffer", h, uint32(len(h) + 1), true, 0, 0},
		fullInfoCase{"optlen at its maximum", h, math.MaxUint32, true, 0, 0},
		fullInfoCase{"buffer shorter than the header", h[:39], 39, true, 0, 0},
		fullInfoCase{"empty buffer", nil, 0, true, 0, 0},
	)
	return cases
}

// TestDecodeFullInfoHeader checks the header of each answer, the
// mptcp_info after it, and the addresses' offset read from the first
// element as that kernel writes it.
func TestDecodeFullInfoHeader(t *testing.T) {
	for _, c := range fullInfoCases() {
		t.Run(c.name, func(t *testing.T) {
			hdr, err := checkFullInfoHeader(c.h, c.optlen)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			fi, ferr := decodeFullInfoHeader(c.h, c.optlen)
			if (ferr != nil) != c.wantErr {
				t.Fatalf("decodeFullInfoHeader: err = %v, want error %v", ferr, c.wantErr)
			}
			if c.wantErr {
				if hdr != (fullInfoHeader{}) {
					t.Errorf("error answer carries data: %+v", hdr)
				}
				return
			}
			want := fullInfoHeader{
				num:      hostEndian.Uint32(c.h[16:]),
				tcpUser:  hostEndian.Uint32(c.h[4:]),
				sfUser:   hostEndian.Uint32(c.h[12:]),
				sfKernel: hostEndian.Uint32(c.h[8:]),
			}
			if hdr != want || fi.fullInfoHeader != want {
				t.Errorf("header %+v (decodeFullInfoHeader %+v), want the answer's %+v", hdr, fi.fullInfoHeader, want)
			}
			elem := subflowInfoElem(int(hdr.sfKernel), c.addrOff, 1, sockaddr4("192.0.2.1", 40000), sockaddr4("198.51.100.2", 443))
			if off := subflowAddrOffset(hdr.sfKernel, elem[:hdr.sfUser]); off != c.addrOff {
				t.Errorf("subflowAddrOffset(%d, first element) = %d, want %d", hdr.sfKernel, off, c.addrOff)
			}
			if want := maskInfo(infoSample, c.info); fi.info != want {
				t.Errorf("info:%s", diff(fi.info, want))
			}
		})
	}
}

// TestSubflowAddrOffset reads the layout of mptcp_subflow_info from the
// kernel's element size and the first element's bytes 4 to 8.
func TestSubflowAddrOffset(t *testing.T) {
	l4, r4 := sockaddr4("192.0.2.1", 40000), sockaddr4("198.51.100.2", 443)
	l6, r6 := sockaddr6("2001:db8::1", 40001, 0), sockaddr6("2001:db8::2", 443, 0)
	elem := func(sfKernel, sfUser, addrOff int, local, remote []byte) []byte {
		return subflowInfoElem(sfKernel, addrOff, 1, local, remote)[:sfUser]
	}
	setByte := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] = 0x01
		return b
	}
	for _, c := range []struct {
		name     string
		sfKernel uint32
		elem     []byte
		want     int
	}{
		{"64-bit 264, ipv4", 264, elem(264, 264, 8, l4, r4), 8},
		{"64-bit 264, ipv6", 264, elem(264, 264, 8, l6, r6), 8},
		{"32-bit 260, ipv4", 260, elem(260, 260, 4, l4, r4), 4},
		{"32-bit 260, ipv6", 260, elem(260, 260, 4, l6, r6), 4},
		// A size that is not a multiple of 8 decides alone.
		{"260 bytes, zero bytes 4 to 8", 260, make([]byte, 260), 4},
		{"32-bit 268 clamped to 264", 268, elem(268, 264, 4, l4, r4), 4},
		{"268 bytes, zero bytes 4 to 8", 268, make([]byte, 264), 4},
		{"64-bit 272 clamped to 264", 272, elem(272, 264, 8, l4, r4), 8},
		{"64-bit 272 clamped to 264, ipv6", 272, elem(272, 264, 8, l6, r6), 8},
		{"64-bit 4096 clamped to 264", 4096, elem(4096, 264, 8, l6, r6), 8},
		// 264 bytes on a 32-bit kernel too (4 appended bytes): the local
		// family at byte 4 tells it from the 64-bit layout.
		{"32-bit 264, ipv4 family at byte 4", 264, elem(264, 264, 4, l4, r4), 4},
		{"32-bit 264, ipv6 family at byte 4", 264, elem(264, 264, 4, l6, r6), 4},
		{"32-bit 272, family at byte 4", 272, elem(272, 264, 4, l4, r4), 4},
		// The kernel zeroes the structure, so non-zero bytes 4 to 8 are
		// taken for a 32-bit kernel's family: a 64-bit element with
		// non-zero padding (which no kernel writes) is read as 32-bit.
		{"64-bit 264, non-zero byte 4", 264, setByte(elem(264, 264, 8, l4, r4), 4), 4},
		{"64-bit 264, non-zero byte 7", 264, setByte(elem(264, 264, 8, l4, r4), 7), 4},
		{"64-bit 272, non-zero byte 5", 272, setByte(elem(272, 264, 8, l6, r6), 5), 4},
		// Bytes 8 on are the address, not padding.
		{"64-bit 264, only byte 8 on is non-zero", 264, setByte(make([]byte, 264), 8), 8},
	} {
		if got := subflowAddrOffset(c.sfKernel, c.elem); got != c.want {
			t.Errorf("%s: subflowAddrOffset(%d, element) = %d, want %d", c.name, c.sfKernel, got, c.want)
		}
	}
	// Too short to hold bytes 4 to 8 (never passed by the package, which
	// checks the header first): no panic.
	for _, n := range []int{0, 4, 7} {
		if got := subflowAddrOffset(264, make([]byte, n)); got != 4 && got != 8 {
			t.Errorf("subflowAddrOffset(264, %d bytes) = %d, want 4 or 8", n, got)
		}
	}
}

// TestSubflowAddrOffsetLeavesRoomForAddresses: for every header that
// checkFullInfoHeader accepts, with element sizes up to 1024, the offset
// read from any first element leaves the addresses inside the bytes the
// kernel copied of each element.
func TestSubflowAddrOffsetLeavesRoomForAddresses(t *testing.T) {
	h, optlen := fullInfoBuf(280, 0, 0, 1, 96)
	for sfKernel := uint32(0); sfKernel <= 1024; sfKernel++ {
		for sfUser := uint32(0); sfUser <= 300; sfUser++ {
			hostEndian.PutUint32(h[8:], sfKernel)
			hostEndian.PutUint32(h[12:], sfUser)
			fi, err := checkFullInfoHeader(h, optlen)
			if accept := sfKernel >= 260 && sfUser <= 264 && sfUser >= min(sfKernel, 264); (err == nil) != accept {
				t.Fatalf("sfKernel %d sfUser %d: err = %v, want accepted %v", sfKernel, sfUser, err, accept)
			}
			if err != nil {
				continue
			}
			zero := make([]byte, fi.sfUser)
			family := bytes.Clone(zero)
			hostEndian.PutUint16(family[4:], afInet)
			for _, e := range [][]byte{zero, family} {
				off := subflowAddrOffset(fi.sfKernel, e)
				if (off != 4 && off != 8) || off+subflowAddrsLen > int(fi.sfUser) {
					t.Fatalf("sfKernel %d sfUser %d: offset %d", sfKernel, sfUser, off)
				}
				if off == 8 && sfKernel%8 != 0 {
					t.Fatalf("sfKernel %d is no 64-bit size, offset 8", sfKernel)
				}
				if _, err := decodeSubflowInfo(e, off); err != nil {
					t.Fatalf("sfKernel %d sfUser %d: %v", sfKernel, sfUser, err)
				}
			}
		}
	}
}

// TestDecodeFullInfoLargerElements: a kernel that appended fields to
// struct mptcp_subflow_info reports its size in size_sfinfo_kernel and
// copies only the 264 bytes asked for of each element. The known part,
// id and addresses, decodes on both layouts, whichever family comes
// first.
func TestDecodeFullInfoLargerElements(t *testing.T) {
	v4 := Subflow{ID: 1, Local: netip.MustParseAddrPort("192.0.2.1:40000"), Remote: netip.MustParseAddrPort("198.51.100.2:443")}
	v6 := Subflow{ID: 2, Local: netip.MustParseAddrPort("[2001:db8::1]:40001"), Remote: netip.MustParseAddrPort("[2001:db8::2]:443")}
	for _, c := range []struct {
		name                      string
		sfKernel, sfUser, addrOff int
	}{
		{"64-bit kernel, 272-byte elements", 272, 264, 8},
		{"32-bit kernel, 268-byte elements", 268, 264, 4},
		// A multiple of 8, like the 64-bit 264: the zero padding or the
		// family in bytes 4 to 8 tells the two apart.
		{"32-bit kernel, 264-byte elements", 264, 264, 4},
		{"64-bit kernel, 264-byte elements", 264, 264, 8},
		{"32-bit kernel, 260-byte elements", 260, 260, 4},
	} {
		for _, subs := range [][]Subflow{{v4, v6}, {v6, v4}} {
			first := "ipv4"
			if subs[0].Local.Addr().Is6() {
				first = "ipv6"
			}
			t.Run(c.name+", "+first+" first", func(t *testing.T) {
				h, optlen := fullInfoBuf(280, uint32(c.sfKernel), uint32(c.sfUser), 2, 96)
				sfi := subflowInfoArray(c.sfKernel, c.sfUser, c.addrOff, subs)
				// The image as that kernel writes it: the id at 0, zero
				// padding up to the addresses, the local family first.
				if hostEndian.Uint32(sfi) != subs[0].ID || !bytes.Equal(sfi[4:c.addrOff], make([]byte, c.addrOff-4)) {
					t.Fatalf("image: id %d, padding % x", hostEndian.Uint32(sfi), sfi[4:c.addrOff])
				}
				family := uint16(afInet)
				if first == "ipv6" {
					family = afInet6
				}
				if got := hostEndian.Uint16(sfi[c.addrOff:]); got != family {
					t.Fatalf("image: family %d at byte %d, want %d", got, c.addrOff, family)
				}
				fi, addrOff, got := decodeFullInfoSubflows(t, h, optlen, sfi)
				if fi.sfKernel != uint32(c.sfKernel) || fi.sfUser != uint32(c.sfUser) || fi.num != 2 {
					t.Errorf("header sfKernel %d sfUser %d num %d, want %d %d 2", fi.sfKernel, fi.sfUser, fi.num, c.sfKernel, c.sfUser)
				}
				if addrOff != c.addrOff {
					t.Errorf("addresses read at %d, want %d", addrOff, c.addrOff)
				}
				for i := range subs {
					if got[i] != subs[i] {
						t.Errorf("subflow %d:%s", i, diff(got[i], subs[i]))
					}
				}
			})
		}
	}
}

var subflowInfoCases = []struct {
	name    string
	b       []byte
	addrOff int
	wantErr bool
	id      uint32
	local   string
	remote  string
}{
	{"64-bit, ipv4", subflowInfoElem(264, 8, 1, sockaddr4("192.0.2.1", 40000), sockaddr4("198.51.100.2", 443)), 8, false, 1, "192.0.2.1:40000", "198.51.100.2:443"},
	{"64-bit, link-local ipv6", subflowInfoElem(264, 8, 7, sockaddr6("fe80::1", 40001, 2), sockaddr6("fe80::2", 443, 2)), 8, false, 7, "[fe80::1%2]:40001", "[fe80::2%2]:443"},
	{"32-bit, ipv6", subflowInfoElem(260, 4, 2, sockaddr6("2001:db8::1", 40002, 0), sockaddr6("2001:db8::2", 80, 0)), 4, false, 2, "[2001:db8::1]:40002", "[2001:db8::2]:80"},
	{"32-bit, ipv4-mapped", subflowInfoElem(260, 4, 3, sockaddr6("::ffff:192.0.2.1", 40003, 0), sockaddr6("::ffff:192.0.2.9", 80, 0)), 4, false, 3, "192.0.2.1:40003", "192.0.2.9:80"},
	{"64-bit 272-byte element, first 264 bytes", subflowInfoElem(272, 8, 4, sockaddr6("2001:db8::4", 40004, 0), sockaddr4("192.0.2.4", 80))[:264], 8, false, 4, "[2001:db8::4]:40004", "192.0.2.4:80"},
	{"32-bit 268-byte element, first 264 bytes", subflowInfoElem(268, 4, 5, sockaddr4("192.0.2.5", 40005), sockaddr6("2001:db8::5", 80, 0))[:264], 4, false, 5, "192.0.2.5:40005", "[2001:db8::5]:80"},
	{"32-bit 264-byte element", subflowInfoElem(264, 4, 6, sockaddr4("192.0.2.6", 40006), sockaddr4("192.0.2.7", 80)), 4, false, 6, "192.0.2.6:40006", "192.0.2.7:80"},
	{"offset 3 overlaps the id", make([]byte, 264), 3, true, 0, "", ""},
	{"offset 0", make([]byte, 264), 0, true, 0, "", ""},
	{"negative offset", make([]byte, 264), -1, true, 0, "", ""},
	{"element one byte short", make([]byte, 263), 8, true, 0, "", ""},
	{"empty element", nil, 8, true, 0, "", ""},
}

func TestDecodeSubflowInfo(t *testing.T) {
	for _, c := range subflowInfoCases {
		t.Run(c.name, func(t *testing.T) {
			sf, err := decodeSubflowInfo(c.b, c.addrOff)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				if sf != (Subflow{}) {
					t.Errorf("error answer carries data: %+v", sf)
				}
				return
			}
			want := Subflow{ID: c.id, Local: netip.MustParseAddrPort(c.local), Remote: netip.MustParseAddrPort(c.remote)}
			if sf != want {
				t.Errorf("decodeSubflowInfo:%s", diff(sf, want))
			}
		})
	}
}

// addrOff comes from subflowAddrOffset (4 or 8) in the package, but
// decodeSubflowInfoTo promises an error for a bad offset, not a panic.
func TestDecodeSubflowInfoHugeOffsetIsAnError(t *testing.T) {
	for _, off := range []int{math.MaxInt, math.MaxInt - 100, math.MaxInt - 255} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("BUG: decodeSubflowInfo(264 bytes, addrOff %d) panics (decode.go, decodeSubflowInfoTo: addrOff+subflowAddrsLen overflows int, so the length check passes): %v", off, r)
				}
			}()
			if _, err := decodeSubflowInfo(make([]byte, 264), off); err == nil {
				t.Errorf("decodeSubflowInfo(264 bytes, addrOff %d): no error", off)
			}
		}()
	}
}

// ---------------------------------------------------------------------------
// Fuzz targets. Each asserts no panic and what must hold for any input.
// Whether fields of an absent group are zero is left to the unit tests
// above, so that a fuzzer's report is always something new.

// withGarbageCapacity returns b's bytes with garbage behind len: a decoder
// that reads past len(b) sees it.
func withGarbageCapacity(b []byte) []byte {
	return append(bytes.Clone(b), bytes.Repeat([]byte{0xee}, 64)...)[:len(b)]
}

func FuzzDecodeInfo(f *testing.F) {
	for _, n := range []int{0, 1, 12, 39, 40, 41, 42, 43, 44, 48, 80, 81, 84, 88, 96} {
		f.Add(infoImage(n, 0))
		f.Add(infoImage(n, 0xee))
		f.Add(infoImage(96, 0)[:n])
	}
	f.Add(infoImage(128, 0xee))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := decodeInfo(b)
		groups := infoGroupsIn(len(b))
		if got.Fields() != groups {
			t.Fatalf("%d bytes: Fields() = %v, want %v", len(b), got.Fields(), groups)
		}
		for g := InfoBase; g <= InfoLastActivity; g <<= 1 {
			if got.Has(g) != (groups&g != 0) {
				t.Fatalf("%d bytes: Has(%v) = %v", len(b), g, got.Has(g))
			}
		}
		if want := readInfoImage(b); maskInfo(got, groups) != want {
			t.Fatalf("%d bytes: present fields:%s", len(b), diff(maskInfo(got, groups), want))
		}
		for _, s := range infoLayout {
			if s.off+s.size > len(b) && s.get(&got) != 0 {
				t.Fatalf("%d bytes: field at %d+%d is beyond the answer but reads %#x", len(b), s.off, s.size, s.get(&got))
			}
		}
		if decodeInfo(withGarbageCapacity(b)) != got {
			t.Fatalf("%d bytes: result depends on bytes past len(b)", len(b))
		}
		// The public form, into an Info that held a full answer: the
		// same result, and an error exactly when the base fields miss.
		pub := decodeInfo(infoImage(96, 0xee))
		if err := pub.UnmarshalBinary(b); pub != got || (err == nil) != (len(b) >= 40) {
			t.Fatalf("%d bytes: UnmarshalBinary over a full Info: %v, error %v;%s", len(b), pub.Fields(), err, diff(pub, got))
		}
		want := int(got.Subflows) + 1
		if groups&InfoSubflowsTotal != 0 {
			want = int(got.SubflowsTotal)
		}
		if got.TotalSubflows() != want {
			t.Fatalf("TotalSubflows() = %d, want %d", got.TotalSubflows(), want)
		}
	})
}

func FuzzDecodeSockaddr(f *testing.F) {
	for _, c := range sockaddrCases {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := decodeSockaddr(b)
		if got != decodeSockaddr(withGarbageCapacity(b)) {
			t.Fatalf("result depends on bytes past len(b)")
		}
		var family uint16
		if len(b) >= 2 {
			family = hostEndian.Uint16(b)
		}
		v4 := family == afInet && len(b) >= 8
		v6 := family == afInet6 && len(b) >= 28
		if got.IsValid() != (v4 || v6) {
			t.Fatalf("family %d, %d bytes: valid = %v", family, len(b), got.IsValid())
		}
		if !got.IsValid() {
			if got != (netip.AddrPort{}) {
				t.Fatalf("invalid but not the zero AddrPort: %#v", got)
			}
			return
		}
		if got.Port() != binary.BigEndian.Uint16(b[2:]) {
			t.Fatalf("port %d, want big-endian %d", got.Port(), binary.BigEndian.Uint16(b[2:]))
		}
		a := got.Addr()
		switch {
		case v4:
			if !a.Is4() || a.As4() != [4]byte(b[4:8]) {
				t.Fatalf("AF_INET: addr %v, want %v", a, b[4:8])
			}
		case netip.AddrFrom16([16]byte(b[8:24])).Is4In6():
			if !a.Is4() || a.As16() != [16]byte(b[8:24]) {
				t.Fatalf("IPv4-mapped: addr %v, want it as IPv4", a)
			}
		default:
			zone := ""
			if scope := hostEndian.Uint32(b[24:]); scope != 0 {
				zone = strconv.FormatUint(uint64(scope), 10)
			}
			if !a.Is6() || a.As16() != [16]byte(b[8:24]) || a.Zone() != zone {
				t.Fatalf("AF_INET6: addr %v, want %v zone %q", a, b[8:24], zone)
			}
		}
	})
}

func FuzzDecodeSubflowData(f *testing.F) {
	for _, c := range subflowDataCases {
		f.Add(c.buf, c.optlen, c.asked)
	}
	f.Fuzz(func(t *testing.T, buf []byte, optlen, asked uint32) {
		d := decodeSubflowData(buf, optlen, asked)
		var size uint32
		if len(buf) >= 16 {
			size = hostEndian.Uint32(buf[12:])
		}
		ok := len(buf) >= 16 && optlen >= 16 && uint64(optlen) <= uint64(len(buf)) && size != 0 && size <= asked
		if (d.err == nil) != ok {
			t.Fatalf("len %d optlen %d size %d asked %d: err = %v", len(buf), optlen, size, asked, d.err)
		}
		if d.err != nil {
			return
		}
		if d.num != hostEndian.Uint32(buf[4:]) || d.size != size {
			t.Fatalf("num %d size %d, want the header's %d %d", d.num, d.size, hostEndian.Uint32(buf[4:]), size)
		}
		if d.copied > d.num {
			t.Fatalf("copied %d > num %d", d.copied, d.num)
		}
		if uint64(len(d.elems)) != uint64(d.copied)*uint64(d.size) {
			t.Fatalf("len(elems) = %d, want copied %d * size %d", len(d.elems), d.copied, d.size)
		}
		if 16+uint64(len(d.elems)) > uint64(optlen) {
			t.Fatalf("elements run past optlen %d", optlen)
		}
		// Every element that fitted is reported: no fewer than what the kernel wrote.
		if d.copied < d.num && 16+(uint64(d.copied)+1)*uint64(d.size) <= uint64(optlen) {
			t.Fatalf("copied %d of %d, but %d fit in optlen %d", d.copied, d.num, d.copied+1, optlen)
		}
		if len(d.elems) > 0 && &d.elems[0] != &buf[16] {
			t.Fatalf("elements do not start right after the 16-byte header")
		}
	})
}

func FuzzDecodeFullInfoHeader(f *testing.F) {
	for _, c := range fullInfoCases() {
		f.Add(c.h, c.optlen)
	}
	f.Fuzz(func(t *testing.T, h []byte, optlen uint32) {
		fi, err := decodeFullInfoHeader(h, optlen)
		var tcpUser, sfKernel, sfUser uint32
		if len(h) >= 40 {
			tcpUser, sfKernel, sfUser = hostEndian.Uint32(h[4:]), hostEndian.Uint32(h[8:]), hostEndian.Uint32(h[12:])
		}
		ok := len(h) >= 40 && optlen >= 40 && uint64(optlen) <= uint64(len(h)) &&
			tcpUser >= 1 && tcpUser <= 280 && sfUser <= 264 && sfKernel >= 260 && sfUser >= min(sfKernel, 264)
		if (err == nil) != ok {
			t.Fatalf("len %d optlen %d tcp %d sfKernel %d sfUser %d: err = %v", len(h), optlen, tcpUser, sfKernel, sfUser, err)
		}
		if err != nil {
			return
		}
		if fi.tcpUser != tcpUser || fi.sfUser != sfUser || fi.sfKernel != sfKernel || fi.num != hostEndian.Uint32(h[16:]) {
			t.Fatalf("sizes %d %d %d num %d differ from the header", fi.tcpUser, fi.sfUser, fi.sfKernel, fi.num)
		}
		// Whatever the first element holds (zero padding, or a family
		// in bytes 4 to 8), the addresses fit in what was copied.
		zero := make([]byte, fi.sfUser)
		family := bytes.Clone(zero)
		hostEndian.PutUint16(family[4:], afInet6)
		for _, e := range [][]byte{zero, family} {
			off := subflowAddrOffset(fi.sfKernel, e)
			if (off != 4 && off != 8) || off+256 > int(fi.sfUser) || (off == 8 && sfKernel%8 != 0) {
				t.Fatalf("addresses at %d with sfKernel %d sfUser %d", off, sfKernel, fi.sfUser)
			}
			if _, err := decodeSubflowInfo(e, off); err != nil {
				t.Fatalf("sfKernel %d sfUser %d: %v", sfKernel, sfUser, err)
			}
		}
		if fi.info != decodeInfo(h[40:optlen]) {
			t.Fatalf("info is not the mptcp_info the kernel copied")
		}
	})
}

func FuzzDecodeSubflowInfo(f *testing.F) {
	for _, c := range subflowInfoCases {
		f.Add(c.b, c.addrOff)
	}
	f.Fuzz(func(t *testing.T, b []byte, addrOff int) {
		sf, err := decodeSubflowInfo(b, addrOff)
		ok := addrOff >= 4 && addrOff <= len(b)-256
		if (err == nil) != ok {
			t.Fatalf("%d bytes, addrOff %d: err = %v", len(b), addrOff, err)
		}
		if err != nil {
			return
		}
		want := Subflow{
			ID:     hostEndian.Uint32(b),
			Local:  decodeSockaddr(b[addrOff : addrOff+128]),
			Remote: decodeSockaddr(b[addrOff+128 : addrOff+256]),
		}
		if sf != want {
			t.Fatalf("decodeSubflowInfo:%s", diff(sf, want))
		}
	})
}
