package counters_test

import (
	"fmt"
	"log"

	"github.com/multipath-go/mptcp/counters"
)

// Read the counters before and after some work, and print what changed,
// with the fallbacks named by the side that counted them. Here two
// readings of /proc/net/netstat's MPTcpExt lines stand in for Read's, so
// that the output does not depend on the host: a client opened three
// connections, of which one fell back to TCP because its server answered
// without MPTCP.
func Example() {
	before, err := counters.Parse([]byte("MPTcpExt: MPCapableSYNTX MPCapableSYNACKRX MPCapableFallbackSYNACK MPCurrEstab\n" +
		"MPTcpExt: 10 10 0 1\n"))
	if err != nil {
		log.Fatal(err)
	}
	// On a host: before, err := counters.Read(nil); ...dial, serve...; after, err := counters.Read(nil)
	after, err := counters.Parse([]byte("MPTcpExt: MPCapableSYNTX MPCapableSYNACKRX MPCapableFallbackSYNACK MPCurrEstab\n" +
		"MPTcpExt: 13 12 1 3\n"))
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range after.Sub(before) {
		if c.Value == 0 {
			continue
		}
		d, known := counters.Describe(c.Name)
		switch {
		case !known:
			fmt.Printf("%s +%d (a counter this package does not know)\n", c.Name, c.Value)
		case d.Fallback != counters.SideNone:
			fmt.Printf("%s +%d fallbacks to TCP (%s side): %s\n", c.Name, c.Value, d.Fallback, d.Help)
		case d.Kind == counters.KindGauge:
			fmt.Printf("%s = %d: %s\n", c.Name, c.Value, d.Help)
		default:
			fmt.Printf("%s +%d: %s\n", c.Name, c.Value, d.Help)
		}
	}
	// Output:
	// MPCapableSYNTX +3: SYNs sent with MP_CAPABLE.
	// MPCapableSYNACKRX +2: SYN/ACKs received with MP_CAPABLE.
	// MPCapableFallbackSYNACK +1 fallbacks to TCP (client side): Client-side fallbacks during the handshake: the SYN/ACK came without MP_CAPABLE (a server without MPTCP, or a middlebox that strips the option).
	// MPCurrEstab = 3: MPTCP connections established now (a gauge).
}

// Read the counters of this network namespace. Where MPTCP is turned off
// (net.mptcp.enabled=0) the kernel still has them; a kernel without
// MPTCP has none, and Read fails with errors.ErrUnsupported.
func ExampleRead() {
	c, err := counters.Read(nil)
	if err != nil {
		log.Fatal(err)
	}
	// The value, the handshakes peers began with MP_CAPABLE, is the
	// host's own; whether the kernel has the counter is not: every
	// kernel with MPTCP has it (MPCapableSYNTX, for the handshakes this
	// side began, came in 5.13).
	_, ok := c.Get("MPCapableSYNRX")
	fmt.Println("the kernel counts MPTCP handshakes:", ok)
	// Output: the kernel counts MPTCP handshakes: true
}

// Read the counters of another network namespace, such as a
// container's (entering it needs CAP_SYS_ADMIN).
func ExampleRead_namespace() {
	c, err := counters.Read(&counters.Config{NetNS: "/run/netns/blue"})
	if err != nil {
		log.Fatal(err)
	}
	n, _ := c.Get("MPCapableFallbackSYNACK")
	fmt.Println("handshakes this side began that fell back to TCP:", n)
}
