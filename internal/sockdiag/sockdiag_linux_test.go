package sockdiag

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nlmsg builds one netlink message of type typ and sequence seq.
func nlmsg(typ uint16, seq uint32, body []byte) []byte {
	ne := binary.NativeEndian
	b := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body)+3)
	ne.PutUint32(b[0:], uint32(unix.NLMSG_HDRLEN+len(body)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint32(b[8:], seq)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func attr(typ uint16, payload []byte) []byte {
	b := make([]byte, 4, 4+len(payload)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(payload)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// diagMsg builds struct inet_diag_msg for 192.0.2.1:1000 -> 198.51.100.2:443
// in state s, with attributes.
func diagMsg(state uint8, attrs ...[]byte) []byte {
	b := make([]byte, msgLen)
	b[0], b[1] = unix.AF_INET, state
	binary.BigEndian.PutUint16(b[msgSockIDAt:], 1000)
	binary.BigEndian.PutUint16(b[msgSockIDAt+2:], 443)
	copy(b[msgSockIDAt+4:], []byte{192, 0, 2, 1})
	copy(b[msgSockIDAt+20:], []byte{198, 51, 100, 2})
	binary.NativeEndian.PutUint32(b[msgSockIDAt+40:], 7) // cookie
	binary.NativeEndian.PutUint32(b[64:], 1000)          // uid
	binary.NativeEndian.PutUint32(b[68:], 4242)          // inode
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

func TestParseAnswer(t *testing.T) {
	c := &Conn{seq: 5}
	ulp := append(attr(ULPInfoName, []byte("mptcp\x00")), attr(ULPInfoMPTCP, append(append(
		attr(SubflowTokenLoc, binary.NativeEndian.AppendUint32(nil, 0xa1b2c3d4)),
		attr(SubflowIDLoc, []byte{3})...),
		attr(SubflowFlags, binary.NativeEndian.AppendUint32(nil, 0xc3))...))...)
	var dgram []byte
	dgram = append(dgram, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 4, diagMsg(1))...) // a stale answer: skipped
	dgram = append(dgram, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 5, diagMsg(1, attr(AttrInfo, make([]byte, 96))))...)
	dgram = append(dgram, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 5, diagMsg(10, attr(AttrCong, []byte("cubic\x00")), attr(AttrULPInfo, ulp)))...)
	dgram = append(dgram, nlmsg(unix.NLMSG_DONE, 5, make([]byte, 4))...)
	var got []Msg
	var subs []SubflowULP
	done, err := c.parse(dgram, true, func(m *Msg) error {
		got = append(got, *m)
		if s, ok := m.Subflow(); ok {
			subs = append(subs, s)
		}
		return nil
	})
	if err != nil || !done {
		t.Fatalf("parse: done %v, %v", done, err)
	}
	if len(got) != 2 {
		t.Fatalf("%d messages, want 2 (the stale one skipped)", len(got))
	}
	m := got[0]
	l, r := m.AddrPorts()
	if l != netip.MustParseAddrPort("192.0.2.1:1000") || r != netip.MustParseAddrPort("198.51.100.2:443") ||
		m.ID.Cookie[0] != 7 || m.UID != 1000 || m.Inode != 4242 || m.State != 1 {
		t.Errorf("decoded %v -> %v cookie %v uid %d inode %d state %d", l, r, m.ID.Cookie, m.UID, m.Inode, m.State)
	}
	if !got[0].IsMPTCP() || got[1].IsMPTCP() {
		t.Errorf("IsMPTCP: %v, %v; want true for no congestion control, false for cubic", got[0].IsMPTCP(), got[1].IsMPTCP())
	}
	if len(subs) != 1 || subs[0] != (SubflowULP{TokenLoc: 0xa1b2c3d4, IDLoc: 3, Flags: 0xc3}) {
		t.Errorf("subflow attributes %+v", subs)
	}
}

func TestParseKernelError(t *testing.T) {
	c := &Conn{seq: 1}
	enoent := -int32(syscall.ENOENT)
	body := binary.NativeEndian.AppendUint32(nil, uint32(enoent))
	done, err := c.parse(nlmsg(unix.NLMSG_ERROR, 1, append(body, make([]byte, 16)...)), true, func(*Msg) error { return nil })
	if !done || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("error answer: done %v, %v; want ENOENT", done, err)
	}
	// A dump that fails ends with the errno in its NLMSG_DONE.
	c.seq = 2
	done, err = c.parse(nlmsg(unix.NLMSG_DONE, 2, body), true, func(*Msg) error { return nil })
	if !done || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("failed dump: done %v, %v; want ENOENT", done, err)
	}
}

// Malformed answers are errors, never panics or endless loops.
func FuzzParse(f *testing.F) {
	f.Add(nlmsg(unix.SOCK_DIAG_BY_FAMILY, 1, diagMsg(1, attr(AttrInfo, make([]byte, 40)))))
	f.Add(nlmsg(unix.SOCK_DIAG_BY_FAMILY, 1, diagMsg(1)[:20]))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 20, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Conn{seq: 1}
		c.parse(b, true, func(m *Msg) error {
			m.AddrPorts()
			m.Subflow()
			m.IsMPTCP()
			m.Attr(AttrInfo)
			return nil
		})
	})
}

func TestAttrMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {1}, {0, 0, 1, 0}, {3, 0, 1, 0}, {200, 0, 1, 0, 9}} {
		if _, ok := Attr(b, 1); ok {
			t.Errorf("Attr(%x) found an attribute", b)
		}
	}
}
