package main

import (
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/netns"
	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// tcpListeners returns the MPTCP listeners of the namespace at path
// ("": this one) that f selects, as the kernel's TCP sockets show them:
// each MPTCP listener holds a listening TCP socket whose upper-layer
// protocol is "mptcp". conns asks where the MPTCP listing holds no
// listener: kernels before 5.19 leave every listener out of their MPTCP
// socket diagnostics, and an operator must not read that as "none".
// Without CAP_NET_ADMIN those kernels withhold the TCP sockets' protocol
// information too, and this finds nothing.
func tcpListeners(path string, f *diag.Filter) ([]netip.AddrPort, error) {
	var s *sockdiag.Conn
	err := netns.Run(path, 0, func() (err error) {
		s, err = sockdiag.Open(nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var found []netip.AddrPort
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_TCP, Ext: sockdiag.ExtInfo, States: 1 << mptcp.StateListen, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		err := s.Query(&req, func(m *sockdiag.Msg) error {
			if !isMPTCPListener(m) {
				return nil
			}
			local, remote := m.AddrPorts()
			if listenerSelected(f, local, remote) && !slices.Contains(found, local) {
				found = append(found, local)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// listenerSelected applies f's family, address and port filters to a
// listener, as package diag applies them to the connections it lists.
func listenerSelected(f *diag.Filter, local, remote netip.AddrPort) bool {
	switch {
	case f.Network == "tcp4" && !local.Addr().Is4(),
		f.Network == "tcp6" && local.Addr().Is4(),
		f.LocalPort != 0 && local.Port() != f.LocalPort,
		f.RemotePort != 0 && remote.Port() != f.RemotePort,
		f.Local.IsValid() && !f.Local.Contains(local.Addr()),
		f.Remote.IsValid() && !f.Remote.Contains(remote.Addr()):
		return false
	}
	return true
}

// isMPTCPListener reports whether a TCP socket of a dump is an MPTCP
// listener's: listening, with the upper-layer protocol "mptcp" (as
// diag.Conn.Listeners counts them). Its ULP information holds the name
// alone, no subflow's (measured on 5.10 and 6.18), so sockdiag's Subflow
// does not see it.
func isMPTCPListener(m *sockdiag.Msg) bool {
	return m.State == uint8(mptcp.StateListen) && m.ULPName() == "mptcp"
}
