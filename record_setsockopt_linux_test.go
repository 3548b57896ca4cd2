package mptcp

import (
	"encoding/binary"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What setsockopt answers on a fresh MPTCP socket, in the recordings of
// record_linux_test.go.

// Options a Control hook might set, with a value each; the errno of
// setsockopt on a fresh MPTCP socket tells which ones MPTCP refuses.
var recordedOptions = []struct {
	name       string
	level, opt int
	value      []byte
}{
	{"SO_REUSEADDR", unix.SOL_SOCKET, unix.SO_REUSEADDR, i32(1)},
	{"SO_REUSEPORT", unix.SOL_SOCKET, unix.SO_REUSEPORT, i32(1)},
	{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, i32(1)},
	{"SO_SNDBUF", unix.SOL_SOCKET, unix.SO_SNDBUF, i32(1 << 20)},
	{"SO_RCVBUF", unix.SOL_SOCKET, unix.SO_RCVBUF, i32(1 << 20)},
	{"SO_PRIORITY", unix.SOL_SOCKET, unix.SO_PRIORITY, i32(1)},
	{"SO_MARK", unix.SOL_SOCKET, unix.SO_MARK, i32(1)},
	{"SO_BINDTODEVICE", unix.SOL_SOCKET, unix.SO_BINDTODEVICE, []byte("lo\x00")},
	{"SO_LINGER", unix.SOL_SOCKET, unix.SO_LINGER, append(i32(1), i32(0)...)},
	{"SO_TIMESTAMP", unix.SOL_SOCKET, unix.SO_TIMESTAMP, i32(1)},
	{"SO_ATTACH_FILTER", unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, nil}, // filled by acceptAllFilter
	{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, i32(0x10)},
	{"IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, i32(32)},
	{"IP_FREEBIND", unix.IPPROTO_IP, unix.IP_FREEBIND, i32(1)},
	{"IP_TRANSPARENT", unix.IPPROTO_IP, unix.IP_TRANSPARENT, i32(1)},
	{"IP_BIND_ADDRESS_NO_PORT", unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, i32(1)},
	{"TCP_NODELAY", unix.SOL_TCP, unix.TCP_NODELAY, i32(1)},
	{"TCP_CORK", unix.SOL_TCP, unix.TCP_CORK, i32(0)},
	{"TCP_KEEPIDLE", unix.SOL_TCP, unix.TCP_KEEPIDLE, i32(30)},
	{"TCP_USER_TIMEOUT", unix.SOL_TCP, unix.TCP_USER_TIMEOUT, i32(30000)},
	{"TCP_MAXSEG", unix.SOL_TCP, unix.TCP_MAXSEG, i32(1200)},
	{"TCP_CONGESTION", unix.SOL_TCP, unix.TCP_CONGESTION, []byte("cubic")},
	{"TCP_NOTSENT_LOWAT", unix.SOL_TCP, unix.TCP_NOTSENT_LOWAT, i32(16384)},
	{"TCP_FASTOPEN_CONNECT", unix.SOL_TCP, unix.TCP_FASTOPEN_CONNECT, i32(1)},
	{"TCP_QUICKACK", unix.SOL_TCP, unix.TCP_QUICKACK, i32(1)},
	{"TCP_WINDOW_CLAMP", unix.SOL_TCP, unix.TCP_WINDOW_CLAMP, i32(65536)},
	{"TCP_SAVE_SYN", unix.SOL_TCP, unix.TCP_SAVE_SYN, i32(1)},
	{"TCP_REPAIR", unix.SOL_TCP, unix.TCP_REPAIR, i32(1)},
	{"TCP_ULP", unix.SOL_TCP, unix.TCP_ULP, []byte("tls")},
}

func i32(v int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(v)) }

// acceptAllFilter is a classic BPF program of one instruction, "accept
// the whole packet", as struct sock_fprog.
func acceptAllFilter() ([]byte, *unix.SockFilter) {
	ins := &unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff}
	prog := unix.SockFprog{Len: 1, Filter: ins}
	return unsafe.Slice((*byte)(unsafe.Pointer(&prog)), unsafe.Sizeof(prog)), ins
}

func recordSetsockopt(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, o := range recordedOptions {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
		if err != nil {
			t.Fatalf("socket(IPPROTO_MPTCP): %v", err)
		}
		v := o.value
		var keep *unix.SockFilter
		if o.name == "SO_ATTACH_FILTER" {
			v, keep = acceptAllFilter()
		}
		_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(o.level), uintptr(o.opt),
			uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)), 0)
		runtime.KeepAlive(keep)
		out[o.name] = int(errno)
		unix.Close(fd)
	}
	return out
}
