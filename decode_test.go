package mptcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
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

// ---------------------------------------------------------------------------
// MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS

// ---------------------------------------------------------------------------
// MPTCP_FULL_INFO

// ---------------------------------------------------------------------------
// Fuzz targets. Each asserts no panic and what must hold for any input.
// Whether fields of an absent group are zero is left to the unit tests
// above, so that a fuzzer's report is always something new.
