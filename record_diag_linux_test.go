package mptcp

import (
	"encoding/binary"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// Socket diagnostics in the recordings, for the kernels that have no
// SOL_MPTCP (5.10 with MPTCP): what the socket-diagnostics reader asks
// of one connection, recorded as the kernel's own messages, and replayed
// through the seam by fakeKernel.

// recordedDiag is what socket diagnostics listed of one connection: each
// message is struct inet_diag_msg and its attributes, as sent.
type recordedDiag struct {
	MPTCP [][]byte `json:"mptcp"` // the MPTCP dump's message of the connection (none for a TCP socket)
	TCP   [][]byte `json:"tcp"`   // the TCP dumps' messages of its subflows, and of its own addresses
}

// recordDiag records what socket diagnostics list of the connection
// from local to remote, with the requests the reader makes.
func recordDiag(t *testing.T, local, remote netip.AddrPort) *recordedDiag {
	t.Helper()
	dc, err := sockdiag.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	d := &recordedDiag{}
	family := uint8(unix.AF_INET)
	if local.Addr().Is6() {
		family = unix.AF_INET6
	}
	var token uint32
	req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_MPTCP, Ext: diagExt, States: sockdiag.AllStates, Dump: true}
	req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
	err = dc.Query(&req, func(m *sockdiag.Msg) error {
		if l, r := m.AddrPorts(); l == local && r == remote {
			d.MPTCP = append(d.MPTCP, append([]byte(nil), m.Bytes()...))
			if info, ok := m.Attr(sockdiag.AttrInfo); ok && len(info) >= miToken+4 {
				token = binary.NativeEndian.Uint32(info[miToken:])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("MPTCP dump: %v", err)
	}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_TCP, Ext: sockdiag.ExtInfo, States: sockdiag.AllStates, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		err := dc.Query(&req, func(m *sockdiag.Msg) error {
			l, r := m.AddrPorts()
			sf, ok := m.Subflow()
			if (l == local && r == remote) || (ok && token != 0 && sf.TokenLoc == token) {
				d.TCP = append(d.TCP, append([]byte(nil), m.Bytes()...))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("TCP dump: %v", err)
		}
	}
	return d
}

// addrs answers with the recorded socket's addresses; recordings made
// before they were kept have them in their first subflow's addresses.
func (k *fakeKernel) addrs(fd uintptr) (family uint8, local, remote netip.AddrPort, err error) {
	s := k.sock(fd)
	family = unix.AF_INET
	if strings.HasSuffix(s.name, "6") {
		family = unix.AF_INET6
	}
	switch {
	case s.rec.Local != "":
		local, remote = netip.MustParseAddrPort(s.rec.Local), netip.MustParseAddrPort(s.rec.Remote)
	case len(s.addrs) > 0:
		local, remote = recordedAddrs(s.addrs[0])
	default:
		return 0, local, remote, unix.ENOTCONN
	}
	return family, local, remote, nil
}

// sockDiag opens a replay of the socket's recorded diagnostics. A
// recording without them answers as a kernel without mptcp_diag.
func (k *fakeKernel) sockDiag(fd uintptr) (diagConn, error) {
	k.diagOpens++
	return &fakeDiag{k: k, rec: k.sock(fd).rec.Diag}, nil
}

// fakeDiag replays recorded socket diagnostics, answering each request
// as inet_diag does: one socket by its token (the cookie of an MPTCP
// request), or a dump of a family.
type fakeDiag struct {
	k   *fakeKernel
	rec *recordedDiag
	msg sockdiag.Msg
}

func (d *fakeDiag) Query(req *sockdiag.Request, fn func(*sockdiag.Msg) error) error {
	d.k.diagQueries++
	if d.rec == nil {
		return os.NewSyscallError("sock_diag", syscall.ENOENT) // no MPTCP handler
	}
	msgs := d.rec.TCP
	if req.Protocol == unix.IPPROTO_MPTCP {
		msgs = d.rec.MPTCP
	}
	found := false
	for _, b := range msgs {
		if b[0] != req.Family {
			continue
		}
		if err := d.msg.UnmarshalBinary(b); err != nil {
			return err
		}
		if !req.Dump {
			info, _ := d.msg.Attr(sockdiag.AttrInfo)
			if len(info) < miToken+4 || binary.NativeEndian.Uint32(info[miToken:]) != req.ID.Cookie[0] {
				continue
			}
		}
		found = true
		if err := fn(&d.msg); err != nil {
			return err
		}
		if !req.Dump {
			break
		}
	}
	if !req.Dump && !found {
		return os.NewSyscallError("sock_diag", syscall.ENOENT)
	}
	return nil
}

func (d *fakeDiag) Close() error { return nil }
