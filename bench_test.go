package mptcp

import (
	"testing"
)

// The standard library's MultipathTCP on the same kind of connection is
// the baseline for the package's: compare BenchmarkMultipathTCP/* side by
// side.
func BenchmarkMultipathTCP(b *testing.B) {
	client, _ := mptcpPair(b, "tcp4")
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := client.TCPConn.MultipathTCP(); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("mptcp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := client.MultipathTCP(); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	client, _ := mptcpPair(b, "tcp4")
	dst := make([]Subflow, 0, 8)
	b.Run("MPTCPInfo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.MPTCPInfo(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendSubflows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.AppendSubflows(dst[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
