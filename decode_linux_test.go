package mptcp

import (
	"bytes"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The tcp_info tests: unix.TCPInfo is the independent source of struct
// tcp_info's layout, so they are Linux's.

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
	if uintptr(tcpInfoLen) != unsafe.Sizeof(u) {
		t.Errorf("tcpInfoLen = %d, unix.TCPInfo is %d bytes", tcpInfoLen, unsafe.Sizeof(u))
	}
	// Each group ends where the next one's first field starts; the AccECN
	// counters end with received_ce_bytes.
	groupEnds := []uintptr{
		unsafe.Offsetof(u.Rcv_wnd), unsafe.Offsetof(u.Total_rto), unsafe.Offsetof(u.Received_ce),
		unsafe.Offsetof(u.Received_ce_bytes) + unsafe.Sizeof(u.Received_ce_bytes),
	}
	if len(tcpInfoGroupEnds) != len(groupEnds) {
		t.Errorf("layout.go has %d tcp_info groups, want %d", len(tcpInfoGroupEnds), len(groupEnds))
	}
	for i := range min(len(tcpInfoGroupEnds), len(groupEnds)) {
		if uintptr(tcpInfoGroupEnds[i]) != groupEnds[i] {
			t.Errorf("tcpInfoGroupEnds[%d] = %d, unix.TCPInfo has %d", i, tcpInfoGroupEnds[i], groupEnds[i])
		}
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
			t.Errorf("BUG: decodeTCPInfo(%d bytes) fills fields of groups it reports absent (decode.go, decodeTCPInfoTo):%s",
				c.n, diff(got, want))
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
// MPTCP_FULL_INFO, with the tcp_info array

// The header and both arrays decoded together as readFullInfo does, for
// both element layouts, larger elements clamped to the 264 bytes asked
// for, and the tcp_info sizes of 6.1, 6.12 and 6.18.
func TestDecodeSubflowsFromFullInfoSnapshot(t *testing.T) {
	u, tcpImg := tcpInfoSample()
	wantTCP := tcpInfoFromUnix(&u, 12, 9)
	addrs := [][2]string{{"192.0.2.1:40000", "198.51.100.2:443"}, {"[2001:db8::1]:40001", "[2001:db8::2]:443"}}
	for _, layout := range []struct {
		name                     string
		sfKernel, sfUser, offset int
	}{
		{"64-bit", 264, 264, 8},
		{"32-bit", 260, 260, 4},
		{"64-bit, 272-byte elements", 272, 264, 8},
		{"32-bit, 268-byte elements", 268, 264, 4},
		{"32-bit, 264-byte elements", 264, 264, 4},
	} {
		for _, tcpUser := range []int{232, 248, 280} {
			t.Run(layout.name+"/"+strconv.Itoa(tcpUser), func(t *testing.T) {
				h, optlen := fullInfoBuf(uint32(tcpUser), uint32(layout.sfKernel), uint32(layout.sfUser), 2, 96)
				var want []Subflow
				var tcpi []byte
				for i, a := range addrs {
					sf := Subflow{ID: uint32(i + 1), Local: netip.MustParseAddrPort(a[0]), Remote: netip.MustParseAddrPort(a[1])}
					sf.TCP = maskTCPInfo(wantTCP, tcpGroupsIn(tcpUser))
					sf.TCP.State = TCPState(i + 1)
					want = append(want, sf)
					e := bytes.Clone(tcpImg[:tcpUser])
					e[0] = byte(i + 1) // state: tells the two elements apart
					tcpi = append(tcpi, e...)
				}
				sfi := subflowInfoArray(layout.sfKernel, layout.sfUser, layout.offset, want)
				fi, addrOff, subs := decodeFullInfoSubflows(t, h, optlen, sfi)
				if fi.num != 2 || addrOff != layout.offset || addrOff+256 > int(fi.sfUser) {
					t.Fatalf("num %d addrOff %d sfUser %d, want 2 %d %d", fi.num, addrOff, fi.sfUser, layout.offset, layout.sfUser)
				}
				for i := range subs {
					sf := subs[i]
					sf.TCP = decodeTCPInfo(tcpi[i*int(fi.tcpUser) : (i+1)*int(fi.tcpUser)])
					if sf != want[i] {
						t.Errorf("subflow %d:%s%s", i, diff(sf, want[i]), diff(sf.TCP, want[i].TCP))
					}
				}
			})
		}
	}
}
