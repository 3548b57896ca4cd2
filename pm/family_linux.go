//go:build linux

package pm

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/errs"
)

// family is what the kernel registered of the mptcp_pm family: its
// number, its events group, and its commands. Kernels added commands and
// the group over releases; a Conn refuses a command its kernel lacks
// before sending it, with an error that says so, where the kernel would
// answer only EOPNOTSUPP.
type family struct {
	id    uint16
	group uint32 // the events group; 0 before 5.12
	// cmds has bit n set for each command n the kernel lists; 0 when it
	// listed none, and then every command is sent.
	cmds uint64
}

// eventsSince is the first release with the events group.
const eventsSince = "Linux 5.12 added it"

// cmdSince names the first release with each command that came after
// the family itself (5.7).
var cmdSince = map[uint8]string{
	cmdSetFlags:       "5.12",
	cmdAnnounce:       "5.19",
	cmdRemove:         "5.19",
	cmdSubflowCreate:  "5.19",
	cmdSubflowDestroy: "5.19",
}

// decodeFamily reads the controller's answer to CTRL_CMD_GETFAMILY.
func decodeFamily(b []byte) (family, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return family{}, err
	}
	var f family
	for ad.Next() {
		switch ad.Type() {
		case unix.CTRL_ATTR_FAMILY_ID:
			f.id = ad.Uint16()
		case unix.CTRL_ATTR_OPS:
			ad.Nested(func(ops *netlink.AttributeDecoder) error {
				for ops.Next() {
					ops.Nested(func(op *netlink.AttributeDecoder) error {
						for op.Next() {
							if op.Type() == unix.CTRL_ATTR_OP_ID {
								if id := op.Uint32(); id < 64 {
									f.cmds |= 1 << id
								}
							}
						}
						return nil
					})
				}
				return nil
			})
		case unix.CTRL_ATTR_MCAST_GROUPS:
			ad.Nested(func(groups *netlink.AttributeDecoder) error {
				for groups.Next() {
					groups.Nested(func(g *netlink.AttributeDecoder) error {
						var name string
						var id uint32
						for g.Next() {
							switch g.Type() {
							case unix.CTRL_ATTR_MCAST_GRP_NAME:
								name = g.String()
							case unix.CTRL_ATTR_MCAST_GRP_ID:
								id = g.Uint32()
							}
						}
						if name == eventsGroup {
							f.group = id
						}
						return nil
					})
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return family{}, err
	}
	if f.id == 0 {
		return family{}, fmt.Errorf("the kernel described a family without its number")
	}
	return f, nil
}

// lacks returns the error of a command the kernel did not register, or
// nil.
func (f family) lacks(cmd uint8) error {
	if f.cmds == 0 || cmd >= 64 || f.cmds&(1<<cmd) != 0 {
		return nil
	}
	since := "a later release added it"
	if v, ok := cmdSince[cmd]; ok {
		since = "Linux " + v + " added it"
	}
	return errs.New(fmt.Sprintf("the kernel's mptcp_pm family has no %s command (%s)", cmdNames[cmd], since), errors.ErrUnsupported)
}
