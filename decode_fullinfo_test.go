package mptcp

import (
	"bytes"
	"math"
	"net/netip"
	"testing"

	"github.com/multipath-go/mptcp/internal/platform"
)

// The MPTCP_FULL_INFO decoders: its header, and the subflow elements
// whose addresses sit where the kernel's pointer alignment puts them.

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
			hostEndian.PutUint16(family[4:], platform.AFInet)
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
				family := uint16(platform.AFInet)
				if first == "ipv6" {
					family = platform.AFInet6
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
