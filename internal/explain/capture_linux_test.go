package explain

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// The capture sees an MPTCP handshake on loopback, both ways, with
// MP_CAPABLE in the SYN and the SYN/ACK, over IPv4 and IPv6.
func TestCaptureLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		var lc net.ListenConfig
		lc.SetMultipathTCP(true)
		ln, err := lc.Listen(t.Context(), "tcp", addr)
		if err != nil {
			testenv.SkipOrFail(t, "no MPTCP listener on %s: %v", addr, err)
		}
		defer ln.Close()
		c, err := StartCapture()
		if errors.Is(err, os.ErrPermission) {
			testenv.SkipOrFail(t, "capturing needs CAP_NET_RAW: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		d := net.Dialer{Timeout: 5 * time.Second}
		d.SetMultipathTCP(true)
		conn, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			c.Stop(netip.AddrPort{}, netip.AddrPort{})
			t.Fatal(err)
		}
		defer conn.Close()
		local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
		remote := conn.RemoteAddr().(*net.TCPAddr).AddrPort()
		// Stopped at once: what the reader has not read yet is drained.
		h := c.Stop(local, remote)
		if h == nil || !h.SYN || !h.SYNMPCapable || !h.SYNACK || !h.SYNACKMPCapable || h.SYNNops >= StripNops || h.SYNACKNops >= StripNops {
			t.Errorf("%s: captured %+v; want SYN and SYN/ACK with MP_CAPABLE and no NOP run", addr, h)
		}
		if again := c.Stop(local, remote); again == nil || *again != *h {
			t.Errorf("%s: a second Stop returned %+v, want %+v", addr, again, h)
		}
	}
}
