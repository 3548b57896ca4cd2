package testbed

import (
	"io"
	"net"
	"testing"
	"time"
)

// PingPong sends one byte from a to b and one back, each within 10 s. A
// client's MPTCP connection is fully established, and its path manager
// starts adding subflows, only once data has flowed both ways.
func PingPong(t testing.TB, a, b net.Conn) {
	t.Helper()
	buf := make([]byte, 1)
	for _, dir := range [][2]net.Conn{{a, b}, {b, a}} {
		dir[1].SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := dir[0].Write([]byte{'x'}); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if _, err := io.ReadFull(dir[1], buf); err != nil {
			t.Fatalf("pong: %v", err)
		}
		dir[1].SetReadDeadline(time.Time{})
	}
}
