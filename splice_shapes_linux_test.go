package mptcp

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// The zero-copy tests: each copy shape of a proxy, measured on its
// thread against the same copy between two *net.TCPConn.

// measureShape runs one(k) zeroCopyRounds times for the baseline and the
// package, alternately, and once for the negative control, then fails
// the test unless the package's copy made as many read and write system
// calls as the baseline's, within a small margin, and the negative
// control made many: enough that a user-space copy could not pass for a
// zero-copy one.
func measureShape(t *testing.T, one func(t *testing.T, k copyKind) threadIO) {
	t.Helper()
	requireThreadIO(t)
	var runs [3][]threadIO
	for range zeroCopyRounds {
		for _, k := range []copyKind{kindTCPConn, kindMPTCPConn} {
			runs[k] = append(runs[k], one(t, k))
		}
	}
	runs[kindControl] = append(runs[kindControl], one(t, kindControl))
	if t.Failed() {
		return
	}
	var best [3]threadIO
	for k, rs := range runs {
		best[k] = rs[0]
		for _, r := range rs[1:] {
			best[k].syscr = min(best[k].syscr, r.syscr)
			best[k].syscw = min(best[k].syscw, r.syscw)
			best[k].rchar = min(best[k].rchar, r.rchar)
			best[k].wchar = min(best[k].wchar, r.wchar)
		}
		t.Logf("%-11v fewest of %d run(s): %v; all: %v", copyKind(k), len(rs), best[k], rs)
	}
	base, pkg, ctl := best[kindTCPConn], best[kindMPTCPConn], best[kindControl]

	// A user-space io.Copy reads at most 32 KiB per read(2).
	const userCopyCalls = zeroCopySize / (32 << 10)
	if ctl.syscr < userCopyCalls || ctl.syscw < userCopyCalls/2 {
		t.Errorf("the negative control made %d read and %d write syscalls, want >= %d and >= %d: /proc/thread-self/io does not see a user-space copy here, so it proves nothing",
			ctl.syscr, ctl.syscw, userCopyCalls, userCopyCalls/2)
	}

	// The margin absorbs noise: the odd runtime write(2) to its eventfd,
	// a sendfile(2) retried after a full socket buffer.
	margin := func(b int64) int64 { return 16 + b/4 }
	for _, c := range []struct {
		what           string
		base, pkg, ctl int64
	}{
		{"read", base.syscr, pkg.syscr, ctl.syscr},
		{"write", base.syscw, pkg.syscw, ctl.syscw},
	} {
		if d := c.pkg - c.base; d > margin(c.base) || -d > margin(c.base) {
			t.Errorf("the package's copy made %d %s syscalls where two *net.TCPConn made %d (margin %d): it does not take the same path",
				c.pkg, c.what, c.base, margin(c.base))
		}
		// A package copy through user space where the baseline's is
		// zero-copy would be off by about ctl: the margin must be far
		// smaller, or this test could not tell the two paths apart.
		if 4*margin(c.base) >= c.ctl {
			t.Errorf("the margin (%d %s syscalls) is not small against the %d of a user-space copy: the measure cannot tell the paths apart",
				margin(c.base), c.what, c.ctl)
		}
	}
	if base.syscr*4 > ctl.syscr {
		// Not a failure of this package: package net itself does not
		// use zero-copy for this shape.
		t.Logf("note: the baseline itself is not zero-copy (%d read syscalls against %d for a user-space copy)", base.syscr, ctl.syscr)
	}
}

// hideReader returns r as a plain io.Reader: no WriteTo, not a
// *net.TCPConn, *os.File or *io.LimitedReader, so that io.Copy and
// ReadFrom must copy through user space.
func hideReader(r io.Reader) io.Reader { return struct{ io.Reader }{r} }

// proxyShape measures one proxy shape: the far end of connection A
// sends the payload and closes its side; copyFn copies the near end of
// A (src) into the near end of B (dst); the far end of B must receive
// the payload.
func proxyShape(t *testing.T, copyFn func(k copyKind, dst, src net.Conn) (int64, error)) {
	t.Helper()
	data := zeroCopyPayload()
	measureShape(t, func(t *testing.T, k copyKind) threadIO {
		src, srcFar := k.pair(t)
		dst, dstFar := k.pair(t)
		setIODeadlines(t, src, srcFar)
		return copyRun{
			dst: dst, dstFar: dstFar,
			feed: func() error {
				if _, err := srcFar.Write(data); err != nil {
					return err
				}
				return srcFar.(zeroCopyCloseWriter).CloseWrite()
			},
			copy: func() (int64, error) { return copyFn(k, dst, src) },
		}.do(t, data)
	})
}

// TestZeroCopySpliceProxy: io.Copy(dst, src) between two connections, a
// proxy. For two *MPTCPConn, io.Copy takes src's WriteTo, promoted from
// *net.TCPConn, which hands dst and src to dst's ReadFrom; it must
// splice as it does between two *net.TCPConn.
func TestZeroCopySpliceProxy(t *testing.T) {
	proxyShape(t, func(k copyKind, dst, src net.Conn) (int64, error) {
		if k == kindControl {
			return io.Copy(dst, hideReader(src))
		}
		return io.Copy(dst, src)
	})
}

// TestZeroCopySpliceReadFrom: dst.ReadFrom(src) called directly, as code
// that knows its destination does, which reaches the *MPTCPConn case of
// MPTCPConn.ReadFrom (io.Copy goes through src's WriteTo instead).
func TestZeroCopySpliceReadFrom(t *testing.T) {
	proxyShape(t, func(k copyKind, dst, src net.Conn) (int64, error) {
		rf := dst.(io.ReaderFrom)
		if k == kindControl {
			return rf.ReadFrom(hideReader(src))
		}
		return rf.ReadFrom(src)
	})
}

// TestZeroCopySpliceLimitReader: io.Copy(dst, io.LimitReader(src, n)),
// the shape that loses splice for a type that merely embeds
// *net.TCPConn. The source holds more than n bytes: the copy must stop
// at n, leave the LimitedReader's N at 0 and the rest unread in src.
func TestZeroCopySpliceLimitReader(t *testing.T) {
	data := zeroCopyPayload()
	tail := []byte("bytes past the limit, which the copy must leave in src")
	measureShape(t, func(t *testing.T, k copyKind) threadIO {
		src, srcFar := k.pair(t)
		dst, dstFar := k.pair(t)
		setIODeadlines(t, src, srcFar)
		lr := &io.LimitedReader{R: src, N: int64(len(data))}
		acct := copyRun{
			dst: dst, dstFar: dstFar,
			feed: func() error {
				_, err := srcFar.Write(append(data[:len(data):len(data)], tail...))
				return err
			},
			copy: func() (int64, error) {
				if k == kindControl {
					return io.Copy(dst, hideReader(lr))
				}
				return io.Copy(dst, lr)
			},
		}.do(t, data)
		if lr.N != 0 {
			t.Errorf("%v: LimitedReader.N = %d after the copy, want 0", k, lr.N)
		}
		rest := make([]byte, len(tail))
		if _, err := io.ReadFull(src, rest); err != nil || !bytes.Equal(rest, tail) {
			t.Errorf("%v: reading past the limit: %q, %v; want %q", k, rest, err, tail)
		}
		return acct
	})
}

// TestZeroCopySendfile: io.Copy(dst, f) for an *os.File f, which the
// kernel serves with sendfile(2) when dst is a TCP connection. The file's
// offset must end at its size.
func TestZeroCopySendfile(t *testing.T) {
	data := zeroCopyPayload()
	name := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	measureShape(t, func(t *testing.T, k copyKind) threadIO {
		dst, dstFar := k.pair(t)
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		acct := copyRun{
			dst: dst, dstFar: dstFar,
			copy: func() (int64, error) {
				if k == kindControl {
					return io.Copy(dst, hideReader(f))
				}
				return io.Copy(dst, f)
			},
		}.do(t, data)
		if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != int64(len(data)) {
			t.Errorf("%v: file offset after the copy = %d, %v; want %d", k, off, err, len(data))
		}
		return acct
	})
}

// io.Copy into an MPTCP connection delivers every byte, from a TCP
// connection and from another MPTCP one, whole or through an
// io.LimitReader, on every kernel: 5.10 with MPTCP refuses splice into
// MPTCP sockets, and the package copies through user space there.
func TestCopyIntoMPTCPConn(t *testing.T) {
	requireMPTCP(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, src := range []string{"tcp", "mptcp"} {
		for _, limit := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/limit=%v", src, limit), func(t *testing.T) {
				var in, feed net.Conn
				if src == "tcp" {
					l := listenPlainTCP(t, "tcp4")
					var d Dialer
					d.SetMultipathTCP(false)
					in, feed = dialAccept(t, &d, "tcp4", l)
				} else {
					c, s := mptcpPair(t, "tcp4")
					in, feed = c, s
				}
				dst, far := mptcpPair(t, "tcp4")
				setIODeadlines(t, in, feed, dst, far)
				go func() {
					feed.Write(data)
					feed.Close()
				}()
				got := make(chan []byte, 1)
				go func() {
					b, _ := io.ReadAll(io.LimitReader(far, int64(len(data))))
					got <- b
				}()
				var r io.Reader = in
				if limit {
					r = io.LimitReader(in, int64(len(data)))
				}
				n, err := io.Copy(dst, r)
				if err != nil || n != int64(len(data)) {
					t.Fatalf("io.Copy into an MPTCP connection: %d bytes, %v", n, err)
				}
				if b := <-got; !bytes.Equal(b, data) {
					t.Fatalf("the far end received %d bytes, not what was sent", len(b))
				}
			})
		}
	}
}
