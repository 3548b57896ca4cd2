package mptcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits of the subflow requests.
const (
	initialSubflows  = 4   // room reserved on the first call; grown on demand
	maxSubflows      = 256 // refuse to grow beyond this: no kernel allows so many
	maxSubflowTrials = 4   // re-reads when the subflow set changes under us
)

// errKernelTooOld is returned for a connection that is MPTCP on a kernel
// that cannot describe it (before 5.16, where SOL_MPTCP does not exist).
var errKernelTooOld = &wrapErr{"mptcp: the kernel reports no MPTCP state before Linux 5.16", errors.ErrUnsupported}

// errSubflowsChanging is returned when subflows came and went at every
// one of maxSubflowTrials reads.
var errSubflowsChanging = fmt.Errorf("mptcp: the set of subflows kept changing while it was read (%d tries)", maxSubflowTrials)

// request is one query of one socket: the descriptor, the kernel that
// answers for it and what is known of that kernel, and the buffers the
// kernel writes into. Requests are reused, so that their buffers are not
// on a caller's stack: handing a buffer to the kernel seam (an interface,
// which the compiler must assume keeps what it is given) would move it to
// the heap, an allocation at every call.
type request struct {
	k    kernel
	st   *kernelState
	fd   uintptr
	slot uint8 // 1 + the request's index in requests, or 0
	// token caches the connection's token for the sock_diag path
	// (5.9 - 5.15); nil where there is no connection to cache it in.
	token *atomic.Uint32

	v      int32 // an int option's value
	optlen uint32

	head   [fullInfoHdrLen + infoLen]byte // MPTCP_FULL_INFO header + mptcp_info, or MPTCP_INFO alone
	arrays *kernelArrays                  // MPTCP_FULL_INFO's arrays
	sfi    []byte                         // the first MPTCP_SUBFLOW_ADDRS answer
	tcpi   []byte                         // the MPTCP_TCPINFO answer
	addrs  []byte                         // the second MPTCP_SUBFLOW_ADDRS answer
}

// kernelArrays holds the arrays MPTCP_FULL_INFO writes at addresses it
// finds inside its argument, where the garbage collector sees integers,
// not pointers. They live outside the Go heap, in an anonymous mapping
// that the collector neither moves nor frees, so that storing their
// addresses breaks no rule of package unsafe. (Pinning heap arrays with
// runtime.Pinner for each call would too, but costs about 200 ns a call,
// a third of the system call itself.) The mapping is unmapped when its
// request is collected, or replaced by a larger one.
type kernelArrays struct{ mem []byte }

// grow makes room for n elements of each array, and returns them.
func (a *kernelArrays) grow(n int) (sfi, tcpi []byte, err error) {
	size := n * (subflowInfoLen + tcpInfoLen)
	if len(a.mem) < size {
		a.free()
		mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return nil, nil, os.NewSyscallError("mmap", err)
		}
		a.mem = mem
	}
	return a.mem[:n*subflowInfoLen], a.mem[n*subflowInfoLen : size], nil
}

// room returns how many elements the arrays hold now.
func (a *kernelArrays) room() int { return len(a.mem) / (subflowInfoLen + tcpInfoLen) }

func (a *kernelArrays) free() {
	if a.mem != nil {
		unix.Munmap(a.mem)
		a.mem = nil
	}
}

// Requests are reused from a small static set, whose busy ones are the
// set bits of busyRequests: taking one and giving it back cost one atomic
// operation each, on an integer. A sync.Pool would reuse them too, but
// its Get and Put cost 40 ns here (measured), as much as all the rest
// MPTCPInfo adds to its system call. When every request of the set is
// busy, a new one is made, and left to the collector afterwards. The
// set's own buffers stay for the life of the process: eight requests, a
// page of MPTCP_FULL_INFO arrays each, more only while a connection has
// more than four subflows.
var (
	requests     [8]request
	busyRequests atomic.Uint32
)

// getRequest returns a request to the running kernel; its fd is set
// inside RawConn.Control.
func getRequest() *request {
	for range len(requests) {
		busy := busyRequests.Load()
		i := bits.TrailingZeros32(^busy)
		if i >= len(requests) {
			break
		}
		if busyRequests.CompareAndSwap(busy, busy|1<<i) {
			r := &requests[i]
			if r.k == nil {
				r.k, r.st, r.slot = liveKernel{}, &host, uint8(i+1)
			}
			return r
		}
	}
	return &request{k: liveKernel{}, st: &host}
}

func putRequest(r *request) {
	r.token = nil // never keep a connection alive from the set
	if r.slot > 0 {
		busyRequests.And(^(uint32(1) << (r.slot - 1)))
	}
}

// refusal turns the kernel's refusal of a SOL_MPTCP option into an
// error: ErrNotMPTCP when the connection is not MPTCP (it fell back, or
// is plain TCP), errKernelTooOld when it is but the kernel lacks the
// option, or the errno when it is not a refusal at all.
func (r *request) refusal(errno syscall.Errno) error {
	if !refused(errno) {
		return errno
	}
	ok, err := r.isMPTCP()
	switch {
	case err != nil:
		return err
	case !ok:
		return ErrNotMPTCP
	}
	return errKernelTooOld
}

// readInfo reads struct mptcp_info into *in (MPTCP_INFO, 5.16+).
func (r *request) readInfo(in *Info) error {
	buf := r.head[:infoLen]
	r.optlen = infoLen
	if errno := r.k.getsockopt(r.fd, solMPTCP, optMPTCPInfo, unsafe.Pointer(&buf[0]), &r.optlen); errno != 0 {
		err := r.refusal(errno)
		if err == errKernelTooOld {
			return r.diagInfo(in) // 5.9 - 5.15
		}
		return err
	}
	if r.optlen > infoLen {
		return fmt.Errorf("mptcp: kernel returned %d bytes of mptcp_info into a %d-byte buffer", r.optlen, infoLen)
	}
	decodeInfoTo(in, buf[:r.optlen])
	return nil
}

// appendSubflows appends every subflow to dst and, when in is not nil,
// reads the connection's mptcp_info into it. On error it returns dst.
func (r *request) appendSubflows(dst []Subflow, in *Info) ([]Subflow, error) {
	if !r.st.noFullInfo.Load() {
		subs, err := r.readFullInfo(dst, in)
		if err != errKernelTooOld {
			return subs, err
		}
		// The connection is MPTCP but MPTCP_FULL_INFO is unknown: a
		// 5.16 - 6.4 kernel. Remember, and use the older options.
		r.st.noFullInfo.Store(true)
	}
	if in != nil {
		if err := r.readInfo(in); err != nil {
			return dst, err
		}
	}
	return r.readSubflowsSeparately(dst)
}

// grow makes b hold n elements of size bytes.
func grow(b []byte, n, size int) []byte {
	if cap(b) < n*size {
		return make([]byte, n*size)
	}
	return b[:n*size]
}

func errTooManySubflows(n uint32) error {
	return fmt.Errorf("mptcp: kernel reports %d subflows, more than the %d this package reads", n, maxSubflows)
}

// readFullInfo reads mptcp_info and every subflow's id, addresses and
// tcp_info in one MPTCP_FULL_INFO call (6.5+): one consistent snapshot.
func (r *request) readFullInfo(dst []Subflow, in *Info) ([]Subflow, error) {
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
			return dst, r.refusal(errno)
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

// readSubflowsSeparately is the 5.16 - 6.4 path, where subflows carry no
// ids: MPTCP_SUBFLOW_ADDRS, MPTCP_TCPINFO, then MPTCP_SUBFLOW_ADDRS again.
// The calls are separate, so a subflow may come or go between them, and
// pair one subflow's statistics with another's addresses: the statistics
// are kept only when both address lists are the same, byte for byte, and
// all three answers count the same subflows; otherwise all three are read
// again.
func (r *request) readSubflowsSeparately(dst []Subflow) ([]Subflow, error) {
	n := initialSubflows
	for range maxSubflowTrials {
		before, err := r.readSubflowData(optMPTCPSubflowAddrs, &r.sfi, n, subflowAddrsLen)
		if err == errKernelTooOld {
			return r.diagSubflows(dst) // 5.9 - 5.15
		}
		if err != nil {
			return dst, err
		}
		stats, err := r.readSubflowData(optMPTCPTCPInfo, &r.tcpi, n, tcpInfoLen)
		if err != nil {
			return dst, err
		}
		after, err := r.readSubflowData(optMPTCPSubflowAddrs, &r.addrs, n, subflowAddrsLen)
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
func (r *request) readSubflowData(name int, buf *[]byte, n, size int) (subflowData, error) {
	*buf = grow(*buf, 1, subflowDataLen+n*size)
	b := *buf
	clear(b[:subflowDataLen])
	ne := binary.NativeEndian
	ne.PutUint32(b[sdSizeSubflowData:], subflowDataLen)
	ne.PutUint32(b[sdSizeUser:], uint32(size))
	r.optlen = uint32(len(b))
	if errno := r.k.getsockopt(r.fd, solMPTCP, name, unsafe.Pointer(&b[0]), &r.optlen); errno != 0 {
		return subflowData{}, r.refusal(errno)
	}
	d := decodeSubflowData(b, r.optlen, uint32(size))
	return d, d.err
}
