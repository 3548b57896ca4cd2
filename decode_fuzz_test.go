package mptcp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"

	"github.com/multipath-go/mptcp/internal/platform"
)

// The fuzz targets of the decoders, on every platform (the tcp_info one,
// which needs unix.TCPInfo, is in decode_fuzz_linux_test.go).

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
		v4 := family == platform.AFInet && len(b) >= 8
		v6 := family == platform.AFInet6 && len(b) >= 28
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
		hostEndian.PutUint16(family[4:], platform.AFInet6)
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
