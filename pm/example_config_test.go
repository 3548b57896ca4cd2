package pm_test

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"slices"

	"github.com/multipath-go/mptcp/pm"
)

// Read the in-kernel path manager's configuration of this network
// namespace, as "ip mptcp limits" and "ip mptcp endpoint show" do: no
// privilege is needed. The values are the host's; what holds on every
// host is that the kernel keeps the limits within pm.MaxLimit and gives
// every endpoint an id.
func ExampleConn_Limits() {
	c, err := pm.Dial(nil) // this namespace; pm.Config names another
	if err != nil {
		log.Fatal(err) // errors.Is(err, errors.ErrUnsupported): a kernel without MPTCP
	}
	defer c.Close()
	limits, err := c.Limits()
	if err != nil {
		log.Fatal(err)
	}
	endpoints, err := c.Endpoints()
	if err != nil {
		log.Fatal(err)
	}
	// A program prints them: fmt.Println(limits), and fmt.Println(e) for
	// each endpoint e (see the next example).
	fmt.Println("limits within pm.MaxLimit:", limits.Subflows <= pm.MaxLimit && limits.AddAddrAccepted <= pm.MaxLimit)
	fmt.Println("every endpoint has an id:", !slices.ContainsFunc(endpoints, func(e pm.Endpoint) bool { return e.ID == 0 }))
	// Output:
	// limits within pm.MaxLimit: true
	// every endpoint has an id: true
}

// Endpoints and limits print on one line each, in the words of ip.
func ExampleEndpoint_String() {
	e := pm.Endpoint{ID: 2, Addr: netip.MustParseAddr("10.0.2.2"), Flags: pm.FlagSubflow | pm.FlagBackup}
	fmt.Println(e)
	fmt.Println(pm.Limits{Subflows: 2, AddAddrAccepted: 2})
	// Output:
	// 10.0.2.2 id 2 subflow|backup
	// add_addr_accepted 2 subflows 2
}

// Adding an endpoint, as "ip mptcp endpoint add 10.0.2.2 dev eth1
// subflow" does, needs CAP_NET_ADMIN and changes the host. Arguments the
// kernel would refuse are refused before anything is sent, whatever the
// privilege: here a port, which only an endpoint that signals and does
// not open subflows may have.
func ExampleConn_AddEndpoint() {
	c, err := pm.Dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// The call that adds one:
	//	e, err := c.AddEndpoint(pm.Endpoint{Addr: addr, Flags: pm.FlagSubflow, Ifindex: ifi.Index})
	_, err = c.AddEndpoint(pm.Endpoint{Addr: netip.MustParseAddr("10.0.2.2"), Port: 8080, Flags: pm.FlagSubflow})
	fmt.Println(errors.Is(err, os.ErrInvalid))
	// Output: true
}
