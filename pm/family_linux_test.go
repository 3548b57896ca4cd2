package pm

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/testenv"
)

// The running kernel's mptcp_pm family, as Dial reads it: every command
// this package sends that the kernel's release has, and the events group
// from 5.12 on. (5.10 lacks set-flags and the userspace path manager's
// commands; 6.1 has them all.)
func TestFamilyOfTheKernel(t *testing.T) {
	c, err := Dial(nil)
	if err != nil {
		t.Skipf("no path manager: %v", err)
	}
	defer c.Close()
	f := c.s.family
	if f.id == 0 || f.cmds == 0 {
		t.Fatalf("family %+v: no number or no commands", f)
	}
	for cmd := uint8(cmdAddAddr); cmd <= cmdSubflowDestroy; cmd++ {
		err := f.lacks(cmd)
		var major, minor int
		if since, ok := cmdSince[cmd]; ok {
			fmt.Sscanf(since, "%d.%d", &major, &minor)
		}
		switch has := testenv.KernelAtLeast(major, minor); {
		case has && err != nil:
			t.Errorf("kernel %s: %v", testenv.KernelRelease(), err)
		case !has && err == nil:
			t.Errorf("kernel %s, older than %d.%d, has command %s", testenv.KernelRelease(), major, minor, cmdNames[cmd])
		}
	}
	if has := f.group != 0; has != testenv.KernelAtLeast(5, 12) {
		t.Errorf("kernel %s: events group %d", testenv.KernelRelease(), f.group)
	}
}

// A command the kernel did not register is refused before sending, with
// an error that names it and the release that added it, and matches
// errors.ErrUnsupported but no errno: the kernel answered nothing. The
// Conn here has a family without set-flags and the userspace commands,
// as 5.10 registers it, and no socket: a request that reached exec's
// sending would panic.
func TestMissingCommandRefused(t *testing.T) {
	data, err := encode(func(ae *netlink.AttributeEncoder) error {
		ae.Uint16(unix.CTRL_ATTR_FAMILY_ID, 30)
		ae.String(unix.CTRL_ATTR_FAMILY_NAME, familyName)
		ae.Nested(unix.CTRL_ATTR_OPS, func(ae *netlink.AttributeEncoder) error {
			for i, cmd := range []uint32{cmdAddAddr, cmdDelAddr, cmdGetAddr, cmdFlushAddrs, cmdSetLimits, cmdGetLimits} {
				ae.Nested(uint16(i+1), func(ae *netlink.AttributeEncoder) error {
					ae.Uint32(unix.CTRL_ATTR_OP_ID, cmd)
					ae.Uint32(unix.CTRL_ATTR_OP_FLAGS, 0)
					return nil
				})
			}
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeFamily(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.id != 30 || f.group != 0 {
		t.Fatalf("decoded %+v", f)
	}
	c := &Conn{s: &sysConn{family: f}}
	local, remote := netip.MustParseAddrPort("10.0.1.2:0"), netip.MustParseAddrPort("10.0.1.1:80")
	for _, tc := range []struct {
		op, since string
		call      func() error
	}{
		{"set-flags", "5.12", func() error { return c.SetEndpointFlags(1, FlagBackup) }},
		{"set-flags", "5.12", func() error { return c.SetSubflowBackup(1, local, remote, true) }},
		{"announce", "5.19", func() error { return c.Announce(1, 1, netip.MustParseAddrPort("10.0.1.2:0")) }},
		{"remove", "5.19", func() error { return c.Remove(1, 1) }},
		{"subflow-create", "5.19", func() error { return c.CreateSubflow(1, local, remote, nil) }},
		{"subflow-destroy", "5.19", func() error {
			return c.DestroySubflow(1, netip.MustParseAddrPort("10.0.1.2:1"), remote)
		}},
	} {
		err := tc.call()
		var oe *net.OpError
		var errno syscall.Errno
		want := "the kernel's mptcp_pm family has no " + tc.op + " command (Linux " + tc.since + " added it)"
		if !errors.As(err, &oe) || oe.Op != tc.op || oe.Net != netName || !errors.Is(err, errors.ErrUnsupported) ||
			errors.As(err, &errno) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s on a kernel without it: %v; want an *net.OpError for %s matching errors.ErrUnsupported, without errno, saying %q", tc.op, err, tc.op, want)
		}
	}
}
