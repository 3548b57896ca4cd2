package mptcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests drive the getsockopt readers through the kernel seam with the
// answers real kernels gave (testdata/kernels: 6.1, 6.12, 6.18), and
// with answers no kernel here gives: larger structures, subflows that
// change between calls, descriptors that run out.

// recordedAddrs decodes a recorded struct mptcp_subflow_addrs.
func recordedAddrs(b []byte) (local, remote netip.AddrPort) {
	return decodeSockaddr(b[:sockaddrLen]), decodeSockaddr(b[sockaddrLen:subflowAddrsLen])
}

// What each recorded kernel must take, from KERNEL.md.
var seamExpect = map[string]struct {
	method     string
	noFullInfo bool
	firstID    uint32
}{
	"6.1":  {"MPTCP_INFO", true, 0},
	"6.12": {"TCP_IS_MPTCP", false, 1},
	"6.18": {"TCP_IS_MPTCP", false, 1},
}

// seamKernels are the recorded kernels with SOL_MPTCP; 5.10 with MPTCP
// is replayed by TestSockDiagReaderThroughSeam.
var seamKernels = []string{"6.1", "6.12", "6.18"}

func TestRecordedKernelsThroughSeam(t *testing.T) {
	for _, name := range seamKernels {
		t.Run(name, func(t *testing.T) {
			want := seamExpect[name]
			for _, v := range []string{"4", "6"} {
				k := newFakeKernel(t, name)
				r := k.request(k.fd("mptcp" + v))
				ok, err := k.st.isMPTCP(r)
				if err != nil || !ok {
					t.Fatalf("mptcp%s: isMPTCP = %v, %v; want true", v, ok, err)
				}
				if got := probeNames[k.st.get()]; got != want.method {
					t.Errorf("mptcp%s: learned method %s, want %s", v, got, want.method)
				}
				var in Info
				if err := k.st.info(r, &in); err != nil {
					t.Fatalf("mptcp%s: readInfo: %v", v, err)
				}
				rec := k.rec.Sockets["mptcp"+v]
				if wf := infoFieldsByLen[len(rec.Info.Bytes)]; in.Fields() != wf {
					t.Errorf("mptcp%s: Info fields %v from %d bytes, want %v", v, in.Fields(), len(rec.Info.Bytes), wf)
				}
				if tok := binary.NativeEndian.Uint32(rec.Info.Bytes[miToken:]); in.Token != tok || tok == 0 {
					t.Errorf("mptcp%s: token %08x, recorded %08x", v, in.Token, tok)
				}
				var snap Info
				subs, err := k.st.appendSubflows(r, nil, &snap)
				if err != nil {
					t.Fatalf("mptcp%s: appendSubflows: %v", v, err)
				}
				if got := noFullInfo(k.st); got != want.noFullInfo {
					t.Errorf("mptcp%s: noFullInfo %v, want %v", v, got, want.noFullInfo)
				}
				if len(subs) != 1 || snap.Token != in.Token {
					t.Fatalf("mptcp%s: %d subflows, token %08x: want 1 subflow of %08x", v, len(subs), snap.Token, in.Token)
				}
				local, remote := recordedAddrs(rec.Addrs.Elems[0])
				sf := subs[0]
				if sf.ID != want.firstID || sf.Local != local || sf.Remote != remote || !local.IsValid() {
					t.Errorf("mptcp%s: subflow %d %v -> %v, want %d %v -> %v", v, sf.ID, sf.Local, sf.Remote, want.firstID, local, remote)
				}
				if wf := tcpInfoFieldsByLen[int(rec.TCPInfo.SizeKernel)]; sf.TCP.Fields() != wf || sf.TCP.State != StateEstablished {
					t.Errorf("mptcp%s: tcp_info fields %v state %v, want %v established", v, sf.TCP.Fields(), sf.TCP.State, wf)
				}
			}
			for _, s := range []string{"fallback4", "fallback6", "plain4", "plain6"} {
				k := newFakeKernel(t, name)
				r := k.request(k.fd(s))
				if ok, err := k.st.isMPTCP(r); ok || err != nil {
					t.Errorf("%s: isMPTCP = %v, %v; want false", s, ok, err)
				}
				var in Info
				if err := k.st.info(r, &in); err != ErrNotMPTCP {
					t.Errorf("%s: readInfo: %v, want ErrNotMPTCP", s, err)
				}
				if _, err := k.st.appendSubflows(r, nil, nil); err != ErrNotMPTCP {
					t.Errorf("%s: appendSubflows: %v, want ErrNotMPTCP", s, err)
				}
				if k.open != 0 {
					t.Errorf("%s: %d probe sockets left open", s, k.open)
				}
			}
		})
	}
}

// A probe that cannot conclude keeps nothing: defect "the kernel probe
// can be poisoned". On 6.1 a fallen-back connection needs a fresh MPTCP
// socket to be told from one on a kernel without SOL_MPTCP.
func TestProbeKeepsOnlyConclusiveAnswers(t *testing.T) {
	k := newFakeKernel(t, "6.1")
	st := k.st
	fallback := &request{k: k, fd: k.fd("fallback4")}
	k.socketErr = unix.EMFILE
	ok, err := st.isMPTCP(fallback)
	if ok || !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("descriptors exhausted: isMPTCP = %v, %v; want false and an error matching EMFILE", ok, err)
	}
	if m := st.get(); m != readerUnknown {
		t.Fatalf("a failed probe was kept: method %s", probeNames[m])
	}
	// Plain TCP sockets say nothing of the kernel either.
	plain := &request{k: k, fd: k.fd("plain6")}
	if ok, err := st.isMPTCP(plain); ok || err != nil {
		t.Fatalf("plain TCP: isMPTCP = %v, %v", ok, err)
	}
	if m := st.get(); m != readerUnknown {
		t.Fatalf("a plain TCP socket taught %s", probeNames[m])
	}
	k.socketErr = 0
	if ok, err := st.isMPTCP(fallback); ok || err != nil {
		t.Fatalf("descriptors back: isMPTCP = %v, %v; want false", ok, err)
	}
	if m := probeNames[st.get()]; m != "MPTCP_INFO" {
		t.Fatalf("method %s after a conclusive probe, want MPTCP_INFO", m)
	}
	made := k.sockets
	if ok, err := st.isMPTCP(fallback); ok || err != nil || k.sockets != made {
		t.Fatalf("known kernel: isMPTCP = %v, %v with %d more sockets; want false and none", ok, err, k.sockets-made)
	}

	// 6.10+ answers TCP_IS_MPTCP on the connection itself: no socket is
	// needed, so running out of descriptors changes nothing.
	k = newFakeKernel(t, "6.18")
	k.socketErr = unix.EMFILE
	r := k.request(k.fd("fallback4"))
	if ok, err := k.st.isMPTCP(r); ok || err != nil || k.sockets != 0 {
		t.Fatalf("6.18 fallback: isMPTCP = %v, %v after %d socket() calls", ok, err, k.sockets)
	}
	if m := probeNames[k.st.get()]; m != "TCP_IS_MPTCP" {
		t.Fatalf("6.18: method %s", m)
	}
}

// A kernel before 5.16 (no SOL_MPTCP): every MPTCP socket refuses every
// option, fresh ones too, and only SO_PROTOCOL is left. The recording of
// 6.1 is turned into one: no kernel with MPTCP before 5.16 boots here.
func TestProbeKernelWithoutSOLMPTCP(t *testing.T) {
	k := newFakeKernel(t, "6.1")
	for name, s := range k.rec.Sockets {
		s.InfoProbe, s.Info.Errno = int(unix.EOPNOTSUPP), int(unix.EOPNOTSUPP)
		k.rec.Sockets[name] = s
	}
	r := k.request(k.fd("mptcp4"))
	if ok, err := k.st.isMPTCP(r); !ok || err != nil {
		t.Fatalf("isMPTCP = %v, %v; want true", ok, err)
	}
	if m := probeNames[k.st.get()]; m != "SO_PROTOCOL" {
		t.Fatalf("method %s, want SO_PROTOCOL", m)
	}
	var in Info
	if err := k.st.info(r, &in); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("readInfo: %v, want ErrUnsupported", err)
	}
}

// Subflows on 5.16 - 6.4 are read in three calls: when a subflow is
// replaced between them, the statistics of one must not be paired with
// the addresses of another.
func TestSeparateSubflowsRetryWhenReplaced(t *testing.T) {
	k := newFakeKernel(t, "6.1")
	fd := k.fd("mptcp4")
	s := k.sock(fd)
	s.addSubflow(0, 50001)
	s.markSubflows()
	replaced := false
	k.before = func(k *fakeKernel, level, name int) {
		if name == optMPTCPTCPInfo && !replaced {
			// The second subflow closes and a third opens, between the
			// addresses and the statistics.
			replaced = true
			s.addrs, s.tcpInfo = s.addrs[:1], s.tcpInfo[:1]
			s.addSubflow(0, 50002)
		}
	}
	r := k.request(fd)
	k.st.choose(readerSplit)
	subs, err := k.st.appendSubflows(r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 2 {
		t.Fatalf("%d subflows, want 2", len(subs))
	}
	for _, sf := range subs {
		if sf.TCP.SndMSS != uint32(sf.Local.Port()) {
			t.Errorf("subflow %v carries the statistics of the subflow from port %d", sf.Local, sf.TCP.SndMSS)
		}
	}
	if subs[1].Local.Port() != 50002 {
		t.Errorf("second subflow from port %d, want the new one, 50002", subs[1].Local.Port())
	}
	if n := k.count(solMPTCP, optMPTCPSubflowAddrs); n != 4 {
		t.Errorf("%d MPTCP_SUBFLOW_ADDRS calls, want 4 (two rounds)", n)
	}

	// Subflows that change at every call: give up, with an error.
	flip := uint16(0)
	k.before = func(k *fakeKernel, level, name int) {
		flip++
		s.addrs, s.tcpInfo = s.addrs[:1], s.tcpInfo[:1]
		s.addSubflow(0, 51000+flip)
	}
	if _, err := k.st.appendSubflows(r, nil, nil); err != errSubflowsChanging {
		t.Fatalf("ever-changing subflows: %v, want errSubflowsChanging", err)
	}
	if n := k.count(solMPTCP, optMPTCPTCPInfo); n != 2+maxSubflowTrials {
		t.Errorf("%d MPTCP_TCPINFO calls in all, want %d: bounded", n, 2+maxSubflowTrials)
	}
}

// More subflows than the first buffer holds: the buffer grows, on both
// paths; more than maxSubflows is an error, not an allocation.
func TestSubflowsGrow(t *testing.T) {
	for _, name := range []string{"6.1", "6.18"} {
		k := newFakeKernel(t, name)
		fd := k.fd("mptcp4")
		s := k.sock(fd)
		for i := range 8 {
			s.addSubflow(0, uint16(52000+i))
		}
		r := k.request(fd)
		subs, err := k.st.appendSubflows(r, make([]Subflow, 0, 2), nil)
		if err != nil || len(subs) != 9 {
			t.Fatalf("%s: %d subflows, %v; want 9", name, len(subs), err)
		}
		for i, sf := range subs[1:] {
			if sf.Local.Port() != uint16(52000+i) || sf.TCP.SndMSS != uint32(sf.Local.Port()) {
				t.Errorf("%s: subflow %d from %v with snd_mss %d", name, i+1, sf.Local, sf.TCP.SndMSS)
			}
		}
		for len(s.addrs) <= maxSubflows {
			s.addSubflow(0, 1)
		}
		if _, err := k.st.appendSubflows(k.request(fd), nil, nil); err == nil {
			t.Errorf("%s: %d subflows: no error", name, len(s.addrs))
		}
	}
}

// A newer kernel's larger struct mptcp_subflow_info: the known part is
// decoded, on the 64-bit layout and on the 32-bit one (built from the
// 64-bit recording by moving the addresses to offset 4).
func TestFullInfoLargerSubflowInfo(t *testing.T) {
	for _, c := range []struct {
		name         string
		size, offset int
	}{
		{"64-bit, today's 264 bytes", 264, 8},
		{"64-bit, 272 bytes", 272, 8},
		{"32-bit, today's 260 bytes", 260, 4},
		{"32-bit, 264 bytes", 264, 4},
		{"32-bit, 268 bytes", 268, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := newFakeKernel(t, "6.18")
			fd := k.fd("mptcp6")
			s := k.sock(fd)
			s.addSubflow(0, 53000)
			s.markSubflows()
			for i, e := range s.sfInfo {
				b := make([]byte, c.size)
				copy(b, e[:4])
				copy(b[c.offset:], e[8:8+subflowAddrsLen])
				for j := c.offset + subflowAddrsLen; j < c.size; j++ {
					b[j] = 0xee // a field this package does not know
				}
				s.sfInfo[i] = b
			}
			s.sfSize = uint32(c.size)
			subs, err := k.st.appendSubflows(k.request(fd), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(subs) != 2 {
				t.Fatalf("%d subflows", len(subs))
			}
			for i, sf := range subs {
				local, remote := recordedAddrs(s.addrs[i])
				if sf.ID != uint32(i+1) || sf.Local != local || sf.Remote != remote || sf.TCP.SndMSS != uint32(local.Port()) {
					t.Errorf("subflow %d: %d %v -> %v (snd_mss %d), want %d %v -> %v", i, sf.ID, sf.Local, sf.Remote, sf.TCP.SndMSS, i+1, local, remote)
				}
			}
		})
	}
}

// Errors of the seam keep their errnos, so that callers can match them.
func TestSeamErrnosPassThrough(t *testing.T) {
	k := newFakeKernel(t, "6.18")
	fd := k.fd("mptcp4")
	s := k.sock(fd)
	s.rec.FullInfo.Errno = int(unix.EFAULT)
	_, err := k.st.appendSubflows(k.request(fd), nil, nil)
	if !errors.Is(err, syscall.EFAULT) {
		t.Fatalf("EFAULT: %v", err)
	}
	if errors.Is(err, os.ErrClosed) || err == ErrNotMPTCP {
		t.Fatalf("EFAULT reported as %v", err)
	}
}

// Requests come from the static set while it lasts, then are made; each
// is handed to one caller at a time, and every one given back is free.
func TestRequestReuse(t *testing.T) {
	if busyRequests.Load() != 0 {
		t.Fatalf("busy mask %b before the test: a request was never given back", busyRequests.Load())
	}
	seen := map[*request]bool{}
	var got []*request
	for range len(requests) + 2 {
		r := getRequest()
		if seen[r] {
			t.Fatalf("request %p handed out twice", r)
		}
		seen[r] = true
		got = append(got, r)
	}
	for i, r := range got {
		inSet := i < len(requests)
		if (r.slot != 0) != inSet || r.k != (liveKernel{}) {
			t.Errorf("request %d: slot %d, kernel %v: want one of the set: %v", i, r.slot, r.k, inSet)
		}
	}
	for _, r := range got {
		putRequest(r)
	}
	if b := busyRequests.Load(); b != 0 {
		t.Errorf("busy mask %b after every request was given back", b)
	}
}
