package mptcp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/multipath-go/mptcp/internal/platform"
)

// The decoders: pure functions from the bytes a kernel wrote to this
// package's types, at the offsets in layout.go. They never trust a length
// or a count from the kernel beyond the buffer it was written into.

// The decoders read every field of a kernel structure at a constant
// offset from a buffer of the whole structure's size, which spares them a
// bounds check per field: the answer's bytes up to the last group of
// fields it holds whole, then zeros, so that a field the answer lacks
// reads as zero. A field is decoded only if the answer holds it whole;
// the answer's length is what tells which kernel wrote it.

// wholeGroups returns the length of the whole groups within n bytes,
// and the set of them (bit i for the group that ends at ends[i]). Bytes
// past the last whole group are padding (a 48-byte answer pads after
// byte 43) or a truncated answer: neither is decoded. The set is built
// in a register and stored once by the caller: the decoders write into
// memory the system call has just pushed out of the cache.
func wholeGroups(n int, ends []int) (cut int, groups uint) {
	for i, end := range ends {
		if n >= end {
			cut = end
			groups |= 1 << i
		}
	}
	return cut, groups
}

// decodeInfoTo decodes struct mptcp_info from the bytes the kernel wrote
// into *in, whatever *in held: it sets every field, and copies no whole
// Info. A shorter answer comes from an older kernel: the fields it lacks
// are zero and left out of Info.Fields. Bytes past the known structure
// are ignored.
func decodeInfoTo(in *Info, b []byte) {
	n, groups := wholeGroups(len(b), infoGroupEnds[:])
	in.fields = InfoField(groups)
	var a *[infoLen]byte
	if len(b) >= infoLen {
		// A whole answer, every group in it: read it where it is.
		a = (*[infoLen]byte)(b)
	} else {
		var buf [infoLen]byte
		copy(buf[:], b[:n])
		a = &buf
	}
	ne := binary.NativeEndian
	in.Subflows = a[miSubflows]
	in.AddAddrSignal = a[miAddAddrSignal]
	in.AddAddrAccepted = a[miAddAddrAccepted]
	in.SubflowsMax = a[miSubflowsMax]
	in.AddAddrSignalMax = a[miAddAddrSignalMax]
	in.AddAddrAcceptedMax = a[miAddAddrAcceptedMax]
	in.Flags = InfoFlags(ne.Uint32(a[miFlags:]))
	in.Token = ne.Uint32(a[miToken:])
	in.WriteSeq = ne.Uint64(a[miWriteSeq:])
	in.SndUna = ne.Uint64(a[miSndUna:])
	in.RcvNxt = ne.Uint64(a[miRcvNxt:])
	in.LocalAddrUsed = a[miLocalAddrUsed]
	in.LocalAddrMax = a[miLocalAddrMax]
	in.ChecksumEnabled = a[miCsumEnabled] != 0
	in.Retransmits = ne.Uint32(a[miRetransmits:])
	in.BytesRetrans = ne.Uint64(a[miBytesRetrans:])
	in.BytesSent = ne.Uint64(a[miBytesSent:])
	in.BytesReceived = ne.Uint64(a[miBytesReceived:])
	in.BytesAcked = ne.Uint64(a[miBytesAcked:])
	in.SubflowsTotal = a[miSubflowsTotal]
	// 6.8 and 6.9 pad the structure to 88 bytes on 64-bit kernels: the
	// cut above keeps bytes 84 to 88 from being read as last_data_sent.
	in.LastDataSent = millis(ne.Uint32(a[miLastDataSent:]))
	in.LastDataRecv = millis(ne.Uint32(a[miLastDataRecv:]))
	in.LastAckRecv = millis(ne.Uint32(a[miLastAckRecv:]))
}

// decodeTCPInfoTo decodes struct tcp_info from the bytes the kernel
// wrote for one subflow (232 bytes on 5.4 - 6.1, 240 on 6.2 - 6.6, 248 on
// 6.7 - 6.17, 280 on 6.18) into *t, whatever *t held: it sets every
// field, and copies no whole TCPInfo.
func decodeTCPInfoTo(t *TCPInfo, b []byte) {
	n, groups := wholeGroups(len(b), tcpInfoGroupEnds[:])
	t.fields = TCPInfoField(groups)
	var a *[tcpInfoLen]byte
	if len(b) >= tcpInfoLen {
		// A whole answer, every group in it: read it where it is.
		a = (*[tcpInfoLen]byte)(b)
	} else {
		var buf [tcpInfoLen]byte
		copy(buf[:], b[:n])
		a = &buf
	}
	ne := binary.NativeEndian
	t.State = TCPState(a[tcpiState])
	t.CAState = a[tcpiCAState]
	t.Retransmits = a[tcpiRetransmits]
	t.Probes = a[tcpiProbes]
	t.Backoff = a[tcpiBackoff]
	t.Options = a[tcpiOptions]
	ws := a[tcpiWScale]
	t.SndWScale, t.RcvWScale = ws&0x0f, ws>>4
	t.RTO = micros(ne.Uint32(a[tcpiRTO:]))
	t.ATO = micros(ne.Uint32(a[tcpiATO:]))
	t.SndMSS = ne.Uint32(a[tcpiSndMSS:])
	t.RcvMSS = ne.Uint32(a[tcpiRcvMSS:])
	t.Unacked = ne.Uint32(a[tcpiUnacked:])
	t.Sacked = ne.Uint32(a[tcpiSacked:])
	t.Lost = ne.Uint32(a[tcpiLost:])
	t.Retrans = ne.Uint32(a[tcpiRetrans:])
	t.LastDataSent = millis(ne.Uint32(a[tcpiLastDataSent:]))
	t.LastDataRecv = millis(ne.Uint32(a[tcpiLastDataRecv:]))
	t.LastAckRecv = millis(ne.Uint32(a[tcpiLastAckRecv:]))
	t.PMTU = ne.Uint32(a[tcpiPMTU:])
	t.RcvSsthresh = ne.Uint32(a[tcpiRcvSsthresh:])
	t.RTT = micros(ne.Uint32(a[tcpiRTT:]))
	t.RTTVar = micros(ne.Uint32(a[tcpiRTTVar:]))
	t.SndSsthresh = ne.Uint32(a[tcpiSndSsthresh:])
	t.SndCwnd = ne.Uint32(a[tcpiSndCwnd:])
	t.AdvMSS = ne.Uint32(a[tcpiAdvMSS:])
	t.Reordering = ne.Uint32(a[tcpiReordering:])
	t.RcvRTT = micros(ne.Uint32(a[tcpiRcvRTT:]))
	t.RcvSpace = ne.Uint32(a[tcpiRcvSpace:])
	t.TotalRetrans = ne.Uint32(a[tcpiTotalRetrans:])
	t.PacingRate = ne.Uint64(a[tcpiPacingRate:])
	t.MaxPacingRate = ne.Uint64(a[tcpiMaxPacingRate:])
	t.BytesAcked = ne.Uint64(a[tcpiBytesAcked:])
	t.BytesReceived = ne.Uint64(a[tcpiBytesReceived:])
	t.SegsOut = ne.Uint32(a[tcpiSegsOut:])
	t.SegsIn = ne.Uint32(a[tcpiSegsIn:])
	t.NotSentBytes = ne.Uint32(a[tcpiNotSentBytes:])
	t.MinRTT = micros(ne.Uint32(a[tcpiMinRTT:]))
	t.DataSegsIn = ne.Uint32(a[tcpiDataSegsIn:])
	t.DataSegsOut = ne.Uint32(a[tcpiDataSegsOut:])
	t.DeliveryRate = ne.Uint64(a[tcpiDeliveryRate:])
	t.BusyTime = microsLong(ne.Uint64(a[tcpiBusyTime:]))
	t.RwndLimited = microsLong(ne.Uint64(a[tcpiRwndLimited:]))
	t.SndbufLimited = microsLong(ne.Uint64(a[tcpiSndbufLimited:]))
	t.Delivered = ne.Uint32(a[tcpiDelivered:])
	t.DeliveredCE = ne.Uint32(a[tcpiDeliveredCE:])
	t.BytesSent = ne.Uint64(a[tcpiBytesSent:])
	t.BytesRetrans = ne.Uint64(a[tcpiBytesRetrans:])
	t.DSACKDups = ne.Uint32(a[tcpiDSACKDups:])
	t.ReordSeen = ne.Uint32(a[tcpiReordSeen:])
	t.RcvOOOPack = ne.Uint32(a[tcpiRcvOOOPack:])
	t.SndWnd = ne.Uint32(a[tcpiSndWnd:])
	t.RcvWnd = ne.Uint32(a[tcpiRcvWnd:])
	t.Rehash = ne.Uint32(a[tcpiRehash:])
	t.TotalRTO = ne.Uint16(a[tcpiTotalRTO:])
	t.TotalRTORecoveries = ne.Uint16(a[tcpiTotalRTORecovery:])
	t.TotalRTOTime = millis(ne.Uint32(a[tcpiTotalRTOTime:]))
	t.ReceivedCE = ne.Uint32(a[tcpiReceivedCE:])
	t.DeliveredE1Bytes = ne.Uint32(a[tcpiDeliveredE1Bytes:])
	t.DeliveredE0Bytes = ne.Uint32(a[tcpiDeliveredE0Bytes:])
	t.DeliveredCEBytes = ne.Uint32(a[tcpiDeliveredCEBytes:])
	t.ReceivedE1Bytes = ne.Uint32(a[tcpiReceivedE1Bytes:])
	t.ReceivedE0Bytes = ne.Uint32(a[tcpiReceivedE0Bytes:])
	t.ReceivedCEBytes = ne.Uint32(a[tcpiReceivedCEBytes:])
}

func micros(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
func millis(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }
func microsLong(v uint64) time.Duration {
	return time.Duration(min(v, uint64(1<<63-1)/1000)) * time.Microsecond
}

// subflowData is a decoded MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS answer.
type subflowData struct {
	num    uint32 // subflows that exist, copied or not
	copied uint32 // elements that fitted in the buffer
	size   uint32 // bytes per element as written
	elems  []byte // the copied elements
	err    error
}

// decodeSubflowData checks and splits an MPTCP_TCPINFO or
// MPTCP_SUBFLOW_ADDRS answer: buf is the whole buffer handed to the
// kernel, optlen what the kernel wrote back, asked the element size the
// caller reserved.
func decodeSubflowData(buf []byte, optlen, asked uint32) subflowData {
	if len(buf) < subflowDataLen || optlen < subflowDataLen || optlen > uint32(len(buf)) {
		return subflowData{err: fmt.Errorf("mptcp: kernel returned %d bytes of subflow data into a %d-byte buffer", optlen, len(buf))}
	}
	ne := binary.NativeEndian
	d := subflowData{num: ne.Uint32(buf[sdNumSubflows:]), size: ne.Uint32(buf[sdSizeUser:])}
	if d.size == 0 || d.size > asked {
		return subflowData{err: fmt.Errorf("mptcp: kernel returned %d-byte subflow elements, asked for %d", d.size, asked)}
	}
	d.copied = min(d.num, (optlen-subflowDataLen)/d.size)
	d.elems = buf[subflowDataLen : subflowDataLen+d.copied*d.size]
	return d
}

// fullInfoHeader is the header of an MPTCP_FULL_INFO answer, without the
// mptcp_info: small enough to return without copying much.
type fullInfoHeader struct {
	num      uint32 // subflows that exist, copied or not
	tcpUser  uint32 // bytes per tcp_info element as written
	sfUser   uint32 // bytes per mptcp_subflow_info element as written
	sfKernel uint32 // the kernel's struct mptcp_subflow_info size
}

// checkFullInfoHeader checks the header of an MPTCP_FULL_INFO answer: h
// is the header followed by room for mptcp_info, optlen what the kernel
// wrote back. Elements may be larger than this package knows (a newer
// kernel that appended fields): the kernel then clamps them to the size
// asked for, and the known part is decoded. The mptcp_info after the
// header is not decoded here: only Snapshot wants it.
func checkFullInfoHeader(h []byte, optlen uint32) (fullInfoHeader, error) {
	if len(h) < fullInfoHdrLen || optlen < fullInfoHdrLen || optlen > uint32(len(h)) {
		return fullInfoHeader{}, fmt.Errorf("mptcp: kernel returned %d bytes of mptcp_full_info into a %d-byte buffer", optlen, len(h))
	}
	ne := binary.NativeEndian
	fi := fullInfoHeader{
		tcpUser:  ne.Uint32(h[fiSizeTCPInfoUser:]),
		sfUser:   ne.Uint32(h[fiSizeSfInfoUser:]),
		num:      ne.Uint32(h[fiNumSubflows:]),
		sfKernel: ne.Uint32(h[fiSizeSfInfoKernel:]),
	}
	switch {
	case fi.tcpUser == 0 || fi.tcpUser > tcpInfoLen:
		return fullInfoHeader{}, fmt.Errorf("mptcp: kernel returned %d-byte tcp_info elements, asked for %d", fi.tcpUser, tcpInfoLen)
	case fi.sfUser > subflowInfoLen:
		return fullInfoHeader{}, fmt.Errorf("mptcp: kernel returned %d-byte subflow elements, asked for %d", fi.sfUser, subflowInfoLen)
	case fi.sfKernel < 4+subflowAddrsLen || fi.sfUser < min(fi.sfKernel, subflowInfoLen):
		return fullInfoHeader{}, fmt.Errorf("mptcp: kernel mptcp_subflow_info is %d bytes (%d copied): addresses do not fit", fi.sfKernel, fi.sfUser)
	}
	return fi, nil
}

// subflowAddrOffset returns where the addresses start in a struct
// mptcp_subflow_info of sfKernel bytes whose first element is elem.
//
// The structure is a u32 id, then the two sockaddr_storage, which are
// aligned like a kernel pointer (__kernel_sockaddr_storage holds a void
// *): at 8 on a 64-bit kernel, at 4 on a 32-bit one. The kernel's pointer
// size is not the process's (a 386 process on a 64-bit kernel gets the
// 64-bit layout), so it is read from the answer:
//
//   - a structure holding a pointer-aligned member is a multiple of that
//     alignment, so a size that is not a multiple of 8 means 4;
//   - otherwise (264 on every 64-bit kernel so far, but also a 32-bit
//     kernel that appended 4 bytes) bytes 4 to 8 decide: the kernel zeroes
//     the structure before filling it, so they are padding, zero, on a
//     64-bit kernel, and the local address's family, never zero, on a
//     32-bit one.
//
// This assumes that fields are only ever appended to the structure, as
// the kernel's ABI rules require.
func subflowAddrOffset(sfKernel uint32, elem []byte) int {
	if sfKernel%8 != 0 || len(elem) < 8 || binary.NativeEndian.Uint32(elem[4:]) != 0 {
		return 4
	}
	return 8
}

// decodeSubflowInfoTo decodes one struct mptcp_subflow_info into *sf,
// whatever *sf held: the id, then the local and remote sockaddr_storage
// at addrOff. It leaves sf.TCP alone.
func decodeSubflowInfoTo(sf *Subflow, b []byte, addrOff int) error {
	if addrOff < 4 || addrOff > len(b)-subflowAddrsLen {
		return fmt.Errorf("mptcp: %d-byte mptcp_subflow_info too short for addresses at offset %d", len(b), addrOff)
	}
	sf.ID = binary.NativeEndian.Uint32(b)
	sf.Local = decodeSockaddr(b[addrOff : addrOff+sockaddrLen])
	sf.Remote = decodeSockaddr(b[addrOff+sockaddrLen : addrOff+subflowAddrsLen])
	return nil
}

// decodeSockaddr decodes a sockaddr_in or sockaddr_in6. IPv4-mapped IPv6
// addresses (a dual-stack socket talking IPv4) are reported as IPv4, so
// that one peer has one spelling. Anything else is the zero AddrPort.
func decodeSockaddr(b []byte) netip.AddrPort {
	if len(b) < 2 {
		return netip.AddrPort{}
	}
	switch binary.NativeEndian.Uint16(b) {
	case platform.AFInet:
		if len(b) < 8 {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:]))
	case platform.AFInet6:
		if len(b) < 28 {
			return netip.AddrPort{}
		}
		a := netip.AddrFrom16([16]byte(b[8:24])).Unmap()
		if scope := binary.NativeEndian.Uint32(b[24:]); scope != 0 && a.Is6() {
			a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
		}
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[2:]))
	}
	return netip.AddrPort{}
}

// UnmarshalBinary decodes a struct mptcp_info as the kernel writes it, in
// host byte order: the answer to MPTCP_INFO, or the INET_DIAG_INFO
// attribute of an MPTCP socket in socket diagnostics (package diag).
//
// The layout is the kernel's, which only ever grows, and this method
// keeps accepting every length a kernel has written: 40 bytes (5.9 -
// 5.11, through socket diagnostics), 48 (5.12 - 6.4), 80 (6.5 - 6.7), 88
// (6.8 - 6.9 on 64-bit) and 96 (6.10 and later), each decoding to the
// groups of [InfoField] that length holds. The groups a shorter
// structure lacks are set to zero and left out of [Info.Fields]; bytes
// past the known structure (a newer kernel's fields) are ignored. It
// fails, leaving only the groups it decoded, when b is shorter than the
// first group (40 bytes). Every field of in is set, whatever it held.
func (in *Info) UnmarshalBinary(b []byte) error {
	decodeInfoTo(in, b)
	if len(b) < infoGroupEnds[0] {
		return fmt.Errorf("mptcp: %d bytes of mptcp_info, shorter than its first fields (%d)", len(b), infoGroupEnds[0])
	}
	return nil
}

// UnmarshalBinary decodes a struct tcp_info as the kernel writes it, in
// host byte order (TCP_INFO, or INET_DIAG_INFO of a TCP socket), with
// the rules of [Info.UnmarshalBinary]. The lengths kernels write: 232
// bytes (5.4 - 6.1), 240 (6.2 - 6.6), 248 (6.7 - 6.17) and 280 (6.18 and
// later), each decoding to the groups of [TCPInfoField] it holds. It
// fails when b is shorter than the first group (232 bytes).
func (t *TCPInfo) UnmarshalBinary(b []byte) error {
	decodeTCPInfoTo(t, b)
	if len(b) < tcpInfoGroupEnds[0] {
		return fmt.Errorf("mptcp: %d bytes of tcp_info, shorter than its first fields (%d)", len(b), tcpInfoGroupEnds[0])
	}
	return nil
}
