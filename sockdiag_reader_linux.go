package mptcp

import (
	"errors"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/errs"
	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// The socket-diagnostics reader, for kernels 5.9 - 5.15: they have MPTCP
// sockets but no SOL_MPTCP, so no socket option tells whether a
// connection fell back, or reads its mptcp_info or its subflows. Socket
// diagnostics do (mptcp_diag, 5.9+, what ss -M uses). The reader finds
// the connection among the MPTCP sockets of its own network namespace by
// its addresses, once, and by its token after that; subflows come from a
// dump of the namespace's TCP sockets, joined by token. Every call goes
// through the kernel seam, so that recorded kernels replay it too.

// errNoDiag: the kernel has MPTCP sockets but neither SOL_MPTCP nor
// MPTCP socket diagnostics (5.6 - 5.8, or mptcp_diag left out).
var errNoDiag = errs.New("mptcp: the kernel reports no MPTCP state: no SOL_MPTCP (5.16+) and no MPTCP socket diagnostics (5.9+)", errors.ErrUnsupported)

// errDiagMissing: socket diagnostics do not list the connection: before
// 5.16 they list only established connections that have a token.
var errDiagMissing = errors.New("mptcp: the kernel's MPTCP socket diagnostics do not list this connection (before 5.16 they list only established connections)")

// errSubflowsNeedAdmin: before 5.16 subflows come from the ULP
// information of TCP sockets, which the kernel gives only to
// CAP_NET_ADMIN.
var errSubflowsNeedAdmin = errs.New("mptcp: before Linux 5.16 subflows are read from socket diagnostics, which show them only to CAP_NET_ADMIN", os.ErrPermission)

// errFound ends a dump once the connection is found.
var errFound = errors.New("found")

// diagExt is what the MPTCP requests ask: mptcp_info, and the congestion
// control's name, which only TCP sockets have (sockdiag.Msg.IsMPTCP).
const diagExt = sockdiag.ExtInfo | sockdiag.ExtCong

// sockDiagIsMPTCP: a socket created as TCP is not MPTCP; one created as
// MPTCP is, unless socket diagnostics list it as fallen back.
func sockDiagIsMPTCP(r *request) (bool, error) {
	if ok, err := protocolIsMPTCP(r); !ok || err != nil {
		return ok, err
	}
	fellBack, err := diagFellBack(r)
	switch {
	case err == errNoDiag:
		return true, nil
	case err != nil:
		return false, err
	}
	return !fellBack, nil
}

// sockDiagInfo reads the connection's mptcp_info into *in.
func sockDiagInfo(r *request, in *Info) error {
	// Decoded into a copy: the caller's Info would escape, through the
	// dump's callback, to the heap on the paths of the other readers too.
	found := new(Info)
	if ok, err := protocolIsMPTCP(r); !ok || err != nil {
		if err == nil {
			err = ErrNotMPTCP
		}
		return err
	}
	if err := diagInfo(r, found); err != nil {
		return err
	}
	if found.Flags&InfoFlagFallback != 0 {
		return ErrNotMPTCP
	}
	*in = *found
	return nil
}

// sockDiagSubflows appends the connection's subflows to dst and, when in
// is not nil, reads its mptcp_info into *in.
func sockDiagSubflows(r *request, dst []Subflow, in *Info) ([]Subflow, error) {
	var own Info
	if err := sockDiagInfo(r, &own); err != nil {
		return dst, err
	}
	if in != nil {
		*in = own
	}
	return diagSubflows(r, dst, own.Token)
}

// diagInfo finds the request's connection in socket diagnostics and
// decodes its mptcp_info into *in, fallen back or not.
func diagInfo(r *request, in *Info) error {
	family, local, remote, err := r.k.addrs(r.fd)
	if err != nil {
		return err
	}
	dc, err := r.k.sockDiag(r.fd)
	if err != nil {
		return err
	}
	defer dc.Close()
	found := false
	match := func(m *sockdiag.Msg) error {
		if !m.IsMPTCP() {
			return errNoDiag
		}
		if l, rem := m.AddrPorts(); l != local || rem != remote {
			return nil
		}
		info, ok := m.Attr(sockdiag.AttrInfo)
		if !ok {
			return errNoDiag
		}
		decodeInfoTo(in, info)
		found = true
		return errFound
	}
	req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_MPTCP, Ext: diagExt, States: sockdiag.AllStates}
	if tok := cachedToken(r); tok != 0 {
		req.ID.Cookie = [2]uint32{tok, 0}
		err = dc.Query(&req, match)
		if err == errFound {
			return nil
		}
	}
	req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
	req.Dump = true
	switch err := dc.Query(&req, match); {
	case err == errFound:
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EINVAL):
		return errNoDiag // no MPTCP handler in inet_diag
	case err != nil:
		return err
	}
	if !found {
		return errDiagMissing
	}
	if r.token != nil {
		r.token.Store(in.Token)
	}
	return nil
}

func cachedToken(r *request) uint32 {
	if r.token == nil {
		return 0
	}
	return r.token.Load()
}

// diagFellBack reports whether socket diagnostics say the connection
// fell back to TCP.
func diagFellBack(r *request) (bool, error) {
	var in Info
	if err := diagInfo(r, &in); err != nil {
		return false, err
	}
	return in.Flags&InfoFlagFallback != 0, nil
}

// diagSubflows appends the subflows of the connection whose token is
// token, found in dumps of the namespace's TCP sockets of both families.
func diagSubflows(r *request, dst []Subflow, token uint32) ([]Subflow, error) {
	_, local, remote, err := r.k.addrs(r.fd)
	if err != nil {
		return dst, err
	}
	dc, err := r.k.sockDiag(r.fd)
	if err != nil {
		return dst, err
	}
	defer dc.Close()
	subs := dst
	withheld := false // the first subflow was listed without ULP information
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := sockdiag.Request{Family: family, Protocol: unix.IPPROTO_TCP, Ext: sockdiag.ExtInfo, States: sockdiag.AllStates, Dump: true}
		req.ID.Cookie = [2]uint32{sockdiag.NoCookie, sockdiag.NoCookie}
		err := dc.Query(&req, func(m *sockdiag.Msg) error {
			l, rem := m.AddrPorts()
			sf, ok := m.Subflow()
			if !ok {
				if l == local && rem == remote && !m.HasULP() {
					withheld = true
				}
				return nil
			}
			if sf.TokenLoc != token {
				return nil
			}
			var s Subflow
			// No subflow ids before 6.5 (Subflow.ID); address ids are not those.
			s.Local, s.Remote = l, rem
			if ti, ok := m.Attr(sockdiag.AttrInfo); ok {
				decodeTCPInfoTo(&s.TCP, ti)
			}
			subs = append(subs, s)
			return nil
		})
		if err != nil {
			return dst, err
		}
	}
	if withheld && len(subs) == len(dst) {
		return dst, errSubflowsNeedAdmin
	}
	firstSubflowFirst(subs[len(dst):], local, remote)
	return subs, nil
}

// firstSubflowFirst moves the connection's first subflow, the one with
// its addresses, to the front of subs, as MPTCP_FULL_INFO and
// MPTCP_SUBFLOW_ADDRS list it. The TCP dump lists subflows in the
// order of the kernel's socket hash table, which on 5.10 can put a
// joined subflow before the first; the others keep the dump's order.
func firstSubflowFirst(subs []Subflow, local, remote netip.AddrPort) {
	for i := range subs {
		if subs[i].Local == local && subs[i].Remote == remote {
			first := subs[i]
			copy(subs[1:i+1], subs[:i])
			subs[0] = first
			return
		}
	}
}
