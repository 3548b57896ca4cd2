package pm_test

import (
	"context"
	"log"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/pm"
)

// A program that watches the path manager's events and logs each new
// subflow of its own connection, with the RTT that package mptcp reports
// for it. The events of every connection in the network namespace arrive;
// the connection's token, from MPTCPInfo, picks out its own, and the
// subflow's addresses find it in Subflows. Subscribing needs
// CAP_NET_ADMIN.
func Example_subflowRTT() {
	c, err := pm.Dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Subscribe first: the events of the connection about to be made
	// wait in the subscription until read.
	events, err := c.Subscribe()
	if err != nil {
		log.Fatal(err)
	}
	defer events.Close()

	nc, err := (&mptcp.Dialer{RequireMPTCP: true}).Dial("tcp", "example.net:443")
	if err != nil {
		log.Fatal(err)
	}
	conn := nc.(*mptcp.MPTCPConn)
	defer conn.Close()
	info, err := conn.MPTCPInfo()
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		ev, err := events.Next(ctx)
		if err != nil {
			log.Print(err) // the minute is over
			return
		}
		if ev.Token != info.Token {
			continue // another connection's
		}
		switch ev.Type {
		case pm.EventSubflowEstablished:
			subflows, err := conn.Subflows()
			if err != nil {
				log.Fatal(err)
			}
			for _, sf := range subflows {
				if sf.Local == ev.Local && sf.Remote == ev.Remote {
					log.Printf("new subflow %v -> %v (local id %d), rtt %v", sf.Local, sf.Remote, ev.LocalID, sf.TCP.RTT)
				}
			}
		case pm.EventSubflowClosed:
			log.Printf("subflow %v -> %v closed: %v", ev.Local, ev.Remote, ev)
		case pm.EventClosed:
			return
		}
	}
}
