package mptcp

import (
	"errors"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/multipath-go/mptcp/internal/sockdiag"
)

// Kernels 5.9 - 5.15 have MPTCP sockets but no SOL_MPTCP: no socket
// option tells whether a connection fell back, or reads its mptcp_info
// or its subflows. Socket diagnostics do (mptcp_diag, 5.9+, what ss -M
// uses). This file is that path. It finds the connection among the MPTCP
// sockets of its own network namespace by its addresses, once, and by
// its token after that; subflows come from a dump of the namespace's TCP
// sockets, joined by token.

// errNoDiag: the kernel has MPTCP sockets but neither SOL_MPTCP nor
// MPTCP socket diagnostics (5.6 - 5.8, or mptcp_diag left out).
var errNoDiag = &wrapErr{"mptcp: the kernel reports no MPTCP state: no SOL_MPTCP (5.16+) and no MPTCP socket diagnostics (5.9+)", errors.ErrUnsupported}

// errDiagMissing: socket diagnostics do not list the connection: before
// 5.16 they list only established connections that have a token.
var errDiagMissing = errors.New("mptcp: the kernel's MPTCP socket diagnostics do not list this connection (before 5.16 they list only established connections)")

// errSubflowsNeedAdmin: before 5.16 subflows come from the ULP
// information of TCP sockets, which the kernel gives only to
// CAP_NET_ADMIN.
var errSubflowsNeedAdmin = &wrapErr{"mptcp: before Linux 5.16 subflows are read from socket diagnostics, which show them only to CAP_NET_ADMIN", os.ErrPermission}

// diagExt is what the MPTCP requests ask: mptcp_info, and the congestion
// control's name, which only TCP sockets have (sockdiag.Msg.IsMPTCP).
const diagExt = sockdiag.ExtInfo | sockdiag.ExtCong

// openDiag opens a socket-diagnostics socket in the network namespace of
// the socket fd, which need not be the calling thread's.
func openDiag(fd uintptr) (*sockdiag.Conn, error) {
	nsfd, err := unix.IoctlRetInt(int(fd), unix.SIOCGSKNS)
	if err != nil {
		return sockdiag.Open(nil)
	}
	ns := os.NewFile(uintptr(nsfd), "netns")
	defer ns.Close()
	var theirs, ours unix.Stat_t
	if unix.Fstat(nsfd, &theirs) == nil && unix.Stat("/proc/thread-self/ns/net", &ours) == nil &&
		theirs.Ino == ours.Ino && theirs.Dev == ours.Dev {
		return sockdiag.Open(nil)
	}
	return sockdiag.Open(ns)
}

// socketAddrs returns the socket's own addresses and family.
func socketAddrs(fd uintptr) (family uint8, local, remote netip.AddrPort, err error) {
	ls, err := unix.Getsockname(int(fd))
	if err != nil {
		return 0, local, remote, err
	}
	rs, err := unix.Getpeername(int(fd))
	if err != nil {
		return 0, local, remote, err
	}
	family = unix.AF_INET
	if _, ok := ls.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	return family, sockaddrAddrPort(ls), sockaddrAddrPort(rs), nil
}

func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// diagInfo finds the request's connection in socket diagnostics and
// decodes its mptcp_info into *in. Only the running kernel has socket
// diagnostics: a kernel replayed in tests answers as one without them.
func (r *request) diagInfo(in *Info) error {
	if _, live := r.k.(liveKernel); !live {
		return errNoDiag
	}
	family, local, remote, err := socketAddrs(r.fd)
	if err != nil {
		return err
	}
	dc, err := openDiag(r.fd)
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
	if tok := r.cachedToken(); tok != 0 {
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

// errFound ends a dump once the connection is found.
var errFound = errors.New("found")

func (r *request) cachedToken() uint32 {
	if r.token == nil {
		return 0
	}
	return r.token.Load()
}

// diagFellBack reports whether socket diagnostics say the connection
// fell back to TCP.
func (r *request) diagFellBack() (bool, error) {
	var in Info
	if err := r.diagInfo(&in); err != nil {
		return false, err
	}
	return in.Flags&InfoFlagFallback != 0, nil
}

// diagSubflows appends the connection's subflows, found in dumps of the
// namespace's TCP sockets of both families by the connection's token.
func (r *request) diagSubflows(dst []Subflow) ([]Subflow, error) {
	var in Info
	if err := r.diagInfo(&in); err != nil {
		return dst, err
	}
	if in.Flags&InfoFlagFallback != 0 {
		return dst, ErrNotMPTCP
	}
	_, local, remote, err := socketAddrs(r.fd)
	if err != nil {
		return dst, err
	}
	dc, err := openDiag(r.fd)
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
			if sf.TokenLoc != in.Token {
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
	return subs, nil
}
