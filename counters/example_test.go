package counters_test

import (
	"fmt"
	"log"

	"github.com/multipath-go/mptcp/counters"
)

// Read the counters before and after some work, and print what changed,
// with the fallbacks named by the side that counted them.
func Example() {
	before, err := counters.Read(nil) // this namespace
	if err != nil {
		log.Fatal(err) // errors.Is(err, errors.ErrUnsupported): no MPTCP here
	}
	// ... dial, serve ...
	after, err := counters.Read(nil)
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
		case d.Fallback != counters.NoFallback:
			fmt.Printf("%s +%d: %s-side fallbacks: %s\n", c.Name, c.Value, d.Fallback, d.Help)
		case d.Kind == counters.KindGauge:
			fmt.Printf("%s = %d: %s\n", c.Name, c.Value, d.Help)
		default:
			fmt.Printf("%s +%d: %s\n", c.Name, c.Value, d.Help)
		}
	}
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
