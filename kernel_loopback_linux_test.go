package mptcp

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The package on loopback connections of the running kernel, with and
// without MPTCP, checked against the kernel's own answers.

// TestKernelMPTCPLoopback checks, on a kernel with MPTCP, every end of
// the three kinds of loopback connection.
func TestKernelMPTCPLoopback(t *testing.T) {
	name, want, set := kernelExpectation(t)
	if err := mptcpSocketErr(); err != nil && set && want.MPTCP {
		t.Fatalf("kernel %s must create MPTCP sockets: %v", name, err)
	}
	requireMPTCP(t)
	if set && !want.MPTCP {
		t.Fatalf("kernel %s must not create MPTCP sockets, but it does", name)
	}
	hasSOLMPTCP := kernelHasSOLMPTCP(t)
	for _, network := range networks(t) {
		t.Run(network, func(t *testing.T) {
			t.Run("MPTCP to MPTCP", func(t *testing.T) {
				l := listenLoopback(t, network)
				if ok, err := l.MultipathTCP(); err != nil || !ok {
					t.Errorf("Listener.MultipathTCP = %v, %v; want true", ok, err)
				}
				c, s := dialAccept(t, &Dialer{}, network, l)
				client, server := c.(*MPTCPConn), s.(*MPTCPConn)
				exchange(t, client, server, 1000)
				if !hasSOLMPTCP {
					checkWithoutSOLMPTCP(t, client, server, want, set)
					return
				}
				tokens := map[string]uint32{}
				for end, conn := range map[string]*MPTCPConn{"client": client, "server": server} {
					mustMultipath(t, end, conn, true)
					in, err := conn.MPTCPInfo()
					if err != nil {
						t.Fatalf("%s: MPTCPInfo: %v", end, err)
					}
					if !in.Has(InfoBase) || in.Token == 0 {
						t.Errorf("%s: MPTCPInfo %v: want the base fields and a non-zero token", end, in)
					}
					tokens[end] = in.Token
					if got := in.TotalSubflows(); got != 1 {
						t.Errorf("%s: TotalSubflows = %d, want 1", end, got)
					}
					subs, err := conn.Subflows()
					if err != nil {
						t.Fatalf("%s: Subflows: %v", end, err)
					}
					if len(subs) != 1 {
						t.Fatalf("%s: %d subflows, want 1: %v", end, len(subs), subs)
					}
					sf := subs[0]
					checkLoopbackSubflow(t, end, conn, sf)
					wantID := uint32(1)
					if noFullInfo(&host) {
						wantID = 0
					}
					if set {
						wantID = want.SubflowID
					}
					if sf.ID != wantID {
						t.Errorf("%s: subflow id %d, want %d", end, sf.ID, wantID)
					}
					if set && sf.TCP.Fields() != want.TCPInfoFields {
						t.Errorf("%s: subflow tcp_info groups %v, want %v", end, sf.TCP.Fields(), want.TCPInfoFields)
					}
					if set && in.Fields() != want.InfoFields {
						t.Errorf("%s: mptcp_info groups %v, want %v", end, in.Fields(), want.InfoFields)
					}
				}
				if tokens["client"] == tokens["server"] {
					t.Errorf("client and server report the same token %08x", tokens["client"])
				}
			})
			t.Run("MPTCP to plain TCP", func(t *testing.T) {
				l := listenPlainTCP(t, network)
				c, s := dialAccept(t, &Dialer{}, network, l)
				client, server := c.(*MPTCPConn), NewConn(s.(*net.TCPConn))
				exchange(t, client, server, 1000)
				mustMultipath(t, "client", client, false)
				mustMultipath(t, "server", server, false)
				checkNotMPTCP(t, "client", client)
				checkNotMPTCP(t, "server", server)
			})
			t.Run("plain TCP to MPTCP", func(t *testing.T) {
				l := listenLoopback(t, network)
				var d Dialer
				d.SetMultipathTCP(false)
				c, s := dialAccept(t, &d, network, l)
				client, server := c.(*MPTCPConn), s.(*MPTCPConn)
				exchange(t, client, server, 1000)
				mustMultipath(t, "client", client, false)
				mustMultipath(t, "server", server, false)
				checkNotMPTCP(t, "client", client)
				checkNotMPTCP(t, "server", server)
			})
		})
	}
}

// checkWithoutSOLMPTCP checks both ends of an MPTCP connection on a
// kernel without SOL_MPTCP (before 5.16): both are MPTCP sockets, which
// the package reports as MPTCP, and MPTCPInfo and Subflows answer from
// socket diagnostics as the expectation says (or fail with
// errors.ErrUnsupported on a kernel without them).
func checkWithoutSOLMPTCP(t *testing.T, client, server *MPTCPConn, want kernelPaths, set bool) {
	t.Helper()
	for end, conn := range map[string]*MPTCPConn{"client": client, "server": server} {
		if p := socketProtocol(t, conn); p != unix.IPPROTO_MPTCP {
			t.Errorf("%s: socket protocol %d, want MPTCP (%d)", end, p, unix.IPPROTO_MPTCP)
		}
		mustMultipath(t, end, conn, true)
		in, err := conn.MPTCPInfo()
		got := pathDiag
		if err != nil {
			got = errorName(err)
		}
		if (set && got != want.Info) || (!set && got != pathDiag && got != "ErrUnsupported") {
			t.Errorf("%s: MPTCPInfo: %v (%s), want %s", end, err, got, want.Info)
		}
		if err == nil && (in.Token == 0 || in.TotalSubflows() != 1) {
			t.Errorf("%s: MPTCPInfo from socket diagnostics: token %08x, %d subflows; want a token and 1", end, in.Token, in.TotalSubflows())
		}
		subs, err := conn.Subflows()
		got = pathDiag
		if err != nil {
			got = errorName(err)
		}
		if (set && got != want.Subflows) || (err == nil && len(subs) != 1) {
			t.Errorf("%s: Subflows: %v, %v (%s), want %s and one subflow", end, subs, err, got, want.Subflows)
		}
		if err == nil && len(subs) == 1 {
			checkLoopbackSubflow(t, end, conn, subs[0])
		}
	}
}

// checkLoopbackSubflow checks the one subflow of an end of a loopback
// MPTCP connection that moved data: the connection's addresses, and the
// tcp_info of an established connection that sent and received.
func checkLoopbackSubflow(t *testing.T, end string, conn *MPTCPConn, sf Subflow) {
	t.Helper()
	if local := addrPort(t, conn.LocalAddr()); sf.Local != local {
		t.Errorf("%s: subflow local address %v, connection's %v", end, sf.Local, local)
	}
	if remote := addrPort(t, conn.RemoteAddr()); sf.Remote != remote {
		t.Errorf("%s: subflow remote address %v, connection's %v", end, sf.Remote, remote)
	}
	if tcp := sf.TCP; tcp.State != StateEstablished || tcp.BytesReceived+tcp.BytesAcked == 0 ||
		tcp.SndMSS == 0 || tcp.SndCwnd == 0 || !tcp.Has(TCPInfoBase) {
		t.Errorf("%s: subflow tcp_info is not that of an established connection that moved data: %+v", end, tcp)
	}
}

// socketProtocol returns SO_PROTOCOL of the connection's socket.
func socketProtocol(t *testing.T, c syscall.Conn) int32 {
	t.Helper()
	var proto int32
	var errno syscall.Errno
	onFD(t, c, func(fd uintptr) { proto, errno = getsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL) })
	if errno != 0 {
		t.Fatalf("SO_PROTOCOL: %v", errno)
	}
	return proto
}

// TestKernelWithoutMPTCP checks, on a kernel that cannot create MPTCP
// sockets, that the Dialer and Listener work over TCP and say so.
func TestKernelWithoutMPTCP(t *testing.T) {
	name, want, set := kernelExpectation(t)
	err := mptcpSocketErr()
	switch {
	case err == nil && set && !want.MPTCP:
		t.Fatalf("kernel %s must not create MPTCP sockets, but it does", name)
	case err == nil:
		t.Skip("this kernel creates MPTCP sockets: TestKernelMPTCPLoopback covers it")
	case set && want.MPTCP:
		t.Fatalf("kernel %s must create MPTCP sockets: %v", name, err)
	case set && !errors.Is(err, want.SocketErr):
		t.Errorf("socket(IPPROTO_MPTCP): %v, want %v", err, want.SocketErr)
	}
	for _, network := range networks(t) {
		t.Run(network, func(t *testing.T) {
			l := listenLoopback(t, network)
			if ok, err := l.MultipathTCP(); err != nil || ok {
				t.Errorf("Listener.MultipathTCP = %v, %v; want false", ok, err)
			}
			accepted := acceptAll(l)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := (&Dialer{}).DialContext(ctx, network, l.Addr().String())
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			var s net.Conn
			select {
			case s = <-accepted:
			case <-ctx.Done():
				t.Fatal("accept timed out")
			}
			defer s.Close()
			exchange(t, c, s, 1000)
			for end, conn := range map[string]*MPTCPConn{"client": c.(*MPTCPConn), "server": s.(*MPTCPConn)} {
				if p := socketProtocol(t, conn); p != unix.IPPROTO_TCP {
					t.Errorf("%s: socket protocol %d, want TCP (6)", end, p)
				}
				mustMultipath(t, end, conn, false)
				checkNotMPTCP(t, end, conn)
			}

			// Strict mode refuses before connecting: the server sees nothing.
			sc, err := (&Dialer{RequireMPTCP: true}).DialContext(ctx, network, l.Addr().String())
			if err == nil {
				sc.Close()
				t.Fatal("Dialer{RequireMPTCP: true} connected on a kernel without MPTCP")
			}
			checkOpError(t, "strict dial", err, ErrNotMPTCP)
			select {
			case s, ok := <-accepted:
				if ok {
					s.Close()
					t.Error("the strict dial still reached the server")
				}
			case <-time.After(200 * time.Millisecond):
			}
		})
	}
}

// getsockopt and getsockoptInt call the running kernel directly, for
// tests that compare the package with the kernel's own answers.
func getsockopt(fd uintptr, level, name int, buf unsafe.Pointer, optlen *uint32) syscall.Errno {
	return liveKernel{}.getsockopt(fd, level, name, buf, optlen)
}

func getsockoptInt(fd uintptr, level, name int) (int32, syscall.Errno) {
	var v int32
	optlen := uint32(4)
	errno := getsockopt(fd, level, name, unsafe.Pointer(&v), &optlen)
	return v, errno
}

func TestKernelProbeMatchesConnection(t *testing.T) {
	requireMPTCP(t)
	client, _ := mptcpPair(t, "tcp4")
	mustMultipath(t, "client", client, true)
	rc, err := client.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// Whatever the probe chose, the answer it chose must be what the
	// kernel says on a real connection.
	rc.Control(func(fd uintptr) {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_TCP, optTCPIsMPTCP)
		switch host.get() {
		case readerFullInfo:
			if err != nil || v != 1 {
				t.Errorf("probe chose TCP_IS_MPTCP, but it answers %d, %v", v, err)
			}
		default:
			if err == nil {
				t.Errorf("probe did not choose TCP_IS_MPTCP, but the kernel answers it (%d)", v)
			}
		}
	})
}
