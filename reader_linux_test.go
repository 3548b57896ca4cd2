package mptcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// The readers through the seam, on every recorded kernel: which one each
// kernel gets, whichever call comes first, and what each call costs once
// it is chosen.

// seamReaders is the reader each recorded kernel must get.
var seamReaders = map[string]reader{
	"5.10-mptcp": readerSockDiag,
	"6.1":        readerSplit,
	"6.12":       readerFullInfo,
	"6.18":       readerFullInfo,
}

// callCost is what one call asked of the kernel.
type callCost struct{ getsockopt, sockets, diagOpens int }

// steadyCost is what each call costs in steady state, by reader: on 6.5+
// one system call and no netlink socket each; on 5.16 - 6.4 one for
// MPTCPInfo and three for AppendSubflows; on 5.9 - 5.15 SO_PROTOCOL and
// socket diagnostics.
var steadyCost = map[reader]struct{ isMPTCP, info, subflows callCost }{
	readerFullInfo: {callCost{1, 0, 0}, callCost{1, 0, 0}, callCost{1, 0, 0}},
	readerSplit:    {callCost{1, 0, 0}, callCost{1, 0, 0}, callCost{3, 0, 0}},
	readerSockDiag: {callCost{1, 0, 1}, callCost{1, 0, 1}, callCost{1, 0, 2}},
}

func TestReaderChosenOnceAndSteadyStateCalls(t *testing.T) {
	firsts := []struct {
		name string
		call func(st *kernelState, r *request) error
	}{
		{"MultipathTCP", func(st *kernelState, r *request) error { _, err := st.isMPTCP(r); return err }},
		{"MPTCPInfo", func(st *kernelState, r *request) error { var in Info; return st.info(r, &in) }},
		{"AppendSubflows", func(st *kernelState, r *request) error { _, err := st.appendSubflows(r, nil, nil); return err }},
	}
	for _, name := range recordedKernels {
		for _, v := range []string{"4", "6"} {
			for _, first := range firsts {
				t.Run(name+"/mptcp"+v+"/"+first.name+" first", func(t *testing.T) {
					k := newFakeKernel(t, name)
					requireRecordedDiag(t, k)
					r := k.request(k.fd("mptcp" + v))
					r.token = new(atomic.Uint32)
					if err := first.call(k.st, r); err != nil {
						t.Fatalf("first call: %v", err)
					}
					if got, want := k.st.get(), seamReaders[name]; got != want {
						t.Fatalf("reader %s, want %s", probeNames[got], probeNames[want])
					}
					cost := func(what string, want callCost, call func() error) {
						t.Helper()
						k.calls, k.sockets, k.diagOpens = nil, 0, 0
						if err := call(); err != nil {
							t.Fatalf("%s: %v", what, err)
						}
						if got := (callCost{len(k.calls), k.sockets, k.diagOpens}); got != want {
							t.Errorf("%s: %d getsockopt %v, %d socket(), %d socket-diagnostics sockets; want %d, %d, %d",
								what, got.getsockopt, k.calls, got.sockets, got.diagOpens, want.getsockopt, want.sockets, want.diagOpens)
						}
					}
					want := steadyCost[seamReaders[name]]
					var in Info
					dst := make([]Subflow, 0, 8)
					for range 2 {
						cost("MultipathTCP", want.isMPTCP, func() error {
							ok, err := k.st.isMPTCP(r)
							if err == nil && !ok {
								err = errors.New("not MPTCP")
							}
							return err
						})
						cost("MPTCPInfo", want.info, func() error { return k.st.info(r, &in) })
						cost("AppendSubflows", want.subflows, func() error {
							subs, err := k.st.appendSubflows(r, dst, nil)
							if err == nil && len(subs) != 1 {
								t.Errorf("%d subflows, want 1", len(subs))
							}
							return err
						})
					}
				})
			}
		}
	}
}

// requireRecordedDiag fails on a recording of a kernel without SOL_MPTCP
// that lacks what socket diagnostics answered.
func requireRecordedDiag(t *testing.T, k *fakeKernel) {
	t.Helper()
	if seamReaders[k.rec.Name] == readerSockDiag && k.rec.Sockets["mptcp4"].Diag == nil {
		t.Fatalf("testdata/kernels/%s.json has no socket diagnostics: record it again (record_linux_test.go)", k.rec.Name)
	}
}

// 5.10 with MPTCP, replayed: every answer comes from socket
// diagnostics, found by addresses once and by token after that, and
// agrees with what they listed.
func TestSockDiagReaderThroughSeam(t *testing.T) {
	k := newFakeKernel(t, "5.10-mptcp")
	requireRecordedDiag(t, k)
	for _, v := range []string{"4", "6"} {
		k := newFakeKernel(t, "5.10-mptcp")
		rec := k.rec.Sockets["mptcp"+v]
		r := k.request(k.fd("mptcp" + v))
		var token atomic.Uint32
		r.token = &token
		if ok, err := k.st.isMPTCP(r); !ok || err != nil {
			t.Fatalf("mptcp%s: isMPTCP = %v, %v; want true", v, ok, err)
		}
		if probeNames[k.st.get()] != "SO_PROTOCOL" || !noFullInfo(k.st) {
			t.Errorf("mptcp%s: reader %d, want socket diagnostics", v, k.st.get())
		}
		var m sockdiag.Msg
		if err := m.UnmarshalBinary(rec.Diag.MPTCP[0]); err != nil {
			t.Fatal(err)
		}
		raw, _ := m.Attr(sockdiag.AttrInfo)
		want := binary.NativeEndian.Uint32(raw[miToken:])
		if token.Load() != want || want == 0 {
			t.Errorf("mptcp%s: cached token %08x, listed %08x", v, token.Load(), want)
		}
		k.diagQueries = 0
		var in Info
		if err := k.st.info(r, &in); err != nil || in.Token != want || in.Fields() != infoFieldsByLen[len(raw)] {
			t.Errorf("mptcp%s: info %08x %v, %v; want %08x with the fields of %d bytes", v, in.Token, in.Fields(), err, want, len(raw))
		}
		if k.diagQueries != 1 {
			t.Errorf("mptcp%s: %d socket-diagnostics requests once the token is known, want 1", v, k.diagQueries)
		}
		var snap Info
		subs, err := k.st.appendSubflows(r, nil, &snap)
		if err != nil || len(subs) != 1 || snap.Token != want {
			t.Fatalf("mptcp%s: %d subflows, token %08x, %v; want 1 of %08x", v, len(subs), snap.Token, err, want)
		}
		local, remote := netip.MustParseAddrPort(rec.Local), netip.MustParseAddrPort(rec.Remote)
		if sf := subs[0]; sf.ID != 0 || sf.Local != local || sf.Remote != remote || sf.TCP.State != StateEstablished {
			t.Errorf("mptcp%s: subflow %d %v -> %v %v; want 0 %v -> %v established", v, sf.ID, sf.Local, sf.Remote, sf.TCP.State, local, remote)
		}
	}
	for _, s := range []string{"fallback4", "fallback6", "plain4", "plain6"} {
		k := newFakeKernel(t, "5.10-mptcp")
		r := k.request(k.fd(s))
		if ok, err := k.st.isMPTCP(r); ok || err != nil {
			t.Errorf("%s: isMPTCP = %v, %v; want false", s, ok, err)
		}
		var in Info
		if err := k.st.info(r, &in); err != ErrNotMPTCP {
			t.Errorf("%s: info: %v, want ErrNotMPTCP", s, err)
		}
		if _, err := k.st.appendSubflows(r, nil, nil); err != ErrNotMPTCP {
			t.Errorf("%s: appendSubflows: %v, want ErrNotMPTCP", s, err)
		}
	}
}

// 6.5 - 6.9, which no kernel here runs: MPTCP_FULL_INFO, but no
// TCP_IS_MPTCP. The recording of 6.12 is turned into one, refusing
// TCP_IS_MPTCP as 6.1 does, socket by socket; the reader is chosen from
// an MPTCP connection and from a fallen-back one, which needs a fresh
// socket.
func TestReaderFullInfoWithoutTCPIsMPTCP(t *testing.T) {
	old := newFakeKernel(t, "6.1")
	for _, first := range []string{"mptcp4", "fallback4", "mptcp6", "fallback6"} {
		k := newFakeKernel(t, "6.12")
		for name, s := range k.rec.Sockets {
			s.IsMPTCP = old.rec.Sockets[name].IsMPTCP
			k.rec.Sockets[name] = s
		}
		ok, err := k.st.isMPTCP(k.request(k.fd(first)))
		if want := first[:5] == "mptcp"; ok != want || err != nil {
			t.Fatalf("%s: isMPTCP = %v, %v; want %v", first, ok, err, want)
		}
		if got := k.st.get(); got != readerFullInfoProbe {
			t.Fatalf("%s first: reader %d, want MPTCP_FULL_INFO with the MPTCP_INFO probe", first, got)
		}
		r := k.request(k.fd("mptcp4"))
		k.calls = nil
		if ok, err := k.st.isMPTCP(r); !ok || err != nil || len(k.calls) != 1 || k.calls[0] != "284/1" {
			t.Errorf("%s first: MultipathTCP = %v, %v with calls %v; want one MPTCP_INFO probe", first, ok, err, k.calls)
		}
		k.calls = nil
		subs, err := k.st.appendSubflows(r, nil, nil)
		if err != nil || len(subs) != 1 || subs[0].ID != 1 || len(k.calls) != 1 {
			t.Errorf("%s first: %v, %v with calls %v; want subflow 1 from one MPTCP_FULL_INFO", first, subs, err, k.calls)
		}
		if k.open != 0 {
			t.Errorf("%s first: %d probe sockets left open", first, k.open)
		}
	}
}
