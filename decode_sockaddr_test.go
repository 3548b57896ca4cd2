package mptcp

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"testing"

	"github.com/multipath-go/mptcp/internal/platform"
)

// The decoders of socket addresses and of the MPTCP_TCPINFO and
// MPTCP_SUBFLOW_ADDRS header.

func sockaddr4(ip string, port uint16) []byte {
	b := bytes.Repeat([]byte{0xee}, sockaddrLen) // the kernel zeroes the rest; ignore it anyway
	hostEndian.PutUint16(b, platform.AFInet)
	binary.BigEndian.PutUint16(b[2:], port)
	a := netip.MustParseAddr(ip).As4()
	copy(b[4:8], a[:])
	return b
}

func sockaddr6(ip string, port uint16, scope uint32) []byte {
	b := bytes.Repeat([]byte{0xee}, sockaddrLen)
	hostEndian.PutUint16(b, platform.AFInet6)
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
	{"one byte", []byte{platform.AFInet}, ""},
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
