package netns_test

import (
	"fmt"
	"log"

	"github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/netns"
	"github.com/multipath-go/mptcp/pm"
)

// One Config names a namespace for every package: made by
// "ip netns add blue", and read here by its path (entering it needs
// CAP_SYS_ADMIN).
func Example() {
	blue := &netns.Config{NetNS: "/run/netns/blue"}
	c, err := counters.Read(blue)
	if err != nil {
		log.Fatal(err)
	}
	d, err := diag.Dial(blue)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	conns, err := d.List(nil)
	if err != nil {
		log.Fatal(err)
	}
	p, err := pm.Dial(blue)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	eps, err := p.Endpoints()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(c), "counters,", len(conns), "connections,", len(eps), "endpoints")
}
