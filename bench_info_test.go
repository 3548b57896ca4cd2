//go:build linux

package mptcp

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The benchmarks of row 2: MPTCPInfo and AppendSubflows against the one
// getsockopt each cannot avoid.

// infoFloor asks MPTCP_INFO for the mptcp_info MPTCPInfo decodes.
type infoFloor struct {
	fn     func(fd uintptr)
	optlen uint32
	errno  syscall.Errno
	buf    [infoLen]byte
}

func newInfoFloor() *infoFloor {
	f := new(infoFloor)
	f.fn = func(fd uintptr) {
		f.optlen = uint32(len(f.buf))
		_, _, f.errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, solMPTCP, optMPTCPInfo,
			uintptr(unsafe.Pointer(&f.buf[0])), uintptr(unsafe.Pointer(&f.optlen)), 0)
	}
	return f
}

// fullInfoFloor asks MPTCP_FULL_INFO for what AppendSubflows decodes,
// with the room the package reserves: the header and mptcp_info, and
// initialSubflows elements of mptcp_subflow_info and tcp_info. The
// request header is rewritten before each call, as the kernel writes its
// answer over it.
type fullInfoFloor struct {
	fn     func(fd uintptr)
	optlen uint32
	errno  syscall.Errno
	head   [fullInfoHdrLen + infoLen]byte
	sfi    [initialSubflows * subflowInfoLen]byte
	tcpi   [initialSubflows * tcpInfoLen]byte
}

// subflows is the subflow count of the last answer.
func (f *fullInfoFloor) subflows() int {
	return int(binary.NativeEndian.Uint32(f.head[fiNumSubflows:]))
}

// floorCall returns a function that makes one floor call, for paired.
func floorCall(rc syscall.RawConn, fn func(fd uintptr), errno *syscall.Errno) func() error {
	return func() error {
		if err := rc.Control(fn); err != nil {
			return err
		}
		if *errno != 0 {
			return *errno
		}
		return nil
	}
}

// runFloor benchmarks rc.Control(fn) and fails on any error.
func runFloor(b *testing.B, rc syscall.RawConn, fn func(fd uintptr), errno *syscall.Errno) {
	b.ReportAllocs()
	for b.Loop() {
		if err := rc.Control(fn); err != nil || *errno != 0 {
			b.Fatalf("floor getsockopt: %v, errno %v", err, *errno)
		}
	}
}

// Row 2. MPTCPInfo against one MPTCP_INFO getsockopt.
func BenchmarkMPTCPInfo(b *testing.B) {
	client, _ := benchPair(b)
	rc, err := client.TCPConn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	floor := newInfoFloor()
	warm(func() { rc.Control(floor.fn) }, func() { client.MPTCPInfo() })
	sideBySide(b,
		side{"floor", func(b *testing.B) {
			f := newInfoFloor()
			runFloor(b, rc, f.fn, &f.errno)
			if f.optlen != infoLen {
				b.Fatalf("MPTCP_INFO returned %d bytes, want %d", f.optlen, infoLen)
			}
		}},
		side{"mptcp", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.MPTCPInfo(); err != nil {
					b.Fatal(err)
				}
			}
		}},
	)
	b.Run("paired", func(b *testing.B) {
		f := newInfoFloor()
		paired(b, [2]string{"floor", "mptcp"}, [2]func() error{
			floorCall(rc, f.fn, &f.errno),
			func() error { _, err := client.MPTCPInfo(); return err },
		})
	})
}

// Row 2. AppendSubflows (the filling form) and Subflows (the allocating
// form) against one MPTCP_FULL_INFO getsockopt, with one subflow over
// loopback and with two over the two links of a test bed.
func BenchmarkSubflows(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var c *MPTCPConn
			if n == 1 {
				c, _ = benchPair(b)
			} else {
				c = twoSubflowConn(b)
			}
			subflowsSides(b, c, n)
		})
	}
}

func subflowsSides(b *testing.B, c *MPTCPConn, n int) {
	rc, err := c.TCPConn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	check := func(b *testing.B, subs []Subflow) {
		if len(subs) != n {
			b.Fatalf("%d subflows, want %d", len(subs), n)
		}
	}
	floor := newFullInfoFloor()
	dst := make([]Subflow, 0, initialSubflows)
	warm(func() { rc.Control(floor.fn) }, func() { c.AppendSubflows(dst[:0]) })
	sideBySide(b,
		side{"floor", func(b *testing.B) {
			f := newFullInfoFloor()
			runFloor(b, rc, f.fn, &f.errno)
			if f.subflows() != n {
				b.Fatalf("MPTCP_FULL_INFO reports %d subflows, want %d", f.subflows(), n)
			}
		}},
		side{"AppendSubflows", func(b *testing.B) {
			dst := make([]Subflow, 0, initialSubflows)
			var err error
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = c.AppendSubflows(dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
			check(b, dst)
		}},
	)
	b.Run("paired", func(b *testing.B) {
		f := newFullInfoFloor()
		dst := make([]Subflow, 0, initialSubflows)
		paired(b, [2]string{"floor", "AppendSubflows"}, [2]func() error{
			floorCall(rc, f.fn, &f.errno),
			func() error {
				subs, err := c.AppendSubflows(dst[:0])
				if err == nil && len(subs) != n {
					err = fmt.Errorf("%d subflows, want %d", len(subs), n)
				}
				return err
			},
		})
		if f.subflows() != n {
			b.Fatalf("MPTCP_FULL_INFO reports %d subflows, want %d", f.subflows(), n)
		}
	})
	// The allocating form comes after, so that the garbage it makes (and
	// the collector and scavenger work that follows) does not land in the
	// measurements above.
	b.Run("Subflows", func(b *testing.B) {
		var subs []Subflow
		var err error
		b.ReportAllocs()
		for b.Loop() {
			if subs, err = c.Subflows(); err != nil {
				b.Fatal(err)
			}
		}
		check(b, subs)
	})
}
