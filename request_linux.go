package mptcp

import (
	"math/bits"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// request is one query of one socket: the descriptor, the kernel that
// answers for it, and the buffers the kernel writes into. Requests are
// reused, so that their buffers are not on a caller's stack: handing a buffer to the kernel seam (an interface,
// which the compiler must assume keeps what it is given) would move it to
// the heap, an allocation at every call.
type request struct {
	k    kernel
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
				r.k, r.slot = liveKernel{}, uint8(i+1)
			}
			return r
		}
	}
	return &request{k: liveKernel{}}
}

func putRequest(r *request) {
	r.token = nil // never keep a connection alive from the set
	if r.slot > 0 {
		busyRequests.And(^(uint32(1) << (r.slot - 1)))
	}
}

// grow makes b hold n elements of size bytes.
func grow(b []byte, n, size int) []byte {
	if cap(b) < n*size {
		return make([]byte, n*size)
	}
	return b[:n*size]
}
