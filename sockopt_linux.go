package mptcp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket option numbers from <linux/mptcp.h> and <linux/tcp.h>.
// golang.org/x/sys/unix defines only IPPROTO_MPTCP and SOL_MPTCP.
const (
	ipprotoMPTCP = unix.IPPROTO_MPTCP // 262, since 5.6
	solMPTCP     = unix.SOL_MPTCP     // 284, since 5.16

	optMPTCPInfo          = 1  // struct mptcp_info, 5.16
	optMPTCPTCPInfo       = 2  // mptcp_subflow_data + tcp_info[], 5.16
	optMPTCPSubflowAddrs  = 3  // mptcp_subflow_data + mptcp_subflow_addrs[], 5.16
	optMPTCPFullInfo      = 4  // mptcp_full_info, 6.5
	optTCPIsMPTCP         = 43 // level SOL_TCP, 6.10
	infoFlagFallback      = 1 << 0
	infoFlagRemoteKeyRecv = 1 << 1
)

// Sizes of the kernel structures this package knows. The kernel copies
// min(what we ask, what it has), so asking for exactly what we decode is
// enough: newer fields would not be decoded anyway.
const (
	infoLen          = 96  // struct mptcp_info on 6.10+
	tcpInfoLen       = 280 // struct tcp_info on 6.18
	sockaddrLen      = 128 // struct sockaddr_storage
	subflowAddrsLen  = 2 * sockaddrLen
	subflowInfoLen   = 8 + subflowAddrsLen // struct mptcp_subflow_info on a 64-bit kernel
	subflowDataLen   = 16                  // struct mptcp_subflow_data
	fullInfoHdrLen   = 40                  // struct mptcp_full_info before its mptcp_info
	initialSubflows  = 4                   // room reserved on the first call; grown on demand
	maxSubflows      = 256                 // refuse to grow beyond this: no kernel allows so many
	maxSubflowTrials = 4                   // re-reads when the subflow set changes under us
)

// How MultipathTCP asks the running kernel, from the most to the least
// precise test. It is chosen once per process by probeKernel from what
// the kernel answers, never from its version string.
const (
	probeUnknown  int32 = iota
	probeIsMPTCP        // getsockopt(SOL_TCP, TCP_IS_MPTCP): 6.10+
	probeInfo           // getsockopt(SOL_MPTCP, MPTCP_INFO) with optlen 0: 5.16+
	probeProtocol       // getsockopt(SOL_SOCKET, SO_PROTOCOL): cannot see a fallback
)

var (
	probeOnce   sync.Once
	probeMethod int32
	// noFullInfo is set once the kernel refused MPTCP_FULL_INFO on a
	// connection that is MPTCP: the kernel predates 6.5.
	noFullInfo atomic.Bool
)

// kernelProbe returns how this kernel answers "is this socket MPTCP?".
func kernelProbe() int32 {
	probeOnce.Do(func() { probeMethod = probeKernel() })
	return probeMethod
}

// probeKernel asks a fresh, unconnected socket which options the kernel
// knows. A fresh MPTCP socket answers TCP_IS_MPTCP on 6.10+ and MPTCP_INFO
// on 5.16+; older kernels refuse both. When no MPTCP socket can be made
// (no MPTCP in the kernel, or net.mptcp.enabled=0), a TCP socket still
// tells whether TCP_IS_MPTCP exists; otherwise SO_PROTOCOL is all that is
// left, which is exact for every socket this package creates in that state.
func probeKernel() int32 {
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, ipprotoMPTCP)
		if err != nil {
			continue
		}
		defer unix.Close(fd)
		if _, errno := getsockoptInt(uintptr(fd), unix.SOL_TCP, optTCPIsMPTCP); errno == 0 {
			return probeIsMPTCP
		}
		var optlen uint32
		if errno := getsockopt(uintptr(fd), solMPTCP, optMPTCPInfo, nil, &optlen); errno == 0 {
			return probeInfo
		}
		return probeProtocol
	}
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
		if err != nil {
			continue
		}
		defer unix.Close(fd)
		if _, errno := getsockoptInt(uintptr(fd), unix.SOL_TCP, optTCPIsMPTCP); errno == 0 {
			return probeIsMPTCP
		}
		break
	}
	return probeProtocol
}

// getsockopt is the raw system call. It returns the errno rather than an
// error so that callers on the hot path never allocate. Every linux port
// of golang.org/x/sys has a direct getsockopt system call (386 since 4.3,
// far older than MPTCP), so no socketcall multiplexing is needed.
func getsockopt(fd uintptr, level, name int, buf unsafe.Pointer, optlen *uint32) syscall.Errno {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, uintptr(level), uintptr(name),
		uintptr(buf), uintptr(unsafe.Pointer(optlen)), 0)
	return errno
}

func getsockoptInt(fd uintptr, level, name int) (int32, syscall.Errno) {
	var v int32
	optlen := uint32(4)
	errno := getsockopt(fd, level, name, unsafe.Pointer(&v), &optlen)
	return v, errno
}

// refused reports whether errno is how a kernel says "not here": an
// option it does not know, or a SOL_MPTCP option on a socket that is not
// (or no longer) MPTCP. IPv4 sockets answer EOPNOTSUPP, IPv6 ENOPROTOOPT.
func refused(errno syscall.Errno) bool {
	return errno == unix.EOPNOTSUPP || errno == unix.ENOPROTOOPT
}

// isMPTCP answers with the most precise test the kernel offers.
func isMPTCP(fd uintptr) (bool, syscall.Errno) {
	switch kernelProbe() {
	case probeIsMPTCP:
		v, errno := getsockoptInt(fd, unix.SOL_TCP, optTCPIsMPTCP)
		return v == 1, errno
	case probeInfo:
		var optlen uint32
		errno := getsockopt(fd, solMPTCP, optMPTCPInfo, nil, &optlen)
		if refused(errno) {
			return false, 0
		}
		return errno == 0, errno
	default:
		v, errno := getsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
		return v == ipprotoMPTCP, errno
	}
}

// isMPTCPSocket reports whether the socket behind rc was created as an
// MPTCP socket (SO_PROTOCOL 262), whether or not it fell back since.
func isMPTCPSocket(rc syscall.RawConn) (bool, error) {
	var proto int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		proto, errno = getsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	}); err != nil {
		return false, err
	}
	if errno != 0 {
		return false, errno
	}
	return proto == ipprotoMPTCP, nil
}

// request holds everything one query needs inside RawConn.Control: the
// callback itself (bound once, so calling Control allocates nothing), the
// kernel buffers and the decoded results. Requests are pooled: the
// buffers handed to the kernel by address in MPTCP_FULL_INFO live in the
// heap, which the Go collector never moves, and stay referenced by the
// request for the whole call.
type request struct {
	fn   func(fd uintptr)
	kind int

	// Results.
	outcome
	info Info
	subs []Subflow

	// Buffers.
	head [fullInfoHdrLen + infoLen]byte // MPTCP_FULL_INFO header + mptcp_info, or MPTCP_INFO alone
	sfi  []byte                         // struct mptcp_subflow_info[] or the MPTCP_SUBFLOW_ADDRS answer
	tcpi []byte                         // struct tcp_info[] or the MPTCP_TCPINFO answer
}

var requestPool = sync.Pool{New: func() any {
	r := new(request)
	r.fn = r.run
	return r
}}

// outcome is how a request ended, short of its data.
type outcome struct {
	errno   syscall.Errno
	err     error // a decoding error: the kernel answered something unexpected
	notMPTC bool  // the connection is not MPTCP (fallen back or plain TCP)
	noInfo  bool  // the connection is MPTCP but the kernel has no SOL_MPTCP (< 5.16)
}

func getRequest(kind int) *request {
	r := requestPool.Get().(*request)
	r.kind = kind
	return r
}

func putRequest(r *request) {
	r.outcome = outcome{}
	if r.kind == reqSnapshot { // the one kind of pooled request that sets it
		r.info = Info{}
	}
	r.subs = nil // never keep a caller's slice alive from the pool
	requestPool.Put(r)
}

func (r *request) run(fd uintptr) {
	switch r.kind {
	case reqInfo:
		r.readInfo(fd)
	case reqSubflows, reqSnapshot:
		if !noFullInfo.Load() {
			r.readFullInfo(fd)
			if !r.noInfo || r.errno != 0 || r.err != nil || r.notMPTC {
				return
			}
			// The connection is MPTCP but MPTCP_FULL_INFO is unknown:
			// a 5.16 - 6.4 kernel. Remember, and use the older options.
			noFullInfo.Store(true)
			r.noInfo = false
		}
		if r.kind == reqSnapshot {
			r.readInfo(fd)
			if r.errno != 0 || r.notMPTC || r.noInfo {
				return
			}
		}
		r.readSubflowsSeparately(fd)
	}
}

// classify turns a refusal of a SOL_MPTCP option into an answer: either
// the connection is not MPTCP, or it is and the kernel lacks the option.
func (r *request) classify(fd uintptr, errno syscall.Errno) {
	if !refused(errno) {
		r.errno = errno
		return
	}
	ok, e := isMPTCP(fd)
	switch {
	case e != 0:
		r.errno = e
	case !ok:
		r.notMPTC = true
	default:
		r.noInfo = true
	}
}

func (r *request) readInfo(fd uintptr) {
	buf := r.head[:infoLen]
	optlen := uint32(len(buf))
	if errno := getsockopt(fd, solMPTCP, optMPTCPInfo, unsafe.Pointer(&buf[0]), &optlen); errno != 0 {
		r.classify(fd, errno)
		return
	}
	if optlen > uint32(len(buf)) {
		r.err = fmt.Errorf("kernel returned %d bytes of mptcp_info into a %d-byte buffer", optlen, len(buf))
		return
	}
	decodeInfoTo(&r.info, buf[:optlen])
}

// grow makes b hold n elements of size bytes.
func grow(b []byte, n, size int) []byte {
	if cap(b) < n*size {
		return make([]byte, n*size)
	}
	return b[:n*size]
}

// readFullInfo reads mptcp_info and every subflow's id, addresses and
// tcp_info in one MPTCP_FULL_INFO call (6.5+): one consistent snapshot.
func (r *request) readFullInfo(fd uintptr) {
	n := max(initialSubflows, len(r.sfi)/subflowInfoLen)
	for range maxSubflowTrials {
		r.sfi = grow(r.sfi, n, subflowInfoLen)
		r.tcpi = grow(r.tcpi, n, tcpInfoLen)
		h := r.head[:]
		clear(h)
		ne := binary.NativeEndian
		ne.PutUint32(h[4:], tcpInfoLen)
		ne.PutUint32(h[12:], subflowInfoLen)
		ne.PutUint32(h[20:], uint32(n))
		ne.PutUint64(h[24:], uint64(uintptr(unsafe.Pointer(&r.sfi[0]))))
		ne.PutUint64(h[32:], uint64(uintptr(unsafe.Pointer(&r.tcpi[0]))))
		optlen := uint32(len(h))
		errno := getsockopt(fd, solMPTCP, optMPTCPFullInfo, unsafe.Pointer(&h[0]), &optlen)
		runtime.KeepAlive(r)
		if errno != 0 {
			r.classify(fd, errno)
			return
		}
		fi, err := checkFullInfoHeader(h, optlen)
		if err != nil {
			r.err = err
			return
		}
		if int(fi.num) > n {
			if fi.num > maxSubflows {
				r.err = fmt.Errorf("kernel reports %d subflows, more than the %d this package reads", fi.num, maxSubflows)
				return
			}
			n = int(fi.num)
			continue
		}
		if r.kind == reqSnapshot {
			decodeInfoTo(&r.info, h[fullInfoHdrLen:optlen])
		}
		// One allocation at most, and each subflow decoded in place,
		// every field of it set: the slice is not zeroed first.
		r.subs = slices.Grow(r.subs, int(fi.num))
		for i := range int(fi.num) {
			r.subs = r.subs[:len(r.subs)+1]
			sf := &r.subs[len(r.subs)-1]
			if err := decodeSubflowInfoTo(sf, r.sfi[i*int(fi.sfUser):(i+1)*int(fi.sfUser)], fi.addrOff); err != nil {
				r.err = err
				return
			}
			decodeTCPInfoTo(&sf.TCP, r.tcpi[i*int(fi.tcpUser):(i+1)*int(fi.tcpUser)])
		}
		return
	}
	r.err = errSubflowsChanging
}

var errSubflowsChanging = fmt.Errorf("the set of subflows kept changing while it was read (%d tries)", maxSubflowTrials)

// readSubflowsSeparately is the 5.16 - 6.4 path: MPTCP_TCPINFO, then
// MPTCP_SUBFLOW_ADDRS. Subflows carry no ids there. The two calls are
// separate, so a subflow may come or go between them; the pair is read
// again until both report the same number.
func (r *request) readSubflowsSeparately(fd uintptr) {
	n := max(initialSubflows, len(r.sfi)/subflowAddrsLen)
	for range maxSubflowTrials {
		ti, errno := readSubflowData(fd, optMPTCPTCPInfo, &r.tcpi, n, tcpInfoLen)
		if errno != 0 {
			r.classify(fd, errno)
			return
		}
		ad, errno := readSubflowData(fd, optMPTCPSubflowAddrs, &r.sfi, n, subflowAddrsLen)
		if errno != 0 {
			r.classify(fd, errno)
			return
		}
		for _, d := range []*subflowData{&ti, &ad} {
			if d.err != nil {
				r.err = d.err
				return
			}
		}
		if ti.num != ad.num || ti.copied < ti.num || ad.copied < ad.num {
			if max(ti.num, ad.num) > maxSubflows {
				r.err = fmt.Errorf("kernel reports %d subflows, more than the %d this package reads", max(ti.num, ad.num), maxSubflows)
				return
			}
			n = max(n, int(ti.num), int(ad.num))
			continue
		}
		if ad.size < subflowAddrsLen {
			r.err = fmt.Errorf("kernel returned %d-byte subflow addresses, want %d", ad.size, subflowAddrsLen)
			return
		}
		for i := range int(ti.num) {
			a := ad.elems[i*int(ad.size):]
			var sf Subflow
			sf.Local = decodeSockaddr(a[:sockaddrLen])
			sf.Remote = decodeSockaddr(a[sockaddrLen:subflowAddrsLen])
			decodeTCPInfoTo(&sf.TCP, ti.elems[i*int(ti.size):(i+1)*int(ti.size)])
			r.subs = append(r.subs, sf)
		}
		return
	}
	r.err = errSubflowsChanging
}

// subflowData is a decoded MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS answer.
type subflowData struct {
	num    uint32 // subflows that exist, copied or not
	copied uint32 // elements that fitted in the buffer
	size   uint32 // bytes per element as written
	elems  []byte // the copied elements
	err    error
}

// readSubflowData issues one MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS call
// with room for n elements of size bytes after the 16-byte header.
func readSubflowData(fd uintptr, name int, buf *[]byte, n, size int) (subflowData, syscall.Errno) {
	*buf = grow(*buf, 1, subflowDataLen+n*size)
	b := *buf
	clear(b[:subflowDataLen])
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], subflowDataLen)
	ne.PutUint32(b[12:], uint32(size))
	optlen := uint32(len(b))
	if errno := getsockopt(fd, solMPTCP, name, unsafe.Pointer(&b[0]), &optlen); errno != 0 {
		return subflowData{}, errno
	}
	return decodeSubflowData(b, optlen, uint32(size)), 0
}

// decodeSubflowData checks and splits an MPTCP_TCPINFO or
// MPTCP_SUBFLOW_ADDRS answer: buf is the whole buffer handed to the
// kernel, optlen what the kernel wrote back, asked the element size the
// caller reserved.
func decodeSubflowData(buf []byte, optlen, asked uint32) subflowData {
	if len(buf) < subflowDataLen || optlen < subflowDataLen || optlen > uint32(len(buf)) {
		return subflowData{err: fmt.Errorf("kernel returned %d bytes of subflow data into a %d-byte buffer", optlen, len(buf))}
	}
	ne := binary.NativeEndian
	d := subflowData{num: ne.Uint32(buf[4:]), size: ne.Uint32(buf[12:])}
	if d.size == 0 || d.size > asked {
		return subflowData{err: fmt.Errorf("kernel returned %d-byte subflow elements, asked for %d", d.size, asked)}
	}
	d.copied = min(d.num, (optlen-subflowDataLen)/d.size)
	d.elems = buf[subflowDataLen : subflowDataLen+d.copied*d.size]
	return d
}

// fullInfoHeader is the header of an MPTCP_FULL_INFO answer, without the
// mptcp_info: small enough to return without copying much.
type fullInfoHeader struct {
	num     uint32 // subflows that exist, copied or not
	tcpUser uint32 // bytes per tcp_info element as written
	sfUser  uint32 // bytes per mptcp_subflow_info element as written
	addrOff int    // where the addresses start inside a mptcp_subflow_info
}

// checkFullInfoHeader checks the header of an MPTCP_FULL_INFO answer: h
// is the header followed by room for mptcp_info, optlen what the kernel
// wrote back. The element layout comes from the sizes the kernel
// reports, never from GOARCH: a 32-bit process on a 64-bit kernel gets
// the 64-bit layout. The mptcp_info after the header is not decoded
// here: only Snapshot wants it.
func checkFullInfoHeader(h []byte, optlen uint32) (fullInfoHeader, error) {
	if len(h) < fullInfoHdrLen || optlen < fullInfoHdrLen || optlen > uint32(len(h)) {
		return fullInfoHeader{}, fmt.Errorf("kernel returned %d bytes of mptcp_full_info into a %d-byte buffer", optlen, len(h))
	}
	ne := binary.NativeEndian
	fi := fullInfoHeader{
		tcpUser: ne.Uint32(h[4:]),
		sfUser:  ne.Uint32(h[12:]),
		num:     ne.Uint32(h[16:]),
	}
	sfKernel := ne.Uint32(h[8:])
	switch {
	case fi.tcpUser == 0 || fi.tcpUser > tcpInfoLen:
		return fullInfoHeader{}, fmt.Errorf("kernel returned %d-byte tcp_info elements, asked for %d", fi.tcpUser, tcpInfoLen)
	case fi.sfUser > subflowInfoLen:
		return fullInfoHeader{}, fmt.Errorf("kernel returned %d-byte subflow elements, asked for %d", fi.sfUser, subflowInfoLen)
	case sfKernel < 4+subflowAddrsLen || sfKernel > fi.sfUser:
		return fullInfoHeader{}, fmt.Errorf("kernel mptcp_subflow_info is %d bytes (%d copied): addresses do not fit", sfKernel, fi.sfUser)
	}
	fi.addrOff = int(sfKernel - subflowAddrsLen)
	return fi, nil
}

// decodeSubflowInfoTo decodes one struct mptcp_subflow_info into *sf,
// whatever *sf held: the id, then the local and remote sockaddr_storage
// at addrOff. It leaves sf.TCP alone.
func decodeSubflowInfoTo(sf *Subflow, b []byte, addrOff int) error {
	if addrOff < 4 || addrOff > len(b)-subflowAddrsLen {
		return fmt.Errorf("%d-byte mptcp_subflow_info too short for addresses at offset %d", len(b), addrOff)
	}
	sf.ID = binary.NativeEndian.Uint32(b)
	sf.Local = decodeSockaddr(b[addrOff : addrOff+sockaddrLen])
	sf.Remote = decodeSockaddr(b[addrOff+sockaddrLen : addrOff+subflowAddrsLen])
	return nil
}

// decodeSockaddr decodes a sockaddr_in or sockaddr_in6. IPv4-mapped IPv6
// addresses (a dual-stack socket talking IPv4) are reported as IPv4, so
// that one peer has one spelling. Anything else is the zero AddrPort.
func decodeSockaddr(b []byte) netip.AddrPort {
	if len(b) < 2 {
		return netip.AddrPort{}
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) < 8 {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:]))
	case unix.AF_INET6:
		if len(b) < 28 {
			return netip.AddrPort{}
		}
		a := netip.AddrFrom16([16]byte(b[8:24])).Unmap()
		if scope := binary.NativeEndian.Uint32(b[24:]); scope != 0 && a.Is6() {
			a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
		}
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[2:]))
	}
	return netip.AddrPort{}
}

// The decoders read every field of a kernel structure at a constant
// offset from a buffer of the whole structure's size, which spares them a
// bounds check per field: the answer's bytes up to the last group of
// fields it holds whole, then zeros, so that a field the answer lacks
// reads as zero. A field is decoded only if the answer holds it whole;
// the answer's length is what tells which kernel wrote it.

// Offsets in struct mptcp_info (<linux/mptcp.h>, see the kernel table in doc.go).
const (
	miSubflows           = 0
	miAddAddrSignal      = 1
	miAddAddrAccepted    = 2
	miSubflowsMax        = 3
	miAddAddrSignalMax   = 4
	miAddAddrAcceptedMax = 5
	miFlags              = 8
	miToken              = 12
	miWriteSeq           = 16
	miSndUna             = 24
	miRcvNxt             = 32
	miLocalAddrUsed      = 40
	miLocalAddrMax       = 41
	miCsumEnabled        = 42
	miRetransmits        = 44
	miBytesRetrans       = 48
	miBytesSent          = 56
	miBytesReceived      = 64
	miBytesAcked         = 72
	miSubflowsTotal      = 80
	miLastDataSent       = 84
	miLastDataRecv       = 88
	miLastAckRecv        = 92
)

// infoGroupEnds[i] is where the fields of InfoField 1<<i end: a kernel
// that returns that many bytes has them all.
var infoGroupEnds = [...]int{40, 42, 43, 80, 81, 96}

// wholeGroups returns the length of the whole groups within n bytes,
// and the set of them (bit i for the group that ends at ends[i]). Bytes
// past the last whole group are padding (a 48-byte answer pads after
// byte 43) or a truncated answer: neither is decoded. The set is built
// in a register and stored once by the caller: the decoders write into
// memory the system call has just pushed out of the cache.
func wholeGroups(n int, ends []int) (cut int, groups uint) {
	for i, end := range ends {
		if n >= end {
			cut = end
			groups |= 1 << i
		}
	}
	return cut, groups
}

// decodeInfoTo decodes struct mptcp_info from the bytes the kernel wrote
// into *in, whatever *in held: it sets every field, and copies no whole
// Info. A shorter answer comes from an older kernel: the fields it lacks
// are zero and left out of Info.Fields. Bytes past the known structure
// are ignored.
func decodeInfoTo(in *Info, b []byte) {
	n, groups := wholeGroups(len(b), infoGroupEnds[:])
	in.fields = InfoField(groups)
	var a *[infoLen]byte
	if len(b) >= infoLen {
		// A whole answer, every group in it: read it where it is.
		a = (*[infoLen]byte)(b)
	} else {
		var buf [infoLen]byte
		copy(buf[:], b[:n])
		a = &buf
	}
	ne := binary.NativeEndian
	in.Subflows = a[miSubflows]
	in.AddAddrSignal = a[miAddAddrSignal]
	in.AddAddrAccepted = a[miAddAddrAccepted]
	in.SubflowsMax = a[miSubflowsMax]
	in.AddAddrSignalMax = a[miAddAddrSignalMax]
	in.AddAddrAcceptedMax = a[miAddAddrAcceptedMax]
	in.Flags = InfoFlags(ne.Uint32(a[miFlags:]))
	in.Token = ne.Uint32(a[miToken:])
	in.WriteSeq = ne.Uint64(a[miWriteSeq:])
	in.SndUna = ne.Uint64(a[miSndUna:])
	in.RcvNxt = ne.Uint64(a[miRcvNxt:])
	in.LocalAddrUsed = a[miLocalAddrUsed]
	in.LocalAddrMax = a[miLocalAddrMax]
	in.ChecksumEnabled = a[miCsumEnabled] != 0
	in.Retransmits = ne.Uint32(a[miRetransmits:])
	in.BytesRetrans = ne.Uint64(a[miBytesRetrans:])
	in.BytesSent = ne.Uint64(a[miBytesSent:])
	in.BytesReceived = ne.Uint64(a[miBytesReceived:])
	in.BytesAcked = ne.Uint64(a[miBytesAcked:])
	in.SubflowsTotal = a[miSubflowsTotal]
	// 6.8 and 6.9 pad the structure to 88 bytes on 64-bit kernels: the
	// cut above keeps bytes 84 to 88 from being read as last_data_sent.
	in.LastDataSent = millis(ne.Uint32(a[miLastDataSent:]))
	in.LastDataRecv = millis(ne.Uint32(a[miLastDataRecv:]))
	in.LastAckRecv = millis(ne.Uint32(a[miLastAckRecv:]))
}

// Offsets in struct tcp_info (<linux/tcp.h>; the same layout as
// unix.TCPInfo).
const (
	tcpiState            = 0
	tcpiCAState          = 1
	tcpiRetransmits      = 2
	tcpiProbes           = 3
	tcpiBackoff          = 4
	tcpiOptions          = 5
	tcpiWScale           = 6
	tcpiRTO              = 8
	tcpiATO              = 12
	tcpiSndMSS           = 16
	tcpiRcvMSS           = 20
	tcpiUnacked          = 24
	tcpiSacked           = 28
	tcpiLost             = 32
	tcpiRetrans          = 36
	tcpiLastDataSent     = 44
	tcpiLastDataRecv     = 52
	tcpiLastAckRecv      = 56
	tcpiPMTU             = 60
	tcpiRcvSsthresh      = 64
	tcpiRTT              = 68
	tcpiRTTVar           = 72
	tcpiSndSsthresh      = 76
	tcpiSndCwnd          = 80
	tcpiAdvMSS           = 84
	tcpiReordering       = 88
	tcpiRcvRTT           = 92
	tcpiRcvSpace         = 96
	tcpiTotalRetrans     = 100
	tcpiPacingRate       = 104
	tcpiMaxPacingRate    = 112
	tcpiBytesAcked       = 120
	tcpiBytesReceived    = 128
	tcpiSegsOut          = 136
	tcpiSegsIn           = 140
	tcpiNotSentBytes     = 144
	tcpiMinRTT           = 148
	tcpiDataSegsIn       = 152
	tcpiDataSegsOut      = 156
	tcpiDeliveryRate     = 160
	tcpiBusyTime         = 168
	tcpiRwndLimited      = 176
	tcpiSndbufLimited    = 184
	tcpiDelivered        = 192
	tcpiDeliveredCE      = 196
	tcpiBytesSent        = 200
	tcpiBytesRetrans     = 208
	tcpiDSACKDups        = 216
	tcpiReordSeen        = 220
	tcpiRcvOOOPack       = 224
	tcpiSndWnd           = 228
	tcpiRcvWnd           = 232
	tcpiRehash           = 236
	tcpiTotalRTO         = 240
	tcpiTotalRTORecovery = 242
	tcpiTotalRTOTime     = 244
	tcpiReceivedCE       = 248
	tcpiDeliveredE1Bytes = 252
	tcpiDeliveredE0Bytes = 256
	tcpiDeliveredCEBytes = 260
	tcpiReceivedE1Bytes  = 264
	tcpiReceivedE0Bytes  = 268
	tcpiReceivedCEBytes  = 272
)

// tcpInfoGroupEnds[i] is where the fields of TCPInfoField 1<<i end.
var tcpInfoGroupEnds = [...]int{232, 240, 248, 276}

// decodeTCPInfoTo decodes struct tcp_info from the bytes the kernel
// wrote for one subflow (232 bytes on 5.4 - 6.1, 240 on 6.2 - 6.6, 248 on
// 6.7 - 6.17, 280 on 6.18) into *t, whatever *t held: it sets every
// field, and copies no whole TCPInfo.
func decodeTCPInfoTo(t *TCPInfo, b []byte) {
	n, groups := wholeGroups(len(b), tcpInfoGroupEnds[:])
	t.fields = TCPInfoField(groups)
	var a *[tcpInfoLen]byte
	if len(b) >= tcpInfoLen {
		// A whole answer, every group in it: read it where it is.
		a = (*[tcpInfoLen]byte)(b)
	} else {
		var buf [tcpInfoLen]byte
		copy(buf[:], b[:n])
		a = &buf
	}
	ne := binary.NativeEndian
	t.State = TCPState(a[tcpiState])
	t.CAState = a[tcpiCAState]
	t.Retransmits = a[tcpiRetransmits]
	t.Probes = a[tcpiProbes]
	t.Backoff = a[tcpiBackoff]
	t.Options = a[tcpiOptions]
	ws := a[tcpiWScale]
	t.SndWScale, t.RcvWScale = ws&0x0f, ws>>4
	t.RTO = micros(ne.Uint32(a[tcpiRTO:]))
	t.ATO = micros(ne.Uint32(a[tcpiATO:]))
	t.SndMSS = ne.Uint32(a[tcpiSndMSS:])
	t.RcvMSS = ne.Uint32(a[tcpiRcvMSS:])
	t.Unacked = ne.Uint32(a[tcpiUnacked:])
	t.Sacked = ne.Uint32(a[tcpiSacked:])
	t.Lost = ne.Uint32(a[tcpiLost:])
	t.Retrans = ne.Uint32(a[tcpiRetrans:])
	t.LastDataSent = millis(ne.Uint32(a[tcpiLastDataSent:]))
	t.LastDataRecv = millis(ne.Uint32(a[tcpiLastDataRecv:]))
	t.LastAckRecv = millis(ne.Uint32(a[tcpiLastAckRecv:]))
	t.PMTU = ne.Uint32(a[tcpiPMTU:])
	t.RcvSsthresh = ne.Uint32(a[tcpiRcvSsthresh:])
	t.RTT = micros(ne.Uint32(a[tcpiRTT:]))
	t.RTTVar = micros(ne.Uint32(a[tcpiRTTVar:]))
	t.SndSsthresh = ne.Uint32(a[tcpiSndSsthresh:])
	t.SndCwnd = ne.Uint32(a[tcpiSndCwnd:])
	t.AdvMSS = ne.Uint32(a[tcpiAdvMSS:])
	t.Reordering = ne.Uint32(a[tcpiReordering:])
	t.RcvRTT = micros(ne.Uint32(a[tcpiRcvRTT:]))
	t.RcvSpace = ne.Uint32(a[tcpiRcvSpace:])
	t.TotalRetrans = ne.Uint32(a[tcpiTotalRetrans:])
	t.PacingRate = ne.Uint64(a[tcpiPacingRate:])
	t.MaxPacingRate = ne.Uint64(a[tcpiMaxPacingRate:])
	t.BytesAcked = ne.Uint64(a[tcpiBytesAcked:])
	t.BytesReceived = ne.Uint64(a[tcpiBytesReceived:])
	t.SegsOut = ne.Uint32(a[tcpiSegsOut:])
	t.SegsIn = ne.Uint32(a[tcpiSegsIn:])
	t.NotSentBytes = ne.Uint32(a[tcpiNotSentBytes:])
	t.MinRTT = micros(ne.Uint32(a[tcpiMinRTT:]))
	t.DataSegsIn = ne.Uint32(a[tcpiDataSegsIn:])
	t.DataSegsOut = ne.Uint32(a[tcpiDataSegsOut:])
	t.DeliveryRate = ne.Uint64(a[tcpiDeliveryRate:])
	t.BusyTime = microsLong(ne.Uint64(a[tcpiBusyTime:]))
	t.RwndLimited = microsLong(ne.Uint64(a[tcpiRwndLimited:]))
	t.SndbufLimited = microsLong(ne.Uint64(a[tcpiSndbufLimited:]))
	t.Delivered = ne.Uint32(a[tcpiDelivered:])
	t.DeliveredCE = ne.Uint32(a[tcpiDeliveredCE:])
	t.BytesSent = ne.Uint64(a[tcpiBytesSent:])
	t.BytesRetrans = ne.Uint64(a[tcpiBytesRetrans:])
	t.DSACKDups = ne.Uint32(a[tcpiDSACKDups:])
	t.ReordSeen = ne.Uint32(a[tcpiReordSeen:])
	t.RcvOOOPack = ne.Uint32(a[tcpiRcvOOOPack:])
	t.SndWnd = ne.Uint32(a[tcpiSndWnd:])
	t.RcvWnd = ne.Uint32(a[tcpiRcvWnd:])
	t.Rehash = ne.Uint32(a[tcpiRehash:])
	t.TotalRTO = ne.Uint16(a[tcpiTotalRTO:])
	t.TotalRTORecoveries = ne.Uint16(a[tcpiTotalRTORecovery:])
	t.TotalRTOTime = millis(ne.Uint32(a[tcpiTotalRTOTime:]))
	t.ReceivedCE = ne.Uint32(a[tcpiReceivedCE:])
	t.DeliveredE1Bytes = ne.Uint32(a[tcpiDeliveredE1Bytes:])
	t.DeliveredE0Bytes = ne.Uint32(a[tcpiDeliveredE0Bytes:])
	t.DeliveredCEBytes = ne.Uint32(a[tcpiDeliveredCEBytes:])
	t.ReceivedE1Bytes = ne.Uint32(a[tcpiReceivedE1Bytes:])
	t.ReceivedE0Bytes = ne.Uint32(a[tcpiReceivedE0Bytes:])
	t.ReceivedCEBytes = ne.Uint32(a[tcpiReceivedCEBytes:])
}

func micros(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
func millis(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }
func microsLong(v uint64) time.Duration {
	return time.Duration(min(v, uint64(1<<63-1)/1000)) * time.Microsecond
}
