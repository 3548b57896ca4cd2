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
	"unsafe"

	"golang.org/x/sys/unix"
)

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

// infoLayout is struct mptcp_info as KERNEL.md documents it, written out
// apart from the decoder's own offsets so that a mistake in one shows up
// against the other. The group ends are derived from it, not copied.
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
			t.Errorf("BUG: decodeInfo(%d-byte answer with 0xee padding) reads padding as a field (sockopt_linux.go, decodeInfo):%s",
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
			t.Errorf("BUG: decodeInfo(%d bytes) fills fields of groups it reports absent (sockopt_linux.go, decodeInfo):%s",
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
// struct tcp_info

const allTCPGroups = TCPInfoBase | TCPInfoRcvWnd | TCPInfoRTOStats | TCPInfoAccECN

// tcpGroupsIn follows KERNEL.md's sizes: 232, 240, 248, and the AccECN
// counters end at 276 (the last 4 bytes of 280 are not decoded).
func tcpGroupsIn(n int) TCPInfoField {
	var g TCPInfoField
	for _, c := range []struct {
		g   TCPInfoField
		end int
	}{{TCPInfoBase, 232}, {TCPInfoRcvWnd, 240}, {TCPInfoRTOStats, 248}, {TCPInfoAccECN, 276}} {
		if n >= c.end {
			g |= c.g
		}
	}
	return g
}

func tcpInfoBytes(u *unix.TCPInfo) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(u)), unsafe.Sizeof(*u))
}

// tcpInfoSample returns a unix.TCPInfo whose every field holds a value in
// which every byte names the field, and the kernel image of it. The
// three u64 microsecond counters get realistic values instead, because
// the repeated-byte pattern would overflow a time.Duration.
func tcpInfoSample() (unix.TCPInfo, []byte) {
	var u unix.TCPInfo
	v := reflect.ValueOf(&u).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() {
			f.SetUint(uint64(i+1) * 0x0101010101010101) // SetUint truncates to the field's width
		}
	}
	u.Busy_time, u.Rwnd_limited, u.Sndbuf_limited = 1234567, 2345678, 3456789
	img := bytes.Clone(tcpInfoBytes(&u))
	img[6] = 0x9c // rcv_wscale 9, snd_wscale 12
	img[7] = 0x5a // delivery_rate_app_limited and fastopen_client_fail: not decoded
	copy(img[276:], []byte{0xee, 0xee, 0xee, 0xee})
	return u, img
}

func us(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
func ms(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }

// usLong saturates: a u64 count of microseconds can exceed time.Duration.
func usLong(v uint64) time.Duration {
	if v > math.MaxInt64/1000 {
		return math.MaxInt64 / 1000 * time.Microsecond
	}
	return time.Duration(v) * time.Microsecond
}

// tcpInfoFromUnix is what decodeTCPInfo should return for the image of u,
// stated in terms of unix.TCPInfo's fields and the kernel's units.
func tcpInfoFromUnix(u *unix.TCPInfo, sndWScale, rcvWScale uint8) TCPInfo {
	return TCPInfo{
		State: TCPState(u.State), CAState: u.Ca_state, Retransmits: u.Retransmits, Probes: u.Probes,
		Backoff: u.Backoff, Options: u.Options, SndWScale: sndWScale, RcvWScale: rcvWScale,
		RTO: us(u.Rto), ATO: us(u.Ato), SndMSS: u.Snd_mss, RcvMSS: u.Rcv_mss,
		Unacked: u.Unacked, Sacked: u.Sacked, Lost: u.Lost, Retrans: u.Retrans,
		LastDataSent: ms(u.Last_data_sent), LastDataRecv: ms(u.Last_data_recv), LastAckRecv: ms(u.Last_ack_recv),
		PMTU: u.Pmtu, RcvSsthresh: u.Rcv_ssthresh, RTT: us(u.Rtt), RTTVar: us(u.Rttvar),
		SndSsthresh: u.Snd_ssthresh, SndCwnd: u.Snd_cwnd, AdvMSS: u.Advmss, Reordering: u.Reordering,
		RcvRTT: us(u.Rcv_rtt), RcvSpace: u.Rcv_space, TotalRetrans: u.Total_retrans,
		PacingRate: u.Pacing_rate, MaxPacingRate: u.Max_pacing_rate, BytesAcked: u.Bytes_acked,
		BytesReceived: u.Bytes_received, SegsOut: u.Segs_out, SegsIn: u.Segs_in, NotSentBytes: u.Notsent_bytes,
		MinRTT: us(u.Min_rtt), DataSegsIn: u.Data_segs_in, DataSegsOut: u.Data_segs_out, DeliveryRate: u.Delivery_rate,
		BusyTime: usLong(u.Busy_time), RwndLimited: usLong(u.Rwnd_limited), SndbufLimited: usLong(u.Sndbuf_limited),
		Delivered: u.Delivered, DeliveredCE: u.Delivered_ce, BytesSent: u.Bytes_sent, BytesRetrans: u.Bytes_retrans,
		DSACKDups: u.Dsack_dups, ReordSeen: u.Reord_seen, RcvOOOPack: u.Rcv_ooopack, SndWnd: u.Snd_wnd,
		RcvWnd: u.Rcv_wnd, Rehash: u.Rehash,
		TotalRTO: u.Total_rto, TotalRTORecoveries: u.Total_rto_recoveries, TotalRTOTime: ms(u.Total_rto_time),
		ReceivedCE: u.Received_ce, DeliveredE1Bytes: u.Delivered_e1_bytes, DeliveredE0Bytes: u.Delivered_e0_bytes,
		DeliveredCEBytes: u.Delivered_ce_bytes, ReceivedE1Bytes: u.Received_e1_bytes,
		ReceivedE0Bytes: u.Received_e0_bytes, ReceivedCEBytes: u.Received_ce_bytes,
		fields: allTCPGroups,
	}
}

// maskTCPInfo keeps the fields of groups and zeroes the others.
func maskTCPInfo(t TCPInfo, groups TCPInfoField) TCPInfo {
	if groups&TCPInfoBase == 0 {
		return TCPInfo{fields: groups}
	}
	if groups&TCPInfoRcvWnd == 0 {
		t.RcvWnd, t.Rehash = 0, 0
	}
	if groups&TCPInfoRTOStats == 0 {
		t.TotalRTO, t.TotalRTORecoveries, t.TotalRTOTime = 0, 0, 0
	}
	if groups&TCPInfoAccECN == 0 {
		t.ReceivedCE, t.DeliveredE1Bytes, t.DeliveredE0Bytes, t.DeliveredCEBytes = 0, 0, 0, 0
		t.ReceivedE1Bytes, t.ReceivedE0Bytes, t.ReceivedCEBytes = 0, 0, 0
	}
	t.fields = groups
	return t
}

// unix.TCPInfo has the kernel's layout on every GOARCH the tests run on:
// every u64 of struct tcp_info sits at a multiple of 8, so the 4-byte u64
// alignment of 386 moves nothing, and the trailing blank keeps 280 bytes.
// This test proves it per GOARCH, and so licenses the cross-checks below.
func TestDecodeTCPInfoOffsetsMatchUnixTCPInfo(t *testing.T) {
	var u unix.TCPInfo
	if got := unsafe.Sizeof(u); got != 280 {
		t.Fatalf("unsafe.Sizeof(unix.TCPInfo) = %d on this GOARCH, want 280 (struct tcp_info on 6.18)", got)
	}
	for _, c := range []struct {
		name      string
		f         field
		off, size uintptr
	}{
		{"State", tiState, unsafe.Offsetof(u.State), unsafe.Sizeof(u.State)},
		{"Ca_state", tiCAState, unsafe.Offsetof(u.Ca_state), unsafe.Sizeof(u.Ca_state)},
		{"Retransmits", tiRetransmits, unsafe.Offsetof(u.Retransmits), unsafe.Sizeof(u.Retransmits)},
		{"Probes", tiProbes, unsafe.Offsetof(u.Probes), unsafe.Sizeof(u.Probes)},
		{"Backoff", tiBackoff, unsafe.Offsetof(u.Backoff), unsafe.Sizeof(u.Backoff)},
		{"Options", tiOptions, unsafe.Offsetof(u.Options), unsafe.Sizeof(u.Options)},
		// unix.TCPInfo has no field for the wscale byte: it is the one after Options.
		{"wscale", tiWScale, unsafe.Offsetof(u.Options) + 1, 1},
		{"Rto", tiRTO, unsafe.Offsetof(u.Rto), unsafe.Sizeof(u.Rto)},
		{"Ato", tiATO, unsafe.Offsetof(u.Ato), unsafe.Sizeof(u.Ato)},
		{"Snd_mss", tiSndMSS, unsafe.Offsetof(u.Snd_mss), unsafe.Sizeof(u.Snd_mss)},
		{"Rcv_mss", tiRcvMSS, unsafe.Offsetof(u.Rcv_mss), unsafe.Sizeof(u.Rcv_mss)},
		{"Unacked", tiUnacked, unsafe.Offsetof(u.Unacked), unsafe.Sizeof(u.Unacked)},
		{"Sacked", tiSacked, unsafe.Offsetof(u.Sacked), unsafe.Sizeof(u.Sacked)},
		{"Lost", tiLost, unsafe.Offsetof(u.Lost), unsafe.Sizeof(u.Lost)},
		{"Retrans", tiRetrans, unsafe.Offsetof(u.Retrans), unsafe.Sizeof(u.Retrans)},
		{"Last_data_sent", tiLastDataSent, unsafe.Offsetof(u.Last_data_sent), unsafe.Sizeof(u.Last_data_sent)},
		{"Last_data_recv", tiLastDataRecv, unsafe.Offsetof(u.Last_data_recv), unsafe.Sizeof(u.Last_data_recv)},
		{"Last_ack_recv", tiLastAckRecv, unsafe.Offsetof(u.Last_ack_recv), unsafe.Sizeof(u.Last_ack_recv)},
		{"Pmtu", tiPMTU, unsafe.Offsetof(u.Pmtu), unsafe.Sizeof(u.Pmtu)},
		{"Rcv_ssthresh", tiRcvSsthresh, unsafe.Offsetof(u.Rcv_ssthresh), unsafe.Sizeof(u.Rcv_ssthresh)},
		{"Rtt", tiRTT, unsafe.Offsetof(u.Rtt), unsafe.Sizeof(u.Rtt)},
		{"Rttvar", tiRTTVar, unsafe.Offsetof(u.Rttvar), unsafe.Sizeof(u.Rttvar)},
		{"Snd_ssthresh", tiSndSsthresh, unsafe.Offsetof(u.Snd_ssthresh), unsafe.Sizeof(u.Snd_ssthresh)},
		{"Snd_cwnd", tiSndCwnd, unsafe.Offsetof(u.Snd_cwnd), unsafe.Sizeof(u.Snd_cwnd)},
		{"Advmss", tiAdvMSS, unsafe.Offsetof(u.Advmss), unsafe.Sizeof(u.Advmss)},
		{"Reordering", tiReordering, unsafe.Offsetof(u.Reordering), unsafe.Sizeof(u.Reordering)},
		{"Rcv_rtt", tiRcvRTT, unsafe.Offsetof(u.Rcv_rtt), unsafe.Sizeof(u.Rcv_rtt)},
		{"Rcv_space", tiRcvSpace, unsafe.Offsetof(u.Rcv_space), unsafe.Sizeof(u.Rcv_space)},
		{"Total_retrans", tiTotalRetrans, unsafe.Offsetof(u.Total_retrans), unsafe.Sizeof(u.Total_retrans)},
		{"Pacing_rate", tiPacingRate, unsafe.Offsetof(u.Pacing_rate), unsafe.Sizeof(u.Pacing_rate)},
		{"Max_pacing_rate", tiMaxPacingRate, unsafe.Offsetof(u.Max_pacing_rate), unsafe.Sizeof(u.Max_pacing_rate)},
		{"Bytes_acked", tiBytesAcked, unsafe.Offsetof(u.Bytes_acked), unsafe.Sizeof(u.Bytes_acked)},
		{"Bytes_received", tiBytesReceived, unsafe.Offsetof(u.Bytes_received), unsafe.Sizeof(u.Bytes_received)},
		{"Segs_out", tiSegsOut, unsafe.Offsetof(u.Segs_out), unsafe.Sizeof(u.Segs_out)},
		{"Segs_in", tiSegsIn, unsafe.Offsetof(u.Segs_in), unsafe.Sizeof(u.Segs_in)},
		{"Notsent_bytes", tiNotSentBytes, unsafe.Offsetof(u.Notsent_bytes), unsafe.Sizeof(u.Notsent_bytes)},
		{"Min_rtt", tiMinRTT, unsafe.Offsetof(u.Min_rtt), unsafe.Sizeof(u.Min_rtt)},
		{"Data_segs_in", tiDataSegsIn, unsafe.Offsetof(u.Data_segs_in), unsafe.Sizeof(u.Data_segs_in)},
		{"Data_segs_out", tiDataSegsOut, unsafe.Offsetof(u.Data_segs_out), unsafe.Sizeof(u.Data_segs_out)},
		{"Delivery_rate", tiDeliveryRate, unsafe.Offsetof(u.Delivery_rate), unsafe.Sizeof(u.Delivery_rate)},
		{"Busy_time", tiBusyTime, unsafe.Offsetof(u.Busy_time), unsafe.Sizeof(u.Busy_time)},
		{"Rwnd_limited", tiRwndLimited, unsafe.Offsetof(u.Rwnd_limited), unsafe.Sizeof(u.Rwnd_limited)},
		{"Sndbuf_limited", tiSndbufLimited, unsafe.Offsetof(u.Sndbuf_limited), unsafe.Sizeof(u.Sndbuf_limited)},
		{"Delivered", tiDelivered, unsafe.Offsetof(u.Delivered), unsafe.Sizeof(u.Delivered)},
		{"Delivered_ce", tiDeliveredCE, unsafe.Offsetof(u.Delivered_ce), unsafe.Sizeof(u.Delivered_ce)},
		{"Bytes_sent", tiBytesSent, unsafe.Offsetof(u.Bytes_sent), unsafe.Sizeof(u.Bytes_sent)},
		{"Bytes_retrans", tiBytesRetrans, unsafe.Offsetof(u.Bytes_retrans), unsafe.Sizeof(u.Bytes_retrans)},
		{"Dsack_dups", tiDSACKDups, unsafe.Offsetof(u.Dsack_dups), unsafe.Sizeof(u.Dsack_dups)},
		{"Reord_seen", tiReordSeen, unsafe.Offsetof(u.Reord_seen), unsafe.Sizeof(u.Reord_seen)},
		{"Rcv_ooopack", tiRcvOOOPack, unsafe.Offsetof(u.Rcv_ooopack), unsafe.Sizeof(u.Rcv_ooopack)},
		{"Snd_wnd", tiSndWnd, unsafe.Offsetof(u.Snd_wnd), unsafe.Sizeof(u.Snd_wnd)},
		{"Rcv_wnd", tiRcvWnd, unsafe.Offsetof(u.Rcv_wnd), unsafe.Sizeof(u.Rcv_wnd)},
		{"Rehash", tiRehash, unsafe.Offsetof(u.Rehash), unsafe.Sizeof(u.Rehash)},
		{"Total_rto", tiTotalRTO, unsafe.Offsetof(u.Total_rto), unsafe.Sizeof(u.Total_rto)},
		{"Total_rto_recoveries", tiTotalRTORecovery, unsafe.Offsetof(u.Total_rto_recoveries), unsafe.Sizeof(u.Total_rto_recoveries)},
		{"Total_rto_time", tiTotalRTOTime, unsafe.Offsetof(u.Total_rto_time), unsafe.Sizeof(u.Total_rto_time)},
		{"Received_ce", tiReceivedCE, unsafe.Offsetof(u.Received_ce), unsafe.Sizeof(u.Received_ce)},
		{"Delivered_e1_bytes", tiDeliveredE1Bytes, unsafe.Offsetof(u.Delivered_e1_bytes), unsafe.Sizeof(u.Delivered_e1_bytes)},
		{"Delivered_e0_bytes", tiDeliveredE0Bytes, unsafe.Offsetof(u.Delivered_e0_bytes), unsafe.Sizeof(u.Delivered_e0_bytes)},
		{"Delivered_ce_bytes", tiDeliveredCEBytes, unsafe.Offsetof(u.Delivered_ce_bytes), unsafe.Sizeof(u.Delivered_ce_bytes)},
		{"Received_e1_bytes", tiReceivedE1Bytes, unsafe.Offsetof(u.Received_e1_bytes), unsafe.Sizeof(u.Received_e1_bytes)},
		{"Received_e0_bytes", tiReceivedE0Bytes, unsafe.Offsetof(u.Received_e0_bytes), unsafe.Sizeof(u.Received_e0_bytes)},
		{"Received_ce_bytes", tiReceivedCEBytes, unsafe.Offsetof(u.Received_ce_bytes), unsafe.Sizeof(u.Received_ce_bytes)},
	} {
		if uintptr(c.f.off) != c.off || uintptr(c.f.size) != c.size {
			t.Errorf("%s: decoder reads %d bytes at %d, unix.TCPInfo has %d at %d", c.name, c.f.size, c.f.off, c.size, c.off)
		}
	}
}

func TestDecodeTCPInfoMatchesUnixTCPInfo(t *testing.T) {
	u, img := tcpInfoSample()
	full := tcpInfoFromUnix(&u, 12, 9)
	for _, c := range []struct {
		name string
		b    []byte
		want TCPInfoField
	}{
		{"5.4-6.1", img[:232], TCPInfoBase},
		{"6.2-6.6", img[:240], TCPInfoBase | TCPInfoRcvWnd},
		{"6.7-6.17", img[:248], TCPInfoBase | TCPInfoRcvWnd | TCPInfoRTOStats},
		{"AccECN counters only", img[:276], allTCPGroups},
		{"6.18", img, allTCPGroups},
		{"oversized, garbage after 280", append(bytes.Clone(img), bytes.Repeat([]byte{0xee}, 20)...), allTCPGroups},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decodeTCPInfo(c.b)
			if got.Fields() != c.want {
				t.Errorf("Fields() = %v, want %v", got.Fields(), c.want)
			}
			for _, g := range []TCPInfoField{TCPInfoBase, TCPInfoRcvWnd, TCPInfoRTOStats, TCPInfoAccECN} {
				if got.Has(g) != (c.want&g != 0) {
					t.Errorf("Has(%v) = %v, want %v", g, got.Has(g), c.want&g != 0)
				}
			}
			if want := maskTCPInfo(full, c.want); got != want {
				t.Errorf("decodeTCPInfo(%d bytes):%s", len(c.b), diff(got, want))
			}
		})
	}
}

// A truncated answer holds part of a group: Has must say the group is
// absent, and the TCPInfo documentation says absent fields are zero.
func TestDecodeTCPInfoTruncatedAnswersHaveNoPartialGroups(t *testing.T) {
	u, img := tcpInfoSample()
	full := tcpInfoFromUnix(&u, 12, 9)
	for _, c := range []struct {
		n    int
		want TCPInfoField
	}{
		{0, 0}, {7, 0}, {100, 0}, {231, 0},
		{239, TCPInfoBase}, {247, TCPInfoBase | TCPInfoRcvWnd}, {275, allTCPGroups &^ TCPInfoAccECN},
	} {
		got := decodeTCPInfo(img[:c.n])
		if got.Fields() != c.want {
			t.Errorf("decodeTCPInfo(%d bytes).Fields() = %v, want %v", c.n, got.Fields(), c.want)
		}
		if want := maskTCPInfo(full, c.want); got != want {
			t.Errorf("BUG: decodeTCPInfo(%d bytes) fills fields of groups it reports absent (sockopt_linux.go, decodeTCPInfo):%s",
				c.n, diff(got, want))
		}
	}
}

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

func TestDecodeTCPInfoUnits(t *testing.T) {
	var u unix.TCPInfo
	u.Rto, u.Ato, u.Rtt, u.Rttvar, u.Min_rtt, u.Rcv_rtt = 200000, 40000, 1500, 750, math.MaxUint32, 1
	u.Last_data_sent, u.Last_data_recv, u.Last_ack_recv, u.Total_rto_time = 3000, 1, math.MaxUint32, 7
	u.Busy_time, u.Rwnd_limited, u.Sndbuf_limited = 5000000, math.MaxUint64, math.MaxInt64/1000+1
	got := decodeTCPInfo(bytes.Clone(tcpInfoBytes(&u)))
	u.Busy_time, u.Rwnd_limited, u.Sndbuf_limited = math.MaxUint64, 6000000, 7000000
	huge := decodeTCPInfo(bytes.Clone(tcpInfoBytes(&u)))
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"rto", got.RTO, 200 * time.Millisecond},
		{"ato", got.ATO, 40 * time.Millisecond},
		{"rtt", got.RTT, 1500 * time.Microsecond},
		{"rttvar", got.RTTVar, 750 * time.Microsecond},
		{"min_rtt", got.MinRTT, math.MaxUint32 * time.Microsecond},
		{"rcv_rtt", got.RcvRTT, time.Microsecond},
		{"last_data_sent", got.LastDataSent, 3 * time.Second},
		{"last_data_recv", got.LastDataRecv, time.Millisecond},
		{"last_ack_recv", got.LastAckRecv, math.MaxUint32 * time.Millisecond},
		{"total_rto_time", got.TotalRTOTime, 7 * time.Millisecond},
		{"busy_time", got.BusyTime, 5 * time.Second},
		// Beyond what a Duration holds: saturate, never wrap negative.
		{"rwnd_limited", got.RwndLimited, math.MaxInt64 / 1000 * time.Microsecond},
		{"sndbuf_limited", got.SndbufLimited, math.MaxInt64 / 1000 * time.Microsecond},
		{"busy_time, huge", huge.BusyTime, math.MaxInt64 / 1000 * time.Microsecond},
		{"rwnd_limited, exact", huge.RwndLimited, 6 * time.Second},
		{"sndbuf_limited, exact", huge.SndbufLimited, 7 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// ---------------------------------------------------------------------------
// sockaddr

func sockaddr4(ip string, port uint16) []byte {
	b := bytes.Repeat([]byte{0xee}, sockaddrLen) // the kernel zeroes the rest; ignore it anyway
	hostEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	a := netip.MustParseAddr(ip).As4()
	copy(b[4:8], a[:])
	return b
}

func sockaddr6(ip string, port uint16, scope uint32) []byte {
	b := bytes.Repeat([]byte{0xee}, sockaddrLen)
	hostEndian.PutUint16(b, unix.AF_INET6)
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
	{"unknown family", append([]byte{unix.AF_UNIX, 0}, make([]byte, 126)...), ""},
	{"family in the wrong byte order", swapFamily(sockaddr4("192.0.2.1", 443)), ""},
	{"nil", nil, ""},
	{"one byte", []byte{unix.AF_INET}, ""},
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
	hostEndian.PutUint32(h[20:], initialSubflows)
	hostEndian.PutUint64(h[24:], 0x00007f0000001000) // the arrays' addresses: opaque to the decoder
	hostEndian.PutUint64(h[32:], 0x00007f0000002000)
	copy(h[fullInfoHdrLen:], infoImage(infoN, 0))
	return h, uint32(fullInfoHdrLen + infoN)
}

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
		c("tcp_info size 0", 0, 264, 264, 1, 96, true, 0),
		c("tcp_info larger than asked", 281, 264, 264, 1, 96, true, 0),
		c("sfinfo larger than asked", 280, 264, 265, 1, 96, true, 0),
		c("sfinfo too small for addresses", 280, 259, 259, 1, 96, true, 0),
		c("addresses beyond what was copied", 280, 264, 260, 1, 96, true, 0),
		c("sfinfo size 0", 280, 0, 0, 1, 96, true, 0),
	}
	h, _ := fullInfoBuf(280, 264, 264, 1, 96)
	cases = append(cases,
		fullInfoCase{"optlen shorter than the header", h, 39, true, 0, 0},
		fullInfoCase{"optlen 0", h, 0, true, 0, 0},
		fullInfoCase{"optlen beyond the buffer", h, uint32(len(h) + 1), true, 0, 0},
		fullInfoCase{"buffer shorter than the header", h[:39], 39, true, 0, 0},
	)
	return cases
}

func TestDecodeFullInfoHeader(t *testing.T) {
	for _, c := range fullInfoCases() {
		t.Run(c.name, func(t *testing.T) {
			fi, err := decodeFullInfoHeader(c.h, c.optlen)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				return
			}
			if fi.addrOff != c.addrOff {
				t.Errorf("addrOff = %d, want %d", fi.addrOff, c.addrOff)
			}
			if fi.num != hostEndian.Uint32(c.h[16:]) || fi.tcpUser != hostEndian.Uint32(c.h[4:]) || fi.sfUser != hostEndian.Uint32(c.h[12:]) {
				t.Errorf("num %d tcpUser %d sfUser %d, want the header's %d %d %d", fi.num, fi.tcpUser, fi.sfUser,
					hostEndian.Uint32(c.h[16:]), hostEndian.Uint32(c.h[4:]), hostEndian.Uint32(c.h[12:]))
			}
			if want := maskInfo(infoSample, c.info); fi.info != want {
				t.Errorf("info:%s", diff(fi.info, want))
			}
		})
	}
}

// subflowInfoElem is one struct mptcp_subflow_info of size bytes with
// its addresses at addrOff; the hole between id and addresses is filled
// so that reading it as an address shows.
func subflowInfoElem(size, addrOff int, id uint32, local, remote []byte) []byte {
	b := bytes.Repeat([]byte{0xee}, size)
	hostEndian.PutUint32(b, id)
	copy(b[addrOff:], local)
	copy(b[addrOff+sockaddrLen:], remote)
	return b
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

// addrOff comes from decodeFullInfoHeader (4 to 8) in the package, but
// decodeSubflowInfo promises an error for a bad offset, not a panic.
func TestDecodeSubflowInfoHugeOffsetIsAnError(t *testing.T) {
	for _, off := range []int{math.MaxInt, math.MaxInt - 100, math.MaxInt - 255} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("BUG: decodeSubflowInfo(264 bytes, addrOff %d) panics (sockopt_linux.go, decodeSubflowInfo: addrOff+subflowAddrsLen overflows int, so the length check passes): %v", off, r)
				}
			}()
			if _, err := decodeSubflowInfo(make([]byte, 264), off); err == nil {
				t.Errorf("decodeSubflowInfo(264 bytes, addrOff %d): no error", off)
			}
		}()
	}
}

// The header and both arrays decoded together as readFullInfo does, for
// both element layouts and the tcp_info sizes of 6.1, 6.12 and 6.18.
func TestDecodeSubflowsFromFullInfoSnapshot(t *testing.T) {
	u, tcpImg := tcpInfoSample()
	wantTCP := tcpInfoFromUnix(&u, 12, 9)
	addrs := [][2]string{{"192.0.2.1:40000", "198.51.100.2:443"}, {"[2001:db8::1]:40001", "[2001:db8::2]:443"}}
	for _, layout := range []struct {
		name             string
		sfKernel, offset int
	}{{"64-bit", 264, 8}, {"32-bit", 260, 4}} {
		for _, tcpUser := range []int{232, 248, 280} {
			t.Run(layout.name+"/"+strconv.Itoa(tcpUser), func(t *testing.T) {
				h, optlen := fullInfoBuf(uint32(tcpUser), uint32(layout.sfKernel), uint32(layout.sfKernel), 2, 96)
				var sfi, tcpi []byte
				for i, a := range addrs {
					l, r := netip.MustParseAddrPort(a[0]), netip.MustParseAddrPort(a[1])
					sa := func(ap netip.AddrPort) []byte {
						if ap.Addr().Is4() {
							return sockaddr4(ap.Addr().String(), ap.Port())
						}
						return sockaddr6(ap.Addr().String(), ap.Port(), 0)
					}
					sfi = append(sfi, subflowInfoElem(layout.sfKernel, layout.offset, uint32(i+1), sa(l), sa(r))...)
					e := bytes.Clone(tcpImg[:tcpUser])
					e[0] = byte(i + 1) // state: tells the two elements apart
					tcpi = append(tcpi, e...)
				}
				fi, err := decodeFullInfoHeader(h, optlen)
				if err != nil {
					t.Fatal(err)
				}
				if fi.num != 2 || fi.addrOff+256 > int(fi.sfUser) {
					t.Fatalf("num %d addrOff %d sfUser %d", fi.num, fi.addrOff, fi.sfUser)
				}
				for i := range int(fi.num) {
					sf, err := decodeSubflowInfo(sfi[i*int(fi.sfUser):(i+1)*int(fi.sfUser)], fi.addrOff)
					if err != nil {
						t.Fatal(err)
					}
					sf.TCP = decodeTCPInfo(tcpi[i*int(fi.tcpUser) : (i+1)*int(fi.tcpUser)])
					want := Subflow{ID: uint32(i + 1), Local: netip.MustParseAddrPort(addrs[i][0]), Remote: netip.MustParseAddrPort(addrs[i][1])}
					want.TCP = maskTCPInfo(wantTCP, tcpGroupsIn(tcpUser))
					want.TCP.State = TCPState(i + 1)
					if sf != want {
						t.Errorf("subflow %d:%s%s", i, diff(sf, want), diff(sf.TCP, want.TCP))
					}
				}
			})
		}
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
		want := int(got.Subflows) + 1
		if groups&InfoSubflowsTotal != 0 {
			want = int(got.SubflowsTotal)
		}
		if got.TotalSubflows() != want {
			t.Fatalf("TotalSubflows() = %d, want %d", got.TotalSubflows(), want)
		}
	})
}

func FuzzDecodeTCPInfo(f *testing.F) {
	_, img := tcpInfoSample()
	for _, n := range []int{0, 7, 100, 231, 232, 239, 240, 248, 275, 276, 280} {
		f.Add(img[:n])
	}
	f.Add(append(bytes.Clone(img), bytes.Repeat([]byte{0xee}, 20)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := decodeTCPInfo(b)
		groups := tcpGroupsIn(len(b))
		if got.Fields() != groups {
			t.Fatalf("%d bytes: Fields() = %v, want %v", len(b), got.Fields(), groups)
		}
		for g := TCPInfoBase; g <= TCPInfoAccECN; g <<= 1 {
			if got.Has(g) != (groups&g != 0) {
				t.Fatalf("%d bytes: Has(%v) = %v", len(b), g, got.Has(g))
			}
		}
		var u unix.TCPInfo
		copy(tcpInfoBytes(&u), b)
		var ws uint8
		if len(b) > 6 {
			ws = b[6]
		}
		if want := maskTCPInfo(tcpInfoFromUnix(&u, ws&0x0f, ws>>4), groups); maskTCPInfo(got, groups) != want {
			t.Fatalf("%d bytes: present fields:%s", len(b), diff(maskTCPInfo(got, groups), want))
		}
		if decodeTCPInfo(withGarbageCapacity(b)) != got {
			t.Fatalf("%d bytes: result depends on bytes past len(b)", len(b))
		}
		if len(b) > 280 && decodeTCPInfo(b[:280]) != got {
			t.Fatalf("%d bytes: bytes after 280 change the result", len(b))
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
		v4 := family == unix.AF_INET && len(b) >= 8
		v6 := family == unix.AF_INET6 && len(b) >= 28
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
			tcpUser >= 1 && tcpUser <= 280 && sfUser <= 264 && sfKernel >= 260 && sfKernel <= sfUser
		if (err == nil) != ok {
			t.Fatalf("len %d optlen %d tcp %d sfKernel %d sfUser %d: err = %v", len(h), optlen, tcpUser, sfKernel, sfUser, err)
		}
		if err != nil {
			return
		}
		if fi.addrOff < 4 || fi.addrOff+256 > int(fi.sfUser) || fi.addrOff != int(sfKernel)-256 {
			t.Fatalf("addrOff %d with sfKernel %d sfUser %d", fi.addrOff, sfKernel, fi.sfUser)
		}
		if fi.tcpUser != tcpUser || fi.sfUser != sfUser || fi.num != hostEndian.Uint32(h[16:]) {
			t.Fatalf("sizes %d %d num %d differ from the header", fi.tcpUser, fi.sfUser, fi.num)
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
