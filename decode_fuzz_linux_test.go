package mptcp

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzDecodeTCPInfo holds the tcp_info decoder to unix.TCPInfo for any
// input; the other fuzz targets, which need no Linux type, are in
// decode_fuzz_test.go.
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
		// The public form, into a TCPInfo that held a full answer.
		pub := decodeTCPInfo(img)
		if err := pub.UnmarshalBinary(b); pub != got || (err == nil) != (len(b) >= 232) {
			t.Fatalf("%d bytes: UnmarshalBinary over a full TCPInfo: %v, error %v;%s", len(b), pub.Fields(), err, diff(pub, got))
		}
	})
}
