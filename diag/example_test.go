package diag_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
)

// List the MPTCP connections of this network namespace, as "ss -M" does,
// and find one of this program's among them by its ports. The kernel
// lists MPTCP sockets only: the connection is listed exactly when it
// uses MPTCP, which depends on the host, so the example prints that
// agreement rather than the listing.
func Example() {
	ln, err := mptcp.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	c, err := mptcp.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	uses, err := c.(*mptcp.MPTCPConn).MultipathTCP()
	if err != nil {
		log.Fatal(err)
	}

	d, err := diag.Dial(nil) // this namespace; diag.Config names another
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
	f := &diag.Filter{LocalPort: uint16(local.Port), RemotePort: uint16(remote.Port)}
	var mine []diag.Connection
	for conn, err := range d.Connections(f) {
		if err != nil {
			log.Fatal(err)
		}
		// A program would print it: fmt.Println(conn.Local, "->",
		// conn.Remote, conn.State, conn.Info.TotalSubflows(), "subflows")
		mine = append(mine, conn)
	}
	fmt.Println("listed exactly when it uses MPTCP:", (len(mine) == 1) == uses)
	// Output: listed exactly when it uses MPTCP: true
}

// Errors are *net.OpError values that name the operation, and errors.Is
// matches their cause: here a filter the kernel cannot apply, refused
// before anything is sent.
func Example_errors() {
	d, err := diag.Dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	_, err = d.List(&diag.Filter{Network: "udp"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, os.ErrInvalid))
	// Output:
	// list sock_diag: network "udp": want tcp, tcp4 or tcp6: invalid argument
	// true
}
