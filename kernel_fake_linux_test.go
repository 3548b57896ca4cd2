package mptcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakeKernel answers the requests through the kernel seam with what a
// real kernel answered (a recording in testdata/kernels), following the
// copy rules KERNEL.md states for each option. Each descriptor stands for
// one of the recording's sockets. A test can change a socket's subflows,
// make socket() fail, and run code before each call, so that subflows
// come and go between the calls of one request.
type fakeKernel struct {
	t           testing.TB
	st          *kernelState // what the package learned of this kernel
	rec         recordedKernel
	socks       map[uintptr]*fakeSocket
	next        uintptr
	socketErr   syscall.Errno                        // what socket() fails with, if not 0
	before      func(k *fakeKernel, level, name int) // runs before each getsockopt
	calls       []string                             // "SOL_MPTCP/2" for each getsockopt
	sockets     int                                  // socket() calls
	open        int                                  // sockets made and not closed
	diagOpens   int                                  // socket-diagnostics sockets opened
	diagQueries int                                  // socket-diagnostics requests
}

// fakeSocket is one socket of a fakeKernel, with subflows a test may
// change. Elements are at the kernel's size.
type fakeSocket struct {
	name    string
	rec     recordedSocket
	tcpInfo [][]byte // struct tcp_info, one per subflow
	addrs   [][]byte // struct mptcp_subflow_addrs
	sfInfo  [][]byte // struct mptcp_subflow_info
	sfSize  uint32   // the kernel's struct mptcp_subflow_info size
}

func newFakeKernel(t testing.TB, name string) *fakeKernel {
	t.Helper()
	return &fakeKernel{t: t, st: new(kernelState), rec: loadRecording(t, name), socks: map[uintptr]*fakeSocket{}, next: 100}
}

// fd returns a descriptor for the recording's socket of that name
// ("mptcp4", "fallback6", ...).
func (k *fakeKernel) fd(name string) uintptr {
	k.t.Helper()
	rs, ok := k.rec.Sockets[name]
	if !ok {
		k.t.Fatalf("kernel %s: no socket %q recorded", k.rec.Name, name)
	}
	s := &fakeSocket{name: name, rec: rs, sfSize: rs.FullInfo.SfInfoKernel}
	s.tcpInfo = cloneAll(rs.TCPInfo.Elems)
	s.addrs = cloneAll(rs.Addrs.Elems)
	s.sfInfo = cloneAll(rs.FullInfo.SfInfo)
	k.next++
	k.socks[k.next] = s
	return k.next
}

func (k *fakeKernel) sock(fd uintptr) *fakeSocket {
	s, ok := k.socks[fd]
	if !ok {
		k.t.Fatalf("fake kernel: no socket %d", fd)
	}
	return s
}

// request returns a request on fd; k.st is what the package learns.
func (k *fakeKernel) request(fd uintptr) *request {
	return &request{k: k, fd: fd}
}

func cloneAll(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = bytes.Clone(b)
	}
	return out
}

func (k *fakeKernel) socket(family, proto int) (int, syscall.Errno) {
	k.sockets++
	if k.socketErr != 0 {
		return -1, k.socketErr
	}
	name := "fresh4"
	if family == unix.AF_INET6 {
		name = "fresh6"
	}
	if proto != ipprotoMPTCP {
		k.t.Fatalf("fake kernel: socket(%d, %d): only MPTCP sockets are recorded", family, proto)
	}
	k.open++
	return int(k.fd(name)), 0
}

func (k *fakeKernel) close(fd int) {
	k.open--
	delete(k.socks, uintptr(fd))
}

func (k *fakeKernel) count(level, name int) int {
	n := 0
	want := fmt.Sprintf("%d/%d", level, name)
	for _, c := range k.calls {
		if c == want {
			n++
		}
	}
	return n
}

func (k *fakeKernel) getsockopt(fd uintptr, level, name int, buf unsafe.Pointer, optlen *uint32) syscall.Errno {
	k.calls = append(k.calls, fmt.Sprintf("%d/%d", level, name))
	if k.before != nil {
		k.before(k, level, name)
	}
	s := k.sock(fd)
	b := unsafe.Slice((*byte)(buf), *optlen)
	ne := binary.NativeEndian
	putInt := func(v int32) syscall.Errno {
		if *optlen < 4 {
			return unix.EINVAL
		}
		ne.PutUint32(b, uint32(v))
		*optlen = 4
		return 0
	}
	switch {
	case level == unix.SOL_SOCKET && name == unix.SO_PROTOCOL:
		return putInt(s.rec.Protocol)
	case level == unix.SOL_SOCKET && name == unix.SO_DOMAIN:
		if strings.HasSuffix(s.name, "6") {
			return putInt(unix.AF_INET6)
		}
		return putInt(unix.AF_INET)
	case level == unix.SOL_TCP && name == optTCPIsMPTCP:
		if s.rec.IsMPTCP.Errno != 0 {
			return syscall.Errno(s.rec.IsMPTCP.Errno)
		}
		return putInt(s.rec.IsMPTCP.Value)
	case level == solMPTCP && name == optMPTCPInfo:
		if *optlen == 0 {
			return syscall.Errno(s.rec.InfoProbe)
		}
		if s.rec.Info.Errno != 0 {
			return syscall.Errno(s.rec.Info.Errno)
		}
		*optlen = uint32(copy(b, s.rec.Info.Bytes))
		return 0
	case level == solMPTCP && name == optMPTCPTCPInfo:
		return subflowDataAnswer(b, optlen, s.rec.TCPInfo.Errno, s.tcpInfo, s.rec.TCPInfo.SizeKernel)
	case level == solMPTCP && name == optMPTCPSubflowAddrs:
		return subflowDataAnswer(b, optlen, s.rec.Addrs.Errno, s.addrs, s.rec.Addrs.SizeKernel)
	case level == solMPTCP && name == optMPTCPFullInfo:
		return s.fullInfoAnswer(b, optlen)
	}
	k.t.Fatalf("fake kernel: getsockopt(%d, %d) is not recorded", level, name)
	return unix.ENOPROTOOPT
}

// subflowDataAnswer answers MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS as
// 5.16+ does: check the header, clamp the element size, copy the
// elements that fit, count them all.
func subflowDataAnswer(b []byte, optlen *uint32, errno int, elems [][]byte, sizeKernel uint32) syscall.Errno {
	if errno != 0 {
		return syscall.Errno(errno)
	}
	ne := binary.NativeEndian
	if len(b) < subflowDataLen {
		return unix.EINVAL
	}
	sizeData := ne.Uint32(b[sdSizeSubflowData:])
	if sizeData < subflowDataLen || sizeData > uint32(len(b)) || ne.Uint32(b[sdNumSubflows:]) != 0 || ne.Uint32(b[sdSizeKernel:]) != 0 {
		return unix.EINVAL
	}
	sizeUser := min(ne.Uint32(b[sdSizeUser:]), sizeKernel)
	copied := uint32(0)
	for _, e := range elems {
		at := sizeData + copied*sizeUser
		if at+sizeUser > uint32(len(b)) {
			break
		}
		copy(b[at:at+sizeUser], e[:sizeUser])
		copied++
	}
	ne.PutUint32(b[sdNumSubflows:], uint32(len(elems)))
	ne.PutUint32(b[sdSizeKernel:], sizeKernel)
	ne.PutUint32(b[sdSizeUser:], sizeUser)
	*optlen = sizeData + copied*sizeUser
	return 0
}

// fullInfoAnswer answers MPTCP_FULL_INFO as 6.5+ does, writing the
// arrays at the addresses the request holds.
func (s *fakeSocket) fullInfoAnswer(h []byte, optlen *uint32) syscall.Errno {
	f := s.rec.FullInfo
	if f.Errno != 0 {
		return syscall.Errno(f.Errno)
	}
	ne := binary.NativeEndian
	if len(h) < fullInfoHdrLen || ne.Uint32(h[fiSizeTCPInfoKernel:]) != 0 || ne.Uint32(h[fiSizeSfInfoKernel:]) != 0 || ne.Uint32(h[fiNumSubflows:]) != 0 {
		return unix.EINVAL
	}
	tcpUser := min(ne.Uint32(h[fiSizeTCPInfoUser:]), f.TCPInfoKernel)
	sfUser := min(ne.Uint32(h[fiSizeSfInfoUser:]), s.sfSize)
	room := int(ne.Uint32(h[fiSizeArraysUser:]))
	// The request stores the arrays' addresses as integers, at offsets
	// that need not be aligned for a pointer; read them back as the
	// pointers they are (the arrays are outside the Go heap).
	sfArr, tcpArr := userPointer(h[fiSubflowInfo:]), userPointer(h[fiTCPInfo:])
	n := min(len(s.sfInfo), len(s.tcpInfo))
	for i := range min(n, room) {
		if sfUser > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Add(sfArr, i*int(sfUser))), sfUser), s.sfInfo[i])
		}
		if tcpUser > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Add(tcpArr, i*int(tcpUser))), tcpUser), s.tcpInfo[i])
		}
	}
	ne.PutUint32(h[fiSizeTCPInfoKernel:], f.TCPInfoKernel)
	ne.PutUint32(h[fiSizeTCPInfoUser:], tcpUser)
	ne.PutUint32(h[fiSizeSfInfoKernel:], s.sfSize)
	ne.PutUint32(h[fiSizeSfInfoUser:], sfUser)
	ne.PutUint32(h[fiNumSubflows:], uint32(n))
	*optlen = fullInfoHdrLen + uint32(copy(h[fullInfoHdrLen:], f.Info))
	return 0
}

// addSubflow appends a copy of subflow i with another local port, and a
// tcp_info whose snd_mss is that port, so that a test can tell which
// statistics went with which addresses.
func (s *fakeSocket) addSubflow(i int, port uint16) {
	a := bytes.Clone(s.addrs[i])
	binary.BigEndian.PutUint16(a[2:], port)
	ti := bytes.Clone(s.tcpInfo[i])
	binary.NativeEndian.PutUint32(ti[tcpiSndMSS:], uint32(port))
	s.addrs = append(s.addrs, a)
	s.tcpInfo = append(s.tcpInfo, ti)
	if len(s.sfInfo) > i {
		e := bytes.Clone(s.sfInfo[i])
		off := subflowAddrOffset(s.sfSize, e)
		binary.BigEndian.PutUint16(e[off+2:], port)
		binary.NativeEndian.PutUint32(e, uint32(len(s.sfInfo)+1))
		s.sfInfo = append(s.sfInfo, e)
	}
}

// markSubflows sets every subflow's tcp_info snd_mss to its local port.
func (s *fakeSocket) markSubflows() {
	for i, a := range s.addrs {
		binary.NativeEndian.PutUint32(s.tcpInfo[i][tcpiSndMSS:], uint32(binary.BigEndian.Uint16(a[2:])))
	}
}

// userPointer reads the user-space address at the start of b, stored as
// the kernel's u64 in host order, as a pointer.
func userPointer(b []byte) unsafe.Pointer {
	var p unsafe.Pointer
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&p)), unsafe.Sizeof(p)), b)
	return p
}
