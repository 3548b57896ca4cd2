package explain

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// maxCaptured bounds how many handshakes a Capture keeps: a busy host
// opens many connections during a dial, and only one matters.
const maxCaptured = 4096

// Capture records the TCP options of the SYNs and SYN/ACKs of the calling
// thread's network namespace, from a packet socket, so that the options
// of one connection's handshake can be looked at once it is made. An
// outgoing SYN is seen as it leaves (after this host's firewall), an
// incoming SYN/ACK as it arrives (before it). It needs CAP_NET_RAW.
type Capture struct {
	fd      int
	stop    atomic.Bool
	done    chan struct{}
	mu      sync.Mutex
	byConns map[[2]netip.AddrPort]*Handshake // by local, remote
}

// StartCapture opens the packet socket in the calling thread's network
// namespace and records until Stop.
func StartCapture() (*Capture, error) {
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	// A timeout on reads lets the reader see Stop: closing a descriptor
	// another thread is blocked on does not wake it.
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Only SYNs reach the socket: a download during the capture would
	// otherwise copy every segment to it.
	prog := unix.SockFprog{Len: uint16(len(synFilter)), Filter: &synFilter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		unix.Close(fd)
		return nil, err
	}
	c := &Capture{fd: fd, done: make(chan struct{}), byConns: map[[2]netip.AddrPort]*Handshake{}}
	go c.read()
	return c, nil
}

// synFilter is a classic BPF program that accepts IPv4 and IPv6 packets
// (from the network header on, as a SOCK_DGRAM packet socket sees them)
// carrying a TCP segment with SYN set, and drops the rest.
var synFilter = []unix.SockFilter{
	/* 0 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 0},
	/* 1 */ {Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: 0xf0},
	/* 2 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0x40, Jt: 0, Jf: 6},
	// IPv4: protocol TCP, then the flags at the header's length + 13.
	/* 3 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 9},
	/* 4 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.IPPROTO_TCP, Jt: 0, Jf: 10},
	/* 5 */ {Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0},
	/* 6 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_IND, K: 13},
	/* 7 */ {Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: 0x02, Jt: 6, Jf: 7},
	/* 8 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0}, // not reached
	// IPv6: next header TCP (no extension headers), flags at 40 + 13.
	/* 9 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0x60, Jt: 0, Jf: 5},
	/* 10 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 6},
	/* 11 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.IPPROTO_TCP, Jt: 0, Jf: 3},
	/* 12 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 53},
	/* 13 */ {Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: 0x02, Jt: 0, Jf: 1},
	/* 14 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},
	/* 15 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0},
}

// htons puts v in network byte order, as the packet socket's protocol
// argument wants it, on machines of either byte order.
func htons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}

func (c *Capture) read() {
	defer close(c.done)
	buf := make([]byte, 2048) // headers are all that is looked at
	for !c.stop.Load() {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			return
		}
		c.packet(buf[:n])
	}
}

// packet records one IP packet if it is a SYN or a SYN/ACK.
func (c *Capture) packet(p []byte) {
	src, dst, tcp, ok := tcpSegment(p)
	if !ok || len(tcp) < 20 {
		return
	}
	flags := tcp[13]
	const syn, ack = 0x02, 0x10
	if flags&syn == 0 {
		return
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || doff > len(tcp) {
		return
	}
	srcAP := netip.AddrPortFrom(src, uint16(tcp[0])<<8|uint16(tcp[1]))
	dstAP := netip.AddrPortFrom(dst, uint16(tcp[2])<<8|uint16(tcp[3]))
	mpc, nops := options(tcp[20:doff])
	c.mu.Lock()
	defer c.mu.Unlock()
	key := [2]netip.AddrPort{srcAP, dstAP} // the SYN's sender is the local end
	if flags&ack != 0 {
		key = [2]netip.AddrPort{dstAP, srcAP}
	}
	h := c.byConns[key]
	if h == nil {
		if len(c.byConns) >= maxCaptured {
			return
		}
		h = &Handshake{}
		c.byConns[key] = h
	}
	if flags&ack != 0 {
		h.SYNACK, h.SYNACKMPCapable, h.SYNACKNops = true, mpc, nops
	} else {
		h.SYN, h.SYNMPCapable, h.SYNNops = true, mpc, nops
	}
}

// Stop ends the capture and returns what it saw of the handshake from
// local to remote, or nil.
func (c *Capture) Stop(local, remote netip.AddrPort) *Handshake {
	if c.stop.Swap(true) {
		return c.lookup(local, remote)
	}
	<-c.done
	// The handshake's packets were queued on the socket before connect
	// returned (a packet socket sees them before TCP does), but the
	// reader may have stopped before reading them: drain what is queued.
	buf := make([]byte, 2048)
	for range maxCaptured {
		n, _, err := unix.Recvfrom(c.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			break
		}
		c.packet(buf[:n])
	}
	unix.Close(c.fd)
	return c.lookup(local, remote)
}

func (c *Capture) lookup(local, remote netip.AddrPort) *Handshake {
	c.mu.Lock()
	defer c.mu.Unlock()
	unmap := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
	h := c.byConns[[2]netip.AddrPort{unmap(local), unmap(remote)}]
	if h == nil {
		return nil
	}
	cp := *h
	return &cp
}
