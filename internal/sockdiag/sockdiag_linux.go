package sockdiag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/multipath-go/mptcp/internal/netns"
	"golang.org/x/sys/unix"
)

// Numbers from <linux/inet_diag.h>, <linux/sock_diag.h> and
// <linux/mptcp.h> that golang.org/x/sys does not define.
const (
	reqProtocolAttr = 3 // INET_DIAG_REQ_PROTOCOL (u32), since 5.7

	AttrInfo    = 2  // INET_DIAG_INFO: tcp_info, or mptcp_info for MPTCP sockets
	AttrCong    = 4  // INET_DIAG_CONG: the congestion control's name, TCP sockets only
	AttrULPInfo = 19 // INET_DIAG_ULP_INFO (nested), 5.4+

	ULPInfoName  = 1 // INET_ULP_INFO_NAME (string)
	ULPInfoMPTCP = 3 // INET_ULP_INFO_MPTCP (nested)

	// Attributes inside INET_ULP_INFO_MPTCP.
	SubflowTokenRem = 1 // u32
	SubflowTokenLoc = 2 // u32
	SubflowFlags    = 8 // u32
	SubflowIDRem    = 9 // u8
	SubflowIDLoc    = 10

	// ExtInfo asks for INET_DIAG_INFO in Request.Ext, ExtCong for
	// INET_DIAG_CONG.
	ExtInfo = 1 << (AttrInfo - 1)
	ExtCong = 1 << (AttrCong - 1)

	// NoCookie is the cookie of a request that names no socket.
	NoCookie = ^uint32(0)

	reqLen      = 56 // struct inet_diag_req_v2
	reqSockIDAt = 8  // its struct inet_diag_sockid
	msgLen      = 72 // struct inet_diag_msg
	msgSockIDAt = 4  // its struct inet_diag_sockid
)

// recvTimeout bounds the wait for each datagram of an answer.
const recvTimeout = 10 * time.Second

// AllStates selects sockets in every TCP state.
const AllStates = ^uint32(0)

// SockID is struct inet_diag_sockid, ports in host order. An IPv4
// address is in the first 4 bytes.
type SockID struct {
	SPort, DPort uint16
	Src, Dst     [16]byte
	If           uint32
	Cookie       [2]uint32
}

// Request is one inet_diag request.
type Request struct {
	Family   uint8  // unix.AF_INET or unix.AF_INET6
	Protocol uint32 // unix.IPPROTO_TCP or unix.IPPROTO_MPTCP
	Ext      uint8  // extensions wanted, such as ExtInfo
	States   uint32 // bit 1<<state for each TCP state wanted
	ID       SockID // the socket, for a request that is not a dump
	Dump     bool   // every socket that matches, rather than one
}

// Msg is one socket in an answer: struct inet_diag_msg and its
// attributes. It is valid only during the callback that receives it.
type Msg struct {
	Family, State, Timer, Retrans uint8
	ID                            SockID
	Expires, RQueue, WQueue       uint32
	UID, Inode                    uint32
	attrs                         []byte
	raw                           []byte
}

// Bytes returns the message as the kernel sent it: struct inet_diag_msg
// and its attributes. It is valid only during the callback, as the Msg.
func (m *Msg) Bytes() []byte { return m.raw }

// UnmarshalBinary decodes b, a message as Bytes returns it, into m,
// which keeps b: tests replay recorded answers with it.
func (m *Msg) UnmarshalBinary(b []byte) error { return decodeMsg(m, b) }

// Attr returns the payload of the message's first attribute of type
// typ.
func (m *Msg) Attr(typ uint16) ([]byte, bool) { return Attr(m.attrs, typ) }

// Attr returns the payload of the first attribute of type typ in b, a
// run of netlink attributes (the nested flag ignored).
func Attr(b []byte, typ uint16) ([]byte, bool) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) & 0x3fff
		if l < 4 || l > len(b) {
			return nil, false
		}
		if t == typ {
			return b[4:l], true
		}
		b = b[min(align4(l), len(b)):]
	}
	return nil, false
}

func align4(n int) int { return (n + 3) &^ 3 }

// Conn is a NETLINK_SOCK_DIAG socket, bound to the network namespace it
// was opened in. Its methods are not safe for concurrent use.
type Conn struct {
	fd  int
	seq uint32
	buf []byte
	msg Msg // the message handed to callbacks, reused: one per Conn, not per socket
}

// Open opens a socket in the calling goroutine's network namespace, or,
// when netns is not nil, in the namespace that file names (a
// /var/run/netns/NAME or /proc/PID/ns/net).
func Open(netns *os.File) (*Conn, error) {
	var fd int
	var err error
	if netns == nil {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	} else {
		fd, err = socketIn(netns)
	}
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// A kernel that never finishes an answer makes an error, not a hang.
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("setsockopt", err)
	}
	return &Conn{fd: fd, buf: make([]byte, 32<<10)}, nil
}

// socketIn makes the netlink socket in another namespace.
func socketIn(ns *os.File) (fd int, err error) {
	err = netns.Do(ns, func() error {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		return err
	})
	return fd, err
}

// Close closes the socket.
func (c *Conn) Close() error {
	if c == nil || c.fd < 0 {
		return os.ErrClosed
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Query sends req and calls fn with each socket of the answer, in the
// kernel's order, until the answer ends or fn returns an error, which
// Query then returns. A request that is not a dump answers one socket,
// or fails with ENOENT. An error from the kernel is an errno inside an
// *os.SyscallError.
func (c *Conn) Query(req *Request, fn func(*Msg) error) error {
	if c == nil || c.fd < 0 {
		return os.ErrClosed
	}
	c.seq++
	if err := c.send(req); err != nil {
		return err
	}
	var stop error // fn's error: the rest of the answer is read and dropped
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			return os.NewSyscallError("recvfrom", err)
		}
		done, err := c.parse(c.buf[:n], req.Dump, func(m *Msg) error {
			if stop == nil {
				stop = fn(m)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return stop
		}
	}
}

func (c *Conn) send(req *Request) error {
	var b [unix.NLMSG_HDRLEN + reqLen + 8]byte
	ne := binary.NativeEndian
	flags := uint16(unix.NLM_F_REQUEST)
	if req.Dump {
		flags |= unix.NLM_F_DUMP
	}
	proto := req.Protocol
	n := len(b)
	if proto < 256 {
		n -= 8
	}
	ne.PutUint32(b[0:], uint32(n))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], c.seq)
	r := b[unix.NLMSG_HDRLEN:]
	r[0] = req.Family
	if proto < 256 {
		r[1] = uint8(proto)
	} else {
		r[1] = unix.IPPROTO_TCP
		a := r[reqLen:]
		ne.PutUint16(a[0:], 8)
		ne.PutUint16(a[2:], reqProtocolAttr)
		ne.PutUint32(a[4:], proto)
	}
	r[2] = req.Ext
	ne.PutUint32(r[4:], req.States)
	putSockID(r[reqSockIDAt:], &req.ID)
	sa := unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	if err := unix.Sendto(c.fd, b[:n], 0, &sa); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	return nil
}

// parse walks one datagram of netlink messages. It reports whether the
// answer ended (NLMSG_DONE, an error, or the one message of a request
// that is not a dump).
func (c *Conn) parse(b []byte, dump bool, fn func(*Msg) error) (done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b))
		typ := ne.Uint16(b[4:])
		seq := ne.Uint32(b[8:])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return true, fmt.Errorf("sockdiag: netlink message of %d bytes in %d", l, len(b))
		}
		body := b[unix.NLMSG_HDRLEN:l]
		b = b[min(align4(l), len(b)):]
		if seq != c.seq {
			continue // the rest of an answer an earlier Query abandoned
		}
		switch typ {
		case unix.NLMSG_DONE:
			// A dump that failed ends with its errno here, not in an
			// NLMSG_ERROR: inet_diag without a handler for the protocol
			// (no mptcp_diag) ends an MPTCP dump with ENOENT.
			if len(body) >= 4 {
				if errno := -int32(ne.Uint32(body)); errno > 0 {
					return true, os.NewSyscallError("sock_diag", syscall.Errno(errno))
				}
			}
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return true, errors.New("sockdiag: truncated netlink error")
			}
			errno := -int32(ne.Uint32(body))
			if errno == 0 {
				return !dump, nil
			}
			return true, os.NewSyscallError("sock_diag", syscall.Errno(errno))
		case unix.SOCK_DIAG_BY_FAMILY:
			m := &c.msg
			if err := decodeMsg(m, body); err != nil {
				return true, err
			}
			if err := fn(m); err != nil {
				return true, err
			}
			if !dump {
				return true, nil
			}
		}
	}
	return false, nil
}

// decodeMsg decodes struct inet_diag_msg and keeps its attributes.
func decodeMsg(m *Msg, b []byte) error {
	if len(b) < msgLen {
		return fmt.Errorf("sockdiag: inet_diag_msg of %d bytes, want %d", len(b), msgLen)
	}
	ne := binary.NativeEndian
	m.Family, m.State, m.Timer, m.Retrans = b[0], b[1], b[2], b[3]
	getSockID(&m.ID, b[msgSockIDAt:])
	m.Expires = ne.Uint32(b[52:])
	m.RQueue = ne.Uint32(b[56:])
	m.WQueue = ne.Uint32(b[60:])
	m.UID = ne.Uint32(b[64:])
	m.Inode = ne.Uint32(b[68:])
	m.attrs = b[msgLen:]
	m.raw = b
	return nil
}

func putSockID(b []byte, id *SockID) {
	binary.BigEndian.PutUint16(b[0:], id.SPort)
	binary.BigEndian.PutUint16(b[2:], id.DPort)
	copy(b[4:20], id.Src[:])
	copy(b[20:36], id.Dst[:])
	binary.NativeEndian.PutUint32(b[36:], id.If)
	binary.NativeEndian.PutUint32(b[40:], id.Cookie[0])
	binary.NativeEndian.PutUint32(b[44:], id.Cookie[1])
}

func getSockID(id *SockID, b []byte) {
	id.SPort = binary.BigEndian.Uint16(b[0:])
	id.DPort = binary.BigEndian.Uint16(b[2:])
	copy(id.Src[:], b[4:20])
	copy(id.Dst[:], b[20:36])
	id.If = binary.NativeEndian.Uint32(b[36:])
	id.Cookie[0] = binary.NativeEndian.Uint32(b[40:])
	id.Cookie[1] = binary.NativeEndian.Uint32(b[44:])
}

// AddrPorts returns the socket's local and remote addresses. IPv4-mapped
// IPv6 addresses are reported as IPv4, as package mptcp reports them.
func (m *Msg) AddrPorts() (local, remote netip.AddrPort) {
	return addrPort(m.Family, m.ID.Src, m.ID.SPort), addrPort(m.Family, m.ID.Dst, m.ID.DPort)
}

func addrPort(family uint8, a [16]byte, port uint16) netip.AddrPort {
	if family == unix.AF_INET {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[:4])), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a).Unmap(), port)
}

// SubflowULP is what INET_ULP_INFO_MPTCP says of a TCP socket that is an
// MPTCP subflow.
type SubflowULP struct {
	TokenLoc, TokenRem uint32 // the connection's token on this side and the peer's
	IDLoc, IDRem       uint8  // the subflow's address ids
	Flags              uint32 // MPTCP_SUBFLOW_FLAG_*
}

// Subflow returns the MPTCP subflow attributes of a TCP socket: ok is
// false for a socket that is not a subflow, or when the kernel withheld
// ULP information (it gives it only to CAP_NET_ADMIN).
func (m *Msg) Subflow() (s SubflowULP, ok bool) {
	ulp, ok := m.Attr(AttrULPInfo)
	if !ok {
		return s, false
	}
	if m.ULPName() != "mptcp" {
		return s, false
	}
	mp, ok := Attr(ulp, ULPInfoMPTCP)
	if !ok {
		return s, false
	}
	u32 := func(typ uint16) uint32 {
		if b, ok := Attr(mp, typ); ok && len(b) >= 4 {
			return binary.NativeEndian.Uint32(b)
		}
		return 0
	}
	u8 := func(typ uint16) uint8 {
		if b, ok := Attr(mp, typ); ok && len(b) >= 1 {
			return b[0]
		}
		return 0
	}
	return SubflowULP{
		TokenLoc: u32(SubflowTokenLoc), TokenRem: u32(SubflowTokenRem),
		IDLoc: u8(SubflowIDLoc), IDRem: u8(SubflowIDRem),
		Flags: u32(SubflowFlags),
	}, true
}

// HasULP reports whether the kernel sent the socket's ULP information
// at all: a TCP socket with a ULP, seen by a caller with CAP_NET_ADMIN.
func (m *Msg) HasULP() bool {
	_, ok := m.Attr(AttrULPInfo)
	return ok
}

// ULPName returns the name of the socket's upper-layer protocol
// ("mptcp" for an MPTCP subflow or listener), or "" where the answer
// has none: no such protocol, or the kernel withheld it.
func (m *Msg) ULPName() string {
	ulp, ok := m.Attr(AttrULPInfo)
	if !ok {
		return ""
	}
	name, _ := Attr(ulp, ULPInfoName)
	return string(bytes.TrimRight(name, "\x00"))
}

// IsMPTCP reports whether a socket in the answer to an MPTCP request
// (Protocol unix.IPPROTO_MPTCP, Ext with ExtCong) is an MPTCP socket:
// 5.7 and 5.8 know the request attribute but not MPTCP, and answer with
// TCP sockets, which carry their congestion control's name; MPTCP
// sockets have none.
func (m *Msg) IsMPTCP() bool {
	_, cong := m.Attr(AttrCong)
	return !cong
}
