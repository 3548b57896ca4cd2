package mptcp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
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
	errno   syscall.Errno
	err     error // a decoding error: the kernel answered something unexpected
	notMPTC bool  // the connection is not MPTCP (fallen back or plain TCP)
	noInfo  bool  // the connection is MPTCP but the kernel has no SOL_MPTCP (< 5.16)
	info    Info
	subs    []Subflow

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

func getRequest(kind int) *request {
	r := requestPool.Get().(*request)
	r.kind = kind
	return r
}

func putRequest(r *request) {
	r.errno, r.err, r.notMPTC, r.noInfo = 0, nil, false, false
	r.info = Info{}
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
	r.info = decodeInfo(buf[:optlen])
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
		fi, err := decodeFullInfoHeader(h, optlen)
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
		r.info = fi.info
		for i := range int(fi.num) {
			sf, err := decodeSubflowInfo(r.sfi[i*int(fi.sfUser):(i+1)*int(fi.sfUser)], fi.addrOff)
			if err != nil {
				r.err = err
				return
			}
			sf.TCP = decodeTCPInfo(r.tcpi[i*int(fi.tcpUser) : (i+1)*int(fi.tcpUser)])
			r.subs = append(r.subs, sf)
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
			sf.TCP = decodeTCPInfo(ti.elems[i*int(ti.size) : (i+1)*int(ti.size)])
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

// fullInfo is a decoded MPTCP_FULL_INFO header.
type fullInfo struct {
	num     uint32 // subflows that exist, copied or not
	tcpUser uint32 // bytes per tcp_info element as written
	sfUser  uint32 // bytes per mptcp_subflow_info element as written
	addrOff int    // where the addresses start inside a mptcp_subflow_info
	info    Info
}

// decodeFullInfoHeader checks an MPTCP_FULL_INFO answer: h is the
// header followed by room for mptcp_info, optlen what the kernel wrote
// back. The element layout comes from the sizes the kernel reports, never
// from GOARCH: a 32-bit process on a 64-bit kernel gets the 64-bit layout.
func decodeFullInfoHeader(h []byte, optlen uint32) (fullInfo, error) {
	if len(h) < fullInfoHdrLen || optlen < fullInfoHdrLen || optlen > uint32(len(h)) {
		return fullInfo{}, fmt.Errorf("kernel returned %d bytes of mptcp_full_info into a %d-byte buffer", optlen, len(h))
	}
	ne := binary.NativeEndian
	fi := fullInfo{
		tcpUser: ne.Uint32(h[4:]),
		sfUser:  ne.Uint32(h[12:]),
		num:     ne.Uint32(h[16:]),
	}
	sfKernel := ne.Uint32(h[8:])
	switch {
	case fi.tcpUser == 0 || fi.tcpUser > tcpInfoLen:
		return fullInfo{}, fmt.Errorf("kernel returned %d-byte tcp_info elements, asked for %d", fi.tcpUser, tcpInfoLen)
	case fi.sfUser > subflowInfoLen:
		return fullInfo{}, fmt.Errorf("kernel returned %d-byte subflow elements, asked for %d", fi.sfUser, subflowInfoLen)
	case sfKernel < 4+subflowAddrsLen || sfKernel > fi.sfUser:
		return fullInfo{}, fmt.Errorf("kernel mptcp_subflow_info is %d bytes (%d copied): addresses do not fit", sfKernel, fi.sfUser)
	}
	fi.addrOff = int(sfKernel - subflowAddrsLen)
	fi.info = decodeInfo(h[fullInfoHdrLen:optlen])
	return fi, nil
}

// decodeSubflowInfo decodes one struct mptcp_subflow_info: id, then the
// local and remote sockaddr_storage at addrOff.
func decodeSubflowInfo(b []byte, addrOff int) (Subflow, error) {
	if addrOff < 4 || addrOff > len(b)-subflowAddrsLen {
		return Subflow{}, fmt.Errorf("%d-byte mptcp_subflow_info too short for addresses at offset %d", len(b), addrOff)
	}
	return Subflow{
		ID:     binary.NativeEndian.Uint32(b),
		Local:  decodeSockaddr(b[addrOff : addrOff+sockaddrLen]),
		Remote: decodeSockaddr(b[addrOff+sockaddrLen : addrOff+subflowAddrsLen]),
	}, nil
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

// field describes one fixed-width kernel field: where it is and how many
// bytes it takes. A field is decoded only if the kernel's answer holds it
// whole; the answer's length is what tells which kernel wrote it.
type field struct{ off, size int }

func (f field) in(b []byte) bool { return len(b) >= f.off+f.size }

func (f field) u8(b []byte) uint8 {
	if !f.in(b) {
		return 0
	}
	return b[f.off]
}

func (f field) u16(b []byte) uint16 {
	if !f.in(b) {
		return 0
	}
	return binary.NativeEndian.Uint16(b[f.off:])
}

func (f field) u32(b []byte) uint32 {
	if !f.in(b) {
		return 0
	}
	return binary.NativeEndian.Uint32(b[f.off:])
}

func (f field) u64(b []byte) uint64 {
	if !f.in(b) {
		return 0
	}
	return binary.NativeEndian.Uint64(b[f.off:])
}

// Offsets in struct mptcp_info (<linux/mptcp.h>, see the kernel table in doc.go).
var (
	miSubflows           = field{0, 1}
	miAddAddrSignal      = field{1, 1}
	miAddAddrAccepted    = field{2, 1}
	miSubflowsMax        = field{3, 1}
	miAddAddrSignalMax   = field{4, 1}
	miAddAddrAcceptedMax = field{5, 1}
	miFlags              = field{8, 4}
	miToken              = field{12, 4}
	miWriteSeq           = field{16, 8}
	miSndUna             = field{24, 8}
	miRcvNxt             = field{32, 8}
	miLocalAddrUsed      = field{40, 1}
	miLocalAddrMax       = field{41, 1}
	miCsumEnabled        = field{42, 1}
	miRetransmits        = field{44, 4}
	miBytesRetrans       = field{48, 8}
	miBytesSent          = field{56, 8}
	miBytesReceived      = field{64, 8}
	miBytesAcked         = field{72, 8}
	miSubflowsTotal      = field{80, 1}
	miLastDataSent       = field{84, 4}
	miLastDataRecv       = field{88, 4}
	miLastAckRecv        = field{92, 4}
)

// infoGroupEnds[i] is where the fields of InfoField 1<<i end: a kernel
// that returns that many bytes has them all.
var infoGroupEnds = [...]int{40, 42, 43, 80, 81, 96}

// cutToGroups returns the length of the whole groups within n bytes.
// Bytes past the last whole group are padding (a 48-byte answer pads
// after byte 43) or a truncated answer: neither is decoded.
func cutToGroups(n int, ends []int) int {
	cut := 0
	for _, end := range ends {
		if n >= end {
			cut = end
		}
	}
	return cut
}

// decodeInfo decodes struct mptcp_info from the bytes the kernel wrote.
// A shorter answer comes from an older kernel: the fields it lacks stay
// zero and are left out of Info.Fields. Bytes past the known structure
// are ignored.
func decodeInfo(b []byte) Info {
	var in Info
	b = b[:cutToGroups(len(b), infoGroupEnds[:])]
	for i, end := range infoGroupEnds {
		if len(b) >= end {
			in.fields |= 1 << i
		}
	}
	in.Subflows = miSubflows.u8(b)
	in.AddAddrSignal = miAddAddrSignal.u8(b)
	in.AddAddrAccepted = miAddAddrAccepted.u8(b)
	in.SubflowsMax = miSubflowsMax.u8(b)
	in.AddAddrSignalMax = miAddAddrSignalMax.u8(b)
	in.AddAddrAcceptedMax = miAddAddrAcceptedMax.u8(b)
	in.Flags = InfoFlags(miFlags.u32(b))
	in.Token = miToken.u32(b)
	in.WriteSeq = miWriteSeq.u64(b)
	in.SndUna = miSndUna.u64(b)
	in.RcvNxt = miRcvNxt.u64(b)
	in.LocalAddrUsed = miLocalAddrUsed.u8(b)
	in.LocalAddrMax = miLocalAddrMax.u8(b)
	in.ChecksumEnabled = miCsumEnabled.u8(b) != 0
	in.Retransmits = miRetransmits.u32(b)
	in.BytesRetrans = miBytesRetrans.u64(b)
	in.BytesSent = miBytesSent.u64(b)
	in.BytesReceived = miBytesReceived.u64(b)
	in.BytesAcked = miBytesAcked.u64(b)
	in.SubflowsTotal = miSubflowsTotal.u8(b)
	// 6.8 and 6.9 pad the structure to 88 bytes on 64-bit kernels: the
	// cut above keeps bytes 84 to 88 from being read as last_data_sent.
	in.LastDataSent = millis(miLastDataSent.u32(b))
	in.LastDataRecv = millis(miLastDataRecv.u32(b))
	in.LastAckRecv = millis(miLastAckRecv.u32(b))
	return in
}

// Offsets in struct tcp_info (<linux/tcp.h>; the same layout as unix.TCPInfo).
var (
	tiState            = field{0, 1}
	tiCAState          = field{1, 1}
	tiRetransmits      = field{2, 1}
	tiProbes           = field{3, 1}
	tiBackoff          = field{4, 1}
	tiOptions          = field{5, 1}
	tiWScale           = field{6, 1}
	tiRTO              = field{8, 4}
	tiATO              = field{12, 4}
	tiSndMSS           = field{16, 4}
	tiRcvMSS           = field{20, 4}
	tiUnacked          = field{24, 4}
	tiSacked           = field{28, 4}
	tiLost             = field{32, 4}
	tiRetrans          = field{36, 4}
	tiLastDataSent     = field{44, 4}
	tiLastDataRecv     = field{52, 4}
	tiLastAckRecv      = field{56, 4}
	tiPMTU             = field{60, 4}
	tiRcvSsthresh      = field{64, 4}
	tiRTT              = field{68, 4}
	tiRTTVar           = field{72, 4}
	tiSndSsthresh      = field{76, 4}
	tiSndCwnd          = field{80, 4}
	tiAdvMSS           = field{84, 4}
	tiReordering       = field{88, 4}
	tiRcvRTT           = field{92, 4}
	tiRcvSpace         = field{96, 4}
	tiTotalRetrans     = field{100, 4}
	tiPacingRate       = field{104, 8}
	tiMaxPacingRate    = field{112, 8}
	tiBytesAcked       = field{120, 8}
	tiBytesReceived    = field{128, 8}
	tiSegsOut          = field{136, 4}
	tiSegsIn           = field{140, 4}
	tiNotSentBytes     = field{144, 4}
	tiMinRTT           = field{148, 4}
	tiDataSegsIn       = field{152, 4}
	tiDataSegsOut      = field{156, 4}
	tiDeliveryRate     = field{160, 8}
	tiBusyTime         = field{168, 8}
	tiRwndLimited      = field{176, 8}
	tiSndbufLimited    = field{184, 8}
	tiDelivered        = field{192, 4}
	tiDeliveredCE      = field{196, 4}
	tiBytesSent        = field{200, 8}
	tiBytesRetrans     = field{208, 8}
	tiDSACKDups        = field{216, 4}
	tiReordSeen        = field{220, 4}
	tiRcvOOOPack       = field{224, 4}
	tiSndWnd           = field{228, 4}
	tiRcvWnd           = field{232, 4}
	tiRehash           = field{236, 4}
	tiTotalRTO         = field{240, 2}
	tiTotalRTORecovery = field{242, 2}
	tiTotalRTOTime     = field{244, 4}
	tiReceivedCE       = field{248, 4}
	tiDeliveredE1Bytes = field{252, 4}
	tiDeliveredE0Bytes = field{256, 4}
	tiDeliveredCEBytes = field{260, 4}
	tiReceivedE1Bytes  = field{264, 4}
	tiReceivedE0Bytes  = field{268, 4}
	tiReceivedCEBytes  = field{272, 4}
)

// tcpInfoGroupEnds[i] is where the fields of TCPInfoField 1<<i end.
var tcpInfoGroupEnds = [...]int{232, 240, 248, 276}

// decodeTCPInfo decodes struct tcp_info from the bytes the kernel wrote
// for one subflow: 232 bytes on 5.4 - 6.1, 240 on 6.2 - 6.6, 248 on
// 6.7 - 6.17, 280 on 6.18.
func decodeTCPInfo(b []byte) TCPInfo {
	var t TCPInfo
	b = b[:cutToGroups(len(b), tcpInfoGroupEnds[:])]
	for i, end := range tcpInfoGroupEnds {
		if len(b) >= end {
			t.fields |= 1 << i
		}
	}
	t.State = TCPState(tiState.u8(b))
	t.CAState = tiCAState.u8(b)
	t.Retransmits = tiRetransmits.u8(b)
	t.Probes = tiProbes.u8(b)
	t.Backoff = tiBackoff.u8(b)
	t.Options = tiOptions.u8(b)
	ws := tiWScale.u8(b)
	t.SndWScale, t.RcvWScale = ws&0x0f, ws>>4
	t.RTO = micros(tiRTO.u32(b))
	t.ATO = micros(tiATO.u32(b))
	t.SndMSS = tiSndMSS.u32(b)
	t.RcvMSS = tiRcvMSS.u32(b)
	t.Unacked = tiUnacked.u32(b)
	t.Sacked = tiSacked.u32(b)
	t.Lost = tiLost.u32(b)
	t.Retrans = tiRetrans.u32(b)
	t.LastDataSent = millis(tiLastDataSent.u32(b))
	t.LastDataRecv = millis(tiLastDataRecv.u32(b))
	t.LastAckRecv = millis(tiLastAckRecv.u32(b))
	t.PMTU = tiPMTU.u32(b)
	t.RcvSsthresh = tiRcvSsthresh.u32(b)
	t.RTT = micros(tiRTT.u32(b))
	t.RTTVar = micros(tiRTTVar.u32(b))
	t.SndSsthresh = tiSndSsthresh.u32(b)
	t.SndCwnd = tiSndCwnd.u32(b)
	t.AdvMSS = tiAdvMSS.u32(b)
	t.Reordering = tiReordering.u32(b)
	t.RcvRTT = micros(tiRcvRTT.u32(b))
	t.RcvSpace = tiRcvSpace.u32(b)
	t.TotalRetrans = tiTotalRetrans.u32(b)
	t.PacingRate = tiPacingRate.u64(b)
	t.MaxPacingRate = tiMaxPacingRate.u64(b)
	t.BytesAcked = tiBytesAcked.u64(b)
	t.BytesReceived = tiBytesReceived.u64(b)
	t.SegsOut = tiSegsOut.u32(b)
	t.SegsIn = tiSegsIn.u32(b)
	t.NotSentBytes = tiNotSentBytes.u32(b)
	t.MinRTT = micros(tiMinRTT.u32(b))
	t.DataSegsIn = tiDataSegsIn.u32(b)
	t.DataSegsOut = tiDataSegsOut.u32(b)
	t.DeliveryRate = tiDeliveryRate.u64(b)
	t.BusyTime = microsLong(tiBusyTime.u64(b))
	t.RwndLimited = microsLong(tiRwndLimited.u64(b))
	t.SndbufLimited = microsLong(tiSndbufLimited.u64(b))
	t.Delivered = tiDelivered.u32(b)
	t.DeliveredCE = tiDeliveredCE.u32(b)
	t.BytesSent = tiBytesSent.u64(b)
	t.BytesRetrans = tiBytesRetrans.u64(b)
	t.DSACKDups = tiDSACKDups.u32(b)
	t.ReordSeen = tiReordSeen.u32(b)
	t.RcvOOOPack = tiRcvOOOPack.u32(b)
	t.SndWnd = tiSndWnd.u32(b)
	t.RcvWnd = tiRcvWnd.u32(b)
	t.Rehash = tiRehash.u32(b)
	t.TotalRTO = tiTotalRTO.u16(b)
	t.TotalRTORecoveries = tiTotalRTORecovery.u16(b)
	t.TotalRTOTime = millis(tiTotalRTOTime.u32(b))
	t.ReceivedCE = tiReceivedCE.u32(b)
	t.DeliveredE1Bytes = tiDeliveredE1Bytes.u32(b)
	t.DeliveredE0Bytes = tiDeliveredE0Bytes.u32(b)
	t.DeliveredCEBytes = tiDeliveredCEBytes.u32(b)
	t.ReceivedE1Bytes = tiReceivedE1Bytes.u32(b)
	t.ReceivedE0Bytes = tiReceivedE0Bytes.u32(b)
	t.ReceivedCEBytes = tiReceivedCEBytes.u32(b)
	return t
}

func micros(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
func millis(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }
func microsLong(v uint64) time.Duration {
	return time.Duration(min(v, uint64(1<<63-1)/1000)) * time.Microsecond
}
