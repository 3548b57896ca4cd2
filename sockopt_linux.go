package mptcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The getsockopt readers, for kernels with SOL_MPTCP (5.16+): the tests
// of "is this socket MPTCP now?", MPTCP_INFO, and the two ways to read
// subflows, MPTCP_FULL_INFO (6.5+) and MPTCP_TCPINFO with
// MPTCP_SUBFLOW_ADDRS (5.16 - 6.4). On these kernels a SOL_MPTCP option
// refused on a socket means the socket is not MPTCP (it fell back, or is
// plain TCP): the refusal is ErrNotMPTCP, with no further question.

// Limits of the subflow reads.
const (
	initialSubflows  = 4   // room reserved on the first call; grown on demand
	maxSubflows      = 256 // refuse to grow beyond this: no kernel allows so many
	maxSubflowTrials = 4   // re-reads when the subflow set changes under us
)

// errSubflowsChanging is returned when subflows came and went at every
// one of maxSubflowTrials reads.
var errSubflowsChanging = fmt.Errorf("mptcp: the set of subflows kept changing while it was read (%d tries)", maxSubflowTrials)

func errTooManySubflows(n uint32) error {
	return fmt.Errorf("mptcp: kernel reports %d subflows, more than the %d this package reads", n, maxSubflows)
}

// intOption reads an int option of the request's socket.
func intOption(r *request, level, name int) (int32, syscall.Errno) {
	r.v, r.optlen = 0, 4
	errno := r.k.getsockopt(r.fd, level, name, unsafe.Pointer(&r.v), &r.optlen)
	return r.v, errno
}

// sockoptRefusal turns the refusal of a SOL_MPTCP option into
// ErrNotMPTCP; any other errno stays what it is.
func sockoptRefusal(errno syscall.Errno) error {
	if refused(errno) {
		return ErrNotMPTCP
	}
	return errno
}

// tcpIsMPTCP asks TCP_IS_MPTCP (6.10+), which every TCP and MPTCP socket
// answers, fallen back or not.
func tcpIsMPTCP(r *request) (bool, error) {
	v, errno := intOption(r, unix.SOL_TCP, optTCPIsMPTCP)
	if errno != 0 {
		return false, errno
	}
	return v == 1, nil
}

// infoProbe asks MPTCP_INFO for no bytes: an MPTCP socket answers on
// 5.16+, a fallen-back or TCP socket refuses, and so does every socket of
// an older kernel.
func infoProbe(r *request, fd uintptr) (bool, error) {
	r.optlen = 0
	switch errno := r.k.getsockopt(fd, solMPTCP, optMPTCPInfo, nil, &r.optlen); {
	case errno == 0:
		return true, nil
	case refused(errno):
		return false, nil
	default:
		return false, errno
	}
}

// fullInfoProbe asks MPTCP_FULL_INFO for no bytes, on an MPTCP socket of
// a kernel with SOL_MPTCP: 6.5+ refuses the length (EINVAL, it needs its
// 40-byte header), older kernels the option.
func fullInfoProbe(r *request, fd uintptr) (bool, error) {
	r.optlen = 0
	switch errno := r.k.getsockopt(fd, solMPTCP, optMPTCPFullInfo, nil, &r.optlen); {
	case errno == unix.EINVAL, errno == 0:
		return true, nil
	case refused(errno):
		return false, nil
	default:
		return false, errno
	}
}

// protocolIsMPTCP answers from SO_PROTOCOL alone: a socket created as TCP
// is not MPTCP; one created as MPTCP may have fallen back since, which
// the protocol cannot show.
func protocolIsMPTCP(r *request) (bool, error) {
	proto, errno := intOption(r, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if errno != 0 {
		return false, errno
	}
	return proto == ipprotoMPTCP, nil
}

// noReader is the answer of MPTCPInfo and Subflows on a kernel that has
// MPTCP sockets but no way to describe them (5.6 - 5.8, or a 5.9 - 5.15
// kernel without mptcp_diag).
func noReader(r *request) error {
	switch ok, err := protocolIsMPTCP(r); {
	case err != nil:
		return err
	case !ok:
		return ErrNotMPTCP
	}
	return errNoDiag
}

// readInfo reads struct mptcp_info into *in (MPTCP_INFO, 5.16+).
func readInfo(r *request, in *Info) error {
	buf := r.head[:infoLen]
	r.optlen = infoLen
	if errno := r.k.getsockopt(r.fd, solMPTCP, optMPTCPInfo, unsafe.Pointer(&buf[0]), &r.optlen); errno != 0 {
		return sockoptRefusal(errno)
	}
	if r.optlen > infoLen {
		return fmt.Errorf("mptcp: kernel returned %d bytes of mptcp_info into a %d-byte buffer", r.optlen, infoLen)
	}
	decodeInfoTo(in, buf[:r.optlen])
	return nil
}

// readFullInfo reads mptcp_info and every subflow's id, addresses and
// tcp_info in one MPTCP_FULL_INFO call (6.5+): one consistent snapshot.
func readFullInfo(r *request, dst []Subflow, in *Info) ([]Subflow, error) {
	if r.arrays == nil {
		r.arrays = new(kernelArrays)
		runtime.AddCleanup(r, (*kernelArrays).free, r.arrays)
	}
	n := max(initialSubflows, r.arrays.room())
	for range maxSubflowTrials {
		sfi, tcpi, err := r.arrays.grow(n)
		if err != nil {
			return dst, err
		}
		h := r.head[:]
		clear(h)
		ne := binary.NativeEndian
		ne.PutUint32(h[fiSizeTCPInfoUser:], tcpInfoLen)
		ne.PutUint32(h[fiSizeSfInfoUser:], subflowInfoLen)
		ne.PutUint32(h[fiSizeArraysUser:], uint32(n))
		ne.PutUint64(h[fiSubflowInfo:], uint64(uintptr(unsafe.Pointer(&sfi[0]))))
		ne.PutUint64(h[fiTCPInfo:], uint64(uintptr(unsafe.Pointer(&tcpi[0]))))
		r.optlen = uint32(len(h))
		if errno := r.k.getsockopt(r.fd, solMPTCP, optMPTCPFullInfo, unsafe.Pointer(&h[0]), &r.optlen); errno != 0 {
			return dst, sockoptRefusal(errno)
		}
		fi, err := checkFullInfoHeader(h, r.optlen)
		if err != nil {
			return dst, err
		}
		if int(fi.num) > n {
			if fi.num > maxSubflows {
				return dst, errTooManySubflows(fi.num)
			}
			n = int(fi.num)
			continue
		}
		if in != nil {
			decodeInfoTo(in, h[fullInfoHdrLen:r.optlen])
		}
		if fi.num == 0 {
			return dst, nil
		}
		sfUser, tcpUser := int(fi.sfUser), int(fi.tcpUser)
		addrOff := subflowAddrOffset(fi.sfKernel, sfi[:sfUser])
		// One allocation at most, and each subflow decoded in place,
		// every field of it set: the slice is not zeroed first.
		subs := slices.Grow(dst, int(fi.num))
		for i := range int(fi.num) {
			subs = subs[:len(subs)+1]
			sf := &subs[len(subs)-1]
			if err := decodeSubflowInfoTo(sf, sfi[i*sfUser:(i+1)*sfUser], addrOff); err != nil {
				return dst, err
			}
			decodeTCPInfoTo(&sf.TCP, tcpi[i*tcpUser:(i+1)*tcpUser])
		}
		return subs, nil
	}
	return dst, errSubflowsChanging
}

// readSplit is the 5.16 - 6.4 reader of subflows, which carry no ids:
// MPTCP_INFO when in is not nil, then MPTCP_SUBFLOW_ADDRS, MPTCP_TCPINFO
// and MPTCP_SUBFLOW_ADDRS again. The calls are separate, so a subflow may
// come or go between them, and pair one subflow's statistics with
// another's addresses: the statistics are kept only when both address
// lists are the same, byte for byte, and all three answers count the
// same subflows; otherwise all three are read again.
func readSplit(r *request, dst []Subflow, in *Info) ([]Subflow, error) {
	if in != nil {
		if err := readInfo(r, in); err != nil {
			return dst, err
		}
	}
	n := initialSubflows
	for range maxSubflowTrials {
		before, err := readSubflowData(r, optMPTCPSubflowAddrs, &r.sfi, n, subflowAddrsLen)
		if err != nil {
			return dst, err
		}
		stats, err := readSubflowData(r, optMPTCPTCPInfo, &r.tcpi, n, tcpInfoLen)
		if err != nil {
			return dst, err
		}
		after, err := readSubflowData(r, optMPTCPSubflowAddrs, &r.addrs, n, subflowAddrsLen)
		if err != nil {
			return dst, err
		}
		if most := max(before.num, stats.num, after.num); int(most) > n {
			if most > maxSubflows {
				return dst, errTooManySubflows(most)
			}
			n = int(most)
			continue
		}
		if before.num != stats.num || after.num != stats.num || !bytes.Equal(before.elems, after.elems) {
			continue
		}
		if before.size < subflowAddrsLen {
			return dst, fmt.Errorf("mptcp: kernel returned %d-byte subflow addresses, want %d", before.size, subflowAddrsLen)
		}
		subs := slices.Grow(dst, int(stats.num))
		for i := range int(stats.num) {
			a := before.elems[i*int(before.size):]
			subs = subs[:len(subs)+1]
			sf := &subs[len(subs)-1]
			sf.ID = 0
			sf.Local = decodeSockaddr(a[:sockaddrLen])
			sf.Remote = decodeSockaddr(a[sockaddrLen:subflowAddrsLen])
			decodeTCPInfoTo(&sf.TCP, stats.elems[i*int(stats.size):(i+1)*int(stats.size)])
		}
		return subs, nil
	}
	return dst, errSubflowsChanging
}

// readSubflowData issues one MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS call
// into *buf, with room for n elements of size bytes after the header.
func readSubflowData(r *request, name int, buf *[]byte, n, size int) (subflowData, error) {
	*buf = grow(*buf, 1, subflowDataLen+n*size)
	b := *buf
	clear(b[:subflowDataLen])
	ne := binary.NativeEndian
	ne.PutUint32(b[sdSizeSubflowData:], subflowDataLen)
	ne.PutUint32(b[sdSizeUser:], uint32(size))
	r.optlen = uint32(len(b))
	if errno := r.k.getsockopt(r.fd, solMPTCP, name, unsafe.Pointer(&b[0]), &r.optlen); errno != 0 {
		return subflowData{}, sockoptRefusal(errno)
	}
	d := decodeSubflowData(b, r.optlen, uint32(size))
	return d, d.err
}

// isMPTCPSocket reports whether the socket behind rc was created as an
// MPTCP socket (SO_PROTOCOL 262), whether or not it fell back since.
func isMPTCPSocket(rc syscall.RawConn) (bool, error) {
	var proto int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		proto, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	}); err != nil {
		return false, err
	}
	return proto == ipprotoMPTCP, serr
}
