package diag

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/errs"
	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// errListenersHidden is why Listeners cannot count: the kernel lists no
// MPTCP listener in its MPTCP dump, and withholds the TCP dump's ULP
// names that would tell its MPTCP listeners from its TCP ones.
var errListenersHidden = errs.New("the kernel lists MPTCP listeners in socket diagnostics from Linux 5.19 on; "+
	"before, they show only as TCP listeners whose upper-layer protocol (mptcp) it shows only to CAP_NET_ADMIN", os.ErrPermission)

// Listeners counts the namespace's MPTCP listeners. From 5.19 the
// kernel lists them with the connections, in state LISTEN; before, it
// does not ([Conn.Connections] shows none), and Listeners counts them in
// the TCP dump, where each MPTCP listener is a TCP listener whose
// upper-layer protocol is "mptcp". Kernels before 6.x show that protocol
// only to a caller with CAP_NET_ADMIN: without it, on a kernel before
// 5.19 that has TCP listeners, the count is unknown, and the error
// matches os.ErrPermission. Other errors are as for [Conn.List].
func (c *Conn) Listeners() (int, error) {
	if c == nil {
		return 0, opError("list", net.ErrClosed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return 0, opError("list", net.ErrClosed)
	}
	listen := uint32(1) << mptcp.StateListen
	var listed, ulp, tcp int
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_MPTCP, Ext: sockdiag.ExtCong, States: listen, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		err := c.s.Query(&req, func(m *sockdiag.Msg) error {
			if !m.IsMPTCP() {
				return errTCPAnswer
			}
			if m.State == uint8(mptcp.StateListen) {
				listed++
			}
			return nil
		})
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EINVAL):
			return 0, opError("list", errNoMPTCPDiag)
		case err != nil:
			return 0, opError("list", err)
		}
		req = sockdiag.Request{Family: family, Protocol: unix.IPPROTO_TCP, Ext: sockdiag.ExtInfo, States: listen, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		err = c.s.Query(&req, func(m *sockdiag.Msg) error {
			if m.State != uint8(mptcp.StateListen) {
				return nil
			}
			tcp++
			if m.ULPName() == "mptcp" {
				ulp++
			}
			return nil
		})
		if err != nil {
			return 0, opError("list", err)
		}
	}
	// Each MPTCP listener is in both dumps where the kernel lists it in
	// the MPTCP one; the two are read apart, so a listener may come or
	// go between them.
	switch {
	case listed > 0 || ulp > 0:
		return max(listed, ulp), nil
	case tcp == 0 || hasNetAdmin() || kernelListsListeners():
		return 0, nil
	}
	return 0, opError("list", errListenersHidden)
}

// hasNetAdmin reports whether the process has CAP_NET_ADMIN, with which
// every kernel shows the TCP dump's ULP names.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

// kernelListsListeners reports whether the kernel is 5.19 or later,
// whose mptcp_diag lists listeners. Nothing else tells: a kernel before
// answers a dump of listeners as one that has none (the kernel's own
// tests have no better check), and creating a listener to look for it
// would show in the namespace (and in its path manager's events).
func kernelListsListeners() bool {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(b), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || (major == 5 && minor >= 19)
}
