package mptcp

import (
	"bytes"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/multipath-go/mptcp/internal/platform"
)

// The decoders behind AppendSubflows, benchmarked alone (row 2 of
// BENCHMARKS.md is their cost plus the system call's), and the promise
// that lets AppendSubflows decode into the caller's slice without
// zeroing it first.

// dirty fills the memory of *p with 0xa5, as a reused slice element
// might hold anything. Only for types without pointers (Info, TCPInfo):
// the garbage collector must never see a made-up pointer.
func dirty[T Info | TCPInfo](p *T) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
	for i := range b {
		b[i] = 0xa5
	}
}

// TestDecodeToSetsEveryField: decodeInfoTo, decodeTCPInfoTo and
// decodeSubflowInfoTo write every field of their target, so that the
// package may decode into memory that still holds an earlier answer (the
// caller's slice elements, a pooled request). A field added to Info,
// TCPInfo or Subflow and not decoded would keep the 0xa5 filler here.
func TestDecodeToSetsEveryField(t *testing.T) {
	for _, n := range []int{40, 48, 80, 88, 96} {
		img := infoImage(n, 0)
		want := decodeInfo(img)
		var got Info
		dirty(&got)
		decodeInfoTo(&got, img)
		if got != want {
			t.Errorf("decodeInfoTo(%d bytes) into a used Info:%s", n, diff(got, want))
		}
	}

	_, img := tcpInfoSample()
	for _, n := range []int{232, 240, 248, 276, len(img)} {
		want := decodeTCPInfo(img[:n])
		var got TCPInfo
		dirty(&got)
		decodeTCPInfoTo(&got, img[:n])
		if got != want {
			t.Errorf("decodeTCPInfoTo(%d bytes) into a used TCPInfo:%s", n, diff(got, want))
		}
	}

	b := make([]byte, subflowInfoLen)
	b[0] = 7
	hostEndian.PutUint16(b[8:], platform.AFInet)
	copy(b[8+4:], []byte{10, 0, 0, 1})
	hostEndian.PutUint16(b[8+sockaddrLen:], platform.AFInet)
	copy(b[8+sockaddrLen+4:], []byte{10, 0, 0, 2})
	want, err := decodeSubflowInfo(b, 8)
	if err != nil {
		t.Fatal(err)
	}
	// A Subflow holds pointers (inside netip.Addr): it is made "used"
	// with real values, each unlike the answer's, rather than filler.
	got := Subflow{
		ID:     0xa5a5a5a5,
		Local:  netip.MustParseAddrPort("[2001:db8::a5]:42405"),
		Remote: netip.MustParseAddrPort("[2001:db8::5a]:23130"),
	}
	if err := decodeSubflowInfoTo(&got, b, 8); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("decodeSubflowInfoTo into a used Subflow:%s", diff(got, want))
	}
}

var (
	sinkTCPInfo TCPInfo
	sinkInfo    Info
	sinkSubflow Subflow
)

func BenchmarkDecode(b *testing.B) {
	_, img := tcpInfoSample()
	info := infoImage(infoLen, 0)
	sfi := make([]byte, subflowInfoLen)
	hostEndian.PutUint16(sfi[8:], platform.AFInet)
	hostEndian.PutUint16(sfi[8+sockaddrLen:], platform.AFInet)
	b.Run("tcp_info", func(b *testing.B) {
		for b.Loop() {
			decodeTCPInfoTo(&sinkTCPInfo, img)
		}
	})
	b.Run("tcp_info-6.17", func(b *testing.B) {
		short := bytes.Clone(img[:248])
		for b.Loop() {
			decodeTCPInfoTo(&sinkTCPInfo, short)
		}
	})
	b.Run("mptcp_info", func(b *testing.B) {
		for b.Loop() {
			sinkInfo = decodeInfo(info)
		}
	})
	b.Run("mptcp_subflow_info", func(b *testing.B) {
		for b.Loop() {
			if err := decodeSubflowInfoTo(&sinkSubflow, sfi, 8); err != nil {
				b.Fatal(err)
			}
		}
	})
}
