package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp"
	mib "github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
)

// The causes of the table (explain.Causes) built in a test bed, one test
// each, named in the table's Test column. Each checks why's code on the
// client and, where the cause shows on the server too, the server's
// counters. On a kernel that lacks the counter a cause rests on, the
// same test checks that why names the missing counter instead of another
// cause (wantCause): the kernel matrix runs them on every kernel.

// missingIn returns the evidence of the table that ns's kernel lacks, as
// why computes it (explain.MissingEvidence).
func missingIn(t *testing.T, ns *testbed.NS) []string {
	t.Helper()
	var missing []string
	if err := ns.Do(func() error {
		c, err := mib.Read(nil)
		missing = missingEvidence(c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return missing
}

// wantCause checks the verdict of a built cause: code, when the client's
// kernel has counter, the counter the verdict rests on; otherwise an
// unknown that names counter as missing on this kernel, and not another
// cause.
func wantCause(t *testing.T, ns *testbed.NS, rep whyReport, code, counter string) {
	t.Helper()
	if !slices.Contains(missingIn(t, ns), counter) {
		wantCodes(t, rep, code)
		if e := rep.Explanations[0]; !strings.Contains(strings.Join(e.Evidence, "\n"), "counter "+counter+" +") {
			t.Errorf("%s: the evidence does not name the counter %s: %q", code, counter, e.Evidence)
		}
		return
	}
	t.Logf("this kernel has no counter %s: why must say so", counter)
	wantCodes(t, rep, explain.Unknown)
	if ev := strings.Join(rep.Explanations[0].Evidence, "\n"); !strings.Contains(ev, "counter "+counter+" does not exist on this kernel") {
		t.Errorf("unknown does not name the missing counter %s:\n%s", counter, ev)
	}
}

// countersOf reads the MPTcpExt counters of ns.
func countersOf(t *testing.T, ns *testbed.NS) mib.Counters {
	t.Helper()
	var c mib.Counters
	if err := ns.Do(func() (err error) {
		c, err = mib.Read(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// wantMoved checks that each of names moved in ns since before, where
// the kernel has it: the side of the cause the table gives.
func wantMoved(t *testing.T, ns *testbed.NS, before mib.Counters, names ...string) {
	t.Helper()
	after := countersOf(t, ns)
	for _, n := range names {
		v, ok := after.Sub(before).Get(n)
		switch {
		case !ok:
			t.Logf("%s: no counter %s on this kernel", ns.Name, n)
		case v == 0:
			t.Errorf("%s: counter %s did not move; moved: %v", ns.Name, n, moved(after.Sub(before)))
		}
	}
}

func moved(c mib.Counters) []string {
	var out []string
	for _, x := range c {
		if x.Value > 0 && x.Name != "MPCurrEstab" {
			out = append(out, fmt.Sprintf("%s+%d", x.Name, x.Value))
		}
	}
	return out
}

// sideOf is the table's side for counter.
func sideOf(t *testing.T, counter string) string {
	t.Helper()
	for _, c := range explain.Causes() {
		if slices.Contains(c.Counters, counter) {
			return c.Side
		}
	}
	t.Fatalf("no row of the table lists %s", counter)
	return ""
}

// SYNs with the MPTCP option are dropped on the way in, plain SYNs are
// not: after syn_retrans_before_tcp_fallback retransmissions (1 here) the
// kernel retries without the option, and the connection is plain TCP.
// The blackhole detection is off, so that only the drop is explained.
// Before 6.12 the kernel never retries without the option (its MPTCP SYNs
// are retransmitted until the dial times out); 6.12 to 6.14 retry after a
// fixed 2 SYNs, with no sysctl to make the test quick, so the test needs
// the sysctl.
func TestWhySYNDropFallback(t *testing.T) {
	b := testbed.New(t, 1)
	if slices.Contains(missingIn(t, b.Client), "net.mptcp.syn_retrans_before_tcp_fallback") {
		testenv.SkipKernelLacks(t, "net.mptcp.syn_retrans_before_tcp_fallback, which sets how many MPTCP SYNs go before the plain retry", "6.15")
	}
	testbed.Require(t, "iptables")
	b.Client.Sysctl("net.mptcp.blackhole_timeout", "0")
	b.Client.Sysctl("net.mptcp.syn_retrans_before_tcp_fallback", "1")
	b.Server.Run("iptables", "-A", "INPUT", "-p", "tcp", "--syn", "-m", "tcp", "--tcp-option", "30", "-j", "DROP")
	addr := bannerServer(t, b, true, "hello\n")
	rep := whyIn(t, b.Client, addr)
	wantCause(t, b.Client, rep, explain.OptionStripped, "MPCapableSYNTXDrop")
	if msg := rep.Explanations[0].Message; !strings.Contains(msg, "syn_retrans_before_tcp_fallback") || !strings.Contains(msg, "--tcp-option 30") {
		t.Errorf("the message does not name the sysctl and the fix: %s", msg)
	}
	if rep.Connection.MPTCP {
		t.Error("the connection reports MPTCP")
	}
}

// A firewall in front of the server resets SYNs that carry the MPTCP
// option and lets plain ones through: the dialer's MPTCP attempt is
// refused, it retries with plain TCP, and no fallback counter moves; the
// connection is a plain TCP socket, which why must not blame on a kernel
// without MPTCP or a dialer that asked for TCP.
//
// 5.10 never completes a non-blocking MPTCP connect that a reset refuses
// (the Dialer's doc, KERNEL.md): the dial cannot see the refusal, so
// there is no connection to explain, and why must fail with a clear error
// within its -timeout rather than hang.
func TestWhyMPTCPSYNRefused(t *testing.T) {
	b := testbed.New(t, 1)
	addr := bannerServer(t, b, true, "hello\n")
	hangs := refusedConnectHangs(t, b.Client, netip.AddrPortFrom(b.Links[0].Server, 9))
	resetMPTCPSYNs(t, b.Server, netip.MustParseAddrPort(addr).Port())
	if hangs {
		t.Log("this kernel never completes a refused non-blocking MPTCP connect: why must fail with a timeout")
		var code int
		var out, errs bytes.Buffer
		start := time.Now()
		b.Client.Do(func() error {
			code = run(context.Background(), []string{"why", "-json", "-timeout", "3s", addr}, &out, &errs)
			return nil
		})
		took := time.Since(start)
		if code != exitFail || out.Len() != 0 || !strings.Contains(errs.String(), "cannot connect to "+addr) ||
			!strings.Contains(errs.String(), "i/o timeout") || took > 15*time.Second {
			t.Errorf("why -timeout 3s: status %d after %v\nstdout: %s\nstderr: %s\nwant status %d and a timeout naming %s", code, took, out.String(), errs.String(), exitFail, addr)
		}
		return
	}
	rep := whyIn(t, b.Client, addr)
	wantCause(t, b.Client, rep, explain.OptionStripped, "MPCapableSYNTX")
	if e := rep.Explanations[0]; !strings.Contains(e.Message, "refused (reset)") || !strings.Contains(e.Message, "--tcp-option 30") {
		t.Errorf("the message does not say the MPTCP SYN was refused, and the fix: %s", e.Message)
	}
}

// refusedConnectHangs reports whether ns's kernel leaves a non-blocking
// MPTCP connect to closed, a port that refuses it, without an answer for
// two seconds, as 5.10 does: the reset reaches the subflow, not the MPTCP
// socket.
func refusedConnectHangs(t *testing.T, ns *testbed.NS, closed netip.AddrPort) bool {
	t.Helper()
	var hangs bool
	if err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		err = unix.Connect(fd, &unix.SockaddrInet4{Addr: closed.Addr().As4(), Port: int(closed.Port())})
		if !errors.Is(err, unix.EINPROGRESS) {
			return fmt.Errorf("connect to %v: %v, want EINPROGRESS", closed, err)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n := 0
		// The runtime's signals interrupt the poll: poll again, for what
		// is left of the two seconds.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
			if n, err = unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if hangs = n == 0; !hangs {
			if soErr, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); soErr != int(unix.ECONNREFUSED) {
				return fmt.Errorf("connect to %v: SO_ERROR %v, want ECONNREFUSED", closed, unix.Errno(soErr))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return hangs
}

// resetMPTCPSYNs makes ns answer each SYN to port that carries the MPTCP
// option with a reset, as a firewall's "REJECT --reject-with tcp-reset"
// does, and lets plain SYNs through. It does without the REJECT target
// (the kernel matrix's 5.10 build lacks it), with nftables' core alone:
// such a SYN goes on to a closed port, whose reset goes back from port.
// Neither rule needs connection tracking.
func resetMPTCPSYNs(t *testing.T, ns *testbed.NS, port uint16) {
	t.Helper()
	testbed.Require(t, "nft")
	const table, closed = "mptcpreset", "9" // nothing listens on the discard port
	p := strconv.Itoa(int(port))
	ns.Run("nft", "add table ip "+table)
	ns.Run("nft", "add chain ip "+table+" in { type filter hook prerouting priority -300 ; }")
	ns.Run("nft", "add rule ip "+table+" in tcp dport "+p+" tcp flags & (syn|ack) == syn tcp option mptcp exists tcp dport set "+closed)
	ns.Run("nft", "add chain ip "+table+" out { type filter hook output priority -300 ; }")
	ns.Run("nft", "add rule ip "+table+" out tcp sport "+closed+" tcp flags & rst == rst tcp sport set "+p)
}

// A middlebox strips the MPTCP option from packets other than SYNs: the
// handshake offers MPTCP both ways, then the kernel falls back when data
// comes without a mapping. Stripped from the server's data, the client
// counts it; stripped from the client's third ACK onwards, the server
// falls back first (MPCapableFallbackACK, the server's side of the
// cause), then the client when the server's data comes without a mapping.
func TestWhyDataFallback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client bool // the client's packets are stripped, else the server's
		server []string
	}{
		{"server's data", false, nil},
		{"client's ACK", true, []string{"MPCapableFallbackACK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testbed.New(t, 1)
			testbed.Require(t, "iptables")
			addr, explainServer := serverWhy(t, b, strings.Repeat("hello world\n", 100))
			port := strconv.Itoa(int(netip.MustParseAddrPort(addr).Port()))
			if tc.client {
				b.Client.Run("iptables", "-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "--dport", port, "!", "--syn",
					"-j", "TCPOPTSTRIP", "--strip-options", "30")
			} else {
				// Segments that carry data, which end each write with PSH:
				// the handshake and the bare ACKs keep their option. (The tcp
				// match, not the length one, which the kernel matrix's 5.10
				// build lacks.)
				b.Server.Run("iptables", "-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "--sport", port, "--tcp-flags", "PSH", "PSH",
					"-j", "TCPOPTSTRIP", "--strip-options", "30")
			}
			before := countersOf(t, b.Server)
			rep := whyIn(t, b.Client, addr)
			wantCause(t, b.Client, rep, explain.DataFallback, "MPCapableDataFallback")
			wantMoved(t, b.Server, before, tc.server...)
			for _, n := range tc.server {
				if side := sideOf(t, n); side != "server" && side != "both" {
					t.Errorf("the table says %s shows on the %s side; it moved on the server", n, side)
				}
				// why's rules on the server's accepted connection.
				want := explain.DataFallback
				if slices.Contains(missingIn(t, b.Server), n) {
					want = explain.Unknown
				}
				if exps := explainServer(5*time.Second, want); !slices.Equal(codesOf(exps), []string{want}) {
					t.Errorf("the server's connection: codes %v, want %s", codesOf(exps), want)
				}
			}
		})
	}
}

// corruptPayload changes the first byte of the payload of every segment
// of more than 120 bytes (more than the headers and options of one with
// none) that ns sends from or to port, with nftables. The
// TCP checksum is not fixed, and need not be: on a veth pair it is left to
// an offload that never happens, so the receiver's TCP takes the segment
// and only MPTCP's own checksum can see the change.
func corruptPayload(t *testing.T, ns *testbed.NS, dir, port string) {
	t.Helper()
	testbed.Require(t, "nft")
	table := "mptcpcorrupt"
	ns.Run("nft", "add table ip "+table)
	ns.Run("nft", "add chain ip "+table+" out { type filter hook output priority 0 ; }")
	ns.Run("nft", "add rule ip "+table+" out tcp "+dir+" "+port+" meta length > 120 @ih,0,8 set 0x58")
}

// The MPTCP data checksum (net.mptcp.checksum_enabled=1 on both ends)
// fails on the one path, whose payload a rule changes: the receiver falls
// back to TCP at the data level. The server's banner corrupted, the
// client sees it (checksum-failed); the client's request corrupted, the
// server does (its DataCsumErr and DssFallback: the server's side of the
// cause, and why's rules on its connection say checksum-failed), and the
// client sees only that the server's data lost its mapping
// (data-fallback).
func TestWhyChecksumFailed(t *testing.T) {
	b := testbed.New(t, 1)
	if slices.Contains(missingIn(t, b.Client), "net.mptcp.checksum_enabled") {
		testenv.SkipKernelLacks(t, "the MPTCP data checksum (net.mptcp.checksum_enabled)", "5.14")
	}
	for _, ns := range []*testbed.NS{b.Client, b.Server} {
		ns.Sysctl("net.mptcp.checksum_enabled", "1")
	}

	t.Run("banner", func(t *testing.T) {
		addr := bannerServer(t, b, true, strings.Repeat("hello world\n", 100))
		corruptPayload(t, b.Server, "sport", strconv.Itoa(int(netip.MustParseAddrPort(addr).Port())))
		rep := whyIn(t, b.Client, addr)
		wantCause(t, b.Client, rep, explain.ChecksumFailed, "DataCsumErr")
		if !strings.Contains(rep.Explanations[0].Message, "changed the payload") {
			t.Errorf("checksum-failed does not say the payload changed: %s", rep.Explanations[0].Message)
		}
	})

	t.Run("request", func(t *testing.T) {
		ln := b.Server.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", ":0") })
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(bytes.Repeat([]byte("x"), 10000))
		}))
		port := ln.Addr().(*net.TCPAddr).Port
		corruptPayload(t, b.Client, "dport", strconv.Itoa(port))
		url := fmt.Sprintf("http://%v/", netip.AddrPortFrom(b.Links[0].Server, uint16(port)))
		before := countersOf(t, b.Server)
		var code int
		var out, errs bytes.Buffer
		// The transport dials from goroutines of its own: in the namespace.
		dial := b.Client.Dialer((&mptcp.Dialer{Timeout: 10 * time.Second}).DialContext)
		b.Client.Do(func() error {
			code = why(context.Background(), whyOptions{target: url, isURL: true, json: true, timeout: 30 * time.Second, dial: dial}, &out, &errs)
			return nil
		})
		rep := decodeWhy(t, code, out.String(), errs.String())
		wantMoved(t, b.Server, before, "DataCsumErr", "DssFallback")
		if side := sideOf(t, "DataCsumErr"); side != "both" {
			t.Errorf("the table says DataCsumErr shows on the %s side; it moved on the server, as on the client above", side)
		}
		wantCause(t, b.Client, rep, explain.DataFallback, "MPCapableDataFallback")
	})

	// The same failure as the server sees it, by why's rules on the
	// connection it accepted: a client's data changed on the way.
	t.Run("client's data, the server's view", func(t *testing.T) {
		addr, explainServer := serverWhy(t, b, "")
		corruptPayload(t, b.Client, "dport", strconv.Itoa(int(netip.MustParseAddrPort(addr).Port())))
		var c net.Conn
		if err := b.Client.Do(func() (err error) {
			c, err = (&mptcp.Dialer{Timeout: 10 * time.Second}).Dial("tcp", addr)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(bytes.Repeat([]byte("x"), 2000)); err != nil {
			t.Fatal(err)
		}
		if exps := explainServer(5*time.Second, explain.ChecksumFailed); !slices.Equal(codesOf(exps), []string{explain.ChecksumFailed}) {
			t.Errorf("the server's connection: codes %v, want checksum-failed", codesOf(exps))
		}
	})
}

// A simultaneous connect: the client's SYN to the server's port is lost
// (a rule drops it, so the client waits in SYN_SENT), and the server
// connects from that port to the client's at the same time. The client
// sees the server's SYN, answers as in a simultaneous open, and falls
// back to TCP, since MPTCP has none; the server, whose SYN/ACK came
// without MP_CAPABLE, counts a plain fallback of its own
// (MPCapableFallbackSYNACK).
func TestWhySimultaneousConnect(t *testing.T) {
	b := testbed.New(t, 1)
	testbed.Require(t, "iptables")
	const clientPort, serverPort = 40001, 40002
	b.Client.Run("iptables", "-A", "OUTPUT", "-p", "tcp", "--sport", strconv.Itoa(clientPort), "--tcp-flags", "SYN,ACK", "SYN",
		"-m", "comment", "--comment", "mptcpcheck-simult", "-j", "DROP")
	before := countersOf(t, b.Server)
	dropped := func() bool {
		for _, line := range strings.Split(b.Client.Run("iptables", "-S", "OUTPUT", "-v"), "\n") {
			if strings.Contains(line, "mptcpcheck-simult") {
				return !strings.Contains(line, "-c 0 ")
			}
		}
		return false
	}
	serverDone := make(chan error, 1)
	go func() {
		// Once the client's first SYN was dropped, within the dial's
		// timeout: the client is in SYN_SENT.
		for i := 0; i < 100 && !dropped(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		serverDone <- b.Server.Do(func() error {
			d := mptcp.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: b.Links[0].Server.AsSlice(), Port: serverPort}}
			c, err := d.Dial("tcp", netip.AddrPortFrom(b.Links[0].Client, clientPort).String())
			if err != nil {
				return err
			}
			c.Write([]byte("hello\n"))
			t.Cleanup(func() { c.Close() })
			return nil
		})
	}()
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		d := mptcp.Dialer{LocalAddr: &net.TCPAddr{IP: b.Links[0].Client.AsSlice(), Port: clientPort}}
		return d.DialContext(ctx, network, address)
	}
	var code int
	var out, errs bytes.Buffer
	b.Client.Do(func() error {
		code = why(context.Background(), whyOptions{target: netip.AddrPortFrom(b.Links[0].Server, serverPort).String(),
			json: true, timeout: 10 * time.Second, wait: time.Second, dial: dial}, &out, &errs)
		return nil
	})
	if err := <-serverDone; err != nil {
		t.Fatalf("the server's connect: %v", err)
	}
	rep := decodeWhy(t, code, out.String(), errs.String())
	wantCause(t, b.Client, rep, explain.SimultaneousConnect, "SimultConnectFallback")
	wantMoved(t, b.Server, before, "MPCapableFallbackSYNACK")
}

// The table's reason why md5-signature is not built: MPTCP sockets refuse
// TCP_MD5SIG, new or listening, so no MPTCP socket can get a key from user
// space, and a Go listener that asks for both is a plain TCP one. Should a
// kernel accept it, this fails, and the cause can be built.
func TestCauseMD5SigRefusedByMPTCPSockets(t *testing.T) {
	b := testbed.New(t, 1)
	if err := b.Client.Do(func() error {
		for _, listen := range []bool{false, true} {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if listen {
				if err := unix.Bind(fd, &unix.SockaddrInet4{}); err != nil {
					return err
				}
				if err := unix.Listen(fd, 1); err != nil {
					return err
				}
			}
			sig := &unix.TCPMD5Sig{Keylen: 6}
			copy(sig.Key[:], "secret")
			sig.Addr.Family = unix.AF_INET
			err = unix.SetsockoptTCPMD5Sig(fd, unix.IPPROTO_TCP, unix.TCP_MD5SIG, sig)
			if !errors.Is(err, unix.ENOPROTOOPT) && !errors.Is(err, unix.EOPNOTSUPP) {
				return fmt.Errorf("TCP_MD5SIG on an MPTCP socket (listening %v): %v, want ENOPROTOOPT or EOPNOTSUPP", listen, err)
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	// Go's listener that asks for MPTCP and sets the key retries with a
	// plain TCP socket, which takes it: an MD5-signed listener is a
	// plain TCP one.
	var setErrs []error
	listen := func() (net.Listener, error) {
		lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) {
				sig := &unix.TCPMD5Sig{Keylen: 6}
				copy(sig.Key[:], "secret")
				sig.Addr.Family = unix.AF_INET
				err = unix.SetsockoptTCPMD5Sig(int(fd), unix.IPPROTO_TCP, unix.TCP_MD5SIG, sig)
			})
			setErrs = append(setErrs, err)
			return err
		}}
		lc.SetMultipathTCP(true)
		return lc.Listen(context.Background(), "tcp4", ":0")
	}
	if !tcpMD5(t, b.Server) {
		// A kernel built without TCP MD5 signatures (CONFIG_TCP_MD5SIG
		// off, as the kernel matrix's 5.10 build is) refuses the key on
		// every socket: no connection is signed, md5-signature cannot
		// happen, and the listener fails on both tries.
		var err error
		b.Server.Do(func() error {
			var ln net.Listener
			if ln, err = listen(); err == nil {
				ln.Close()
			}
			return nil
		})
		if !errors.Is(err, unix.ENOPROTOOPT) || len(setErrs) != 2 || !errors.Is(setErrs[1], unix.ENOPROTOOPT) {
			t.Errorf("without TCP MD5 signatures, a Go listener with MPTCP and TCP_MD5SIG: %v, the key's errors %v; want ENOPROTOOPT from both tries", err, setErrs)
		}
		return
	}
	ln := b.Server.Listen(listen)
	if isMPTCPSocket(ln.(*net.TCPListener)) || len(setErrs) != 2 || setErrs[0] == nil || setErrs[1] != nil {
		t.Errorf("a Go listener with MPTCP and TCP_MD5SIG: MPTCP socket %v, the key's errors %v; want a plain TCP listener after a refused first try",
			isMPTCPSocket(ln.(*net.TCPListener)), setErrs)
	}
}

// tcpMD5 reports whether ns's kernel signs TCP segments with MD5: a
// plain TCP socket takes a key.
func tcpMD5(t *testing.T, ns *testbed.NS) bool {
	t.Helper()
	var err error
	if derr := ns.Do(func() error {
		fd, serr := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if serr != nil {
			return serr
		}
		defer unix.Close(fd)
		sig := &unix.TCPMD5Sig{Keylen: 6}
		copy(sig.Key[:], "secret")
		sig.Addr.Family = unix.AF_INET
		err = unix.SetsockoptTCPMD5Sig(fd, unix.IPPROTO_TCP, unix.TCP_MD5SIG, sig)
		return nil
	}); derr != nil {
		t.Fatal(derr)
	}
	if err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
		t.Fatalf("TCP_MD5SIG on a TCP socket: %v", err)
	}
	return err == nil
}

// The missing evidence of an older kernel: a kernel that lists every
// counter of the table (as 6.18 does: internal/explain checks the table
// against its recorded list) lacks none of them, and one without the five
// of 6.17 (what 6.12 lists) lacks exactly those five, which why would
// name. The counters are made up here,
// not read from a recorded file: the kernel matrix's machines hold only
// this package's test data.
func TestCauseMissingEvidenceOfAnOlderKernel(t *testing.T) {
	var all mib.Counters
	for _, c := range explain.Causes() {
		for _, n := range c.Counters {
			if _, ok := all.Get(n); !ok {
				all = append(all, mib.Counter{Name: n})
			}
		}
	}
	// Only the counters are made up: the sysctls and the events are this
	// kernel's.
	counter := func(n string) bool { return !strings.HasPrefix(n, "net.") && n != explain.PMEvents }
	if got := missingEvidence(all); slices.ContainsFunc(got, counter) {
		t.Errorf("every counter of the table: %v missing", got)
	}
	newer := []string{"MPCapableDataFallback", "MD5SigFallback", "DssFallback", "SimultConnectFallback", "FallbackFailed"}
	older := slices.DeleteFunc(slices.Clone(all), func(c mib.Counter) bool { return slices.Contains(newer, c.Name) })
	var got []string
	for _, n := range missingEvidence(older) {
		if counter(n) {
			got = append(got, n)
		}
	}
	slices.Sort(got)
	slices.Sort(newer)
	if !slices.Equal(got, newer) {
		t.Errorf("6.12's counters: missing %v, want %v", got, newer)
	}
}

// doctor notes the evidence of the table this kernel lacks, each item by
// name, and nothing where it lacks none (6.18): on a fleet of mixed
// kernels, the hosts where why can tell fewer causes apart.
func TestCauseDoctorNotesMissingEvidence(t *testing.T) {
	b := testbed.New(t, 1)
	missing := missingIn(t, b.Client)
	_, out := doctorIn(t, b.Client, "-json")
	var doc doctorReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor -json: %v\n%s", err, out)
	}
	var note string
	for _, n := range doc.Host.Notes {
		if strings.Contains(n, "this kernel lacks evidence") {
			note = n
		}
	}
	if len(missing) == 0 {
		if note != "" {
			t.Errorf("nothing is missing on this kernel, but doctor notes: %s", note)
		}
		return
	}
	t.Logf("this kernel lacks %v", missing)
	for _, m := range missing {
		if !strings.Contains(note, " "+m+" (") {
			t.Errorf("doctor's note does not name %s: %q", m, note)
		}
	}
}
