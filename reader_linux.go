package mptcp

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Which reader serves this process: learned once, from the kernel's
// answers, never from its version string, and kept by kernelState. Every
// call after that goes straight to the chosen reader, which never calls
// back here:
//
//	reader               kernel       MultipathTCP            MPTCPInfo      Subflows             file
//	readerFullInfo       6.10+        TCP_IS_MPTCP            MPTCP_INFO     MPTCP_FULL_INFO      sockopt_linux.go
//	readerFullInfoProbe  6.5 - 6.9    MPTCP_INFO probe        MPTCP_INFO     MPTCP_FULL_INFO      sockopt_linux.go
//	readerSplit          5.16 - 6.4   MPTCP_INFO probe        MPTCP_INFO     MPTCP_TCPINFO and    sockopt_linux.go
//	                                                                         MPTCP_SUBFLOW_ADDRS
//	readerSockDiag       5.9 - 5.15   SO_PROTOCOL, sock_diag  sock_diag      sock_diag            sockdiag_reader_linux.go
//	readerNone           5.6 - 5.8    SO_PROTOCOL             unsupported    unsupported          sockopt_linux.go
type reader int32

const (
	readerUnknown reader = iota // not learned yet
	readerFullInfo
	readerFullInfoProbe
	readerSplit
	readerSockDiag
	readerNone
)

// kernelState is what the package has learned of a kernel: the reader
// that serves it. Only conclusive answers are kept: a kernel's options
// are the same in every network namespace and whatever the sysctls say,
// but a failed or ambiguous probe proves nothing, and is made again at
// the next call.
type kernelState struct{ reader atomic.Int32 }

// host is what is known of the running kernel.
var host kernelState

func (st *kernelState) get() reader      { return reader(st.reader.Load()) }
func (st *kernelState) choose(rd reader) { st.reader.Store(int32(rd)) }

// isMPTCP reports whether r's socket uses MPTCP now, with the most
// precise test the kernel offers.
func (st *kernelState) isMPTCP(r *request) (bool, error) {
	switch st.get() {
	case readerFullInfo:
		return tcpIsMPTCP(r)
	case readerFullInfoProbe, readerSplit:
		return infoProbe(r, r.fd)
	case readerSockDiag:
		return sockDiagIsMPTCP(r)
	case readerNone:
		return protocolIsMPTCP(r)
	}
	return st.learn(r)
}

// info reads the mptcp_info of r's socket into *in.
func (st *kernelState) info(r *request, in *Info) error {
	rd, err := st.known(r)
	if err != nil {
		return err
	}
	switch rd {
	case readerFullInfo, readerFullInfoProbe, readerSplit:
		return readInfo(r, in)
	case readerSockDiag:
		return sockDiagInfo(r, in)
	}
	return noReader(r)
}

// appendSubflows appends the subflows of r's socket to dst and, when in
// is not nil, reads its mptcp_info into *in, at the same instant where
// the kernel allows. On error it returns dst.
func (st *kernelState) appendSubflows(r *request, dst []Subflow, in *Info) ([]Subflow, error) {
	rd, err := st.known(r)
	if err != nil {
		return dst, err
	}
	switch rd {
	case readerFullInfo, readerFullInfoProbe:
		return readFullInfo(r, dst, in)
	case readerSplit:
		return readSplit(r, dst, in)
	case readerSockDiag:
		return sockDiagSubflows(r, dst, in)
	}
	return dst, noReader(r)
}

// known returns the reader of this kernel, learning it from r's socket
// if no call did yet. A socket that is not MPTCP gives ErrNotMPTCP.
func (st *kernelState) known(r *request) (reader, error) {
	if rd := st.get(); rd != readerUnknown {
		return rd, nil
	}
	switch ok, err := st.learn(r); {
	case err != nil:
		return readerUnknown, err
	case !ok:
		return readerUnknown, ErrNotMPTCP
	}
	// learn chooses a reader before it reports an MPTCP socket.
	return st.get(), nil
}

// errProbe is returned when a connection's own answers cannot tell
// whether it fell back and no fresh MPTCP socket could be made to learn
// what the kernel knows (no descriptors left, for example). It wraps the
// socket error, so errors.Is(err, syscall.EMFILE) holds.
type errProbe struct{ err error }

func (e *errProbe) Error() string {
	return "mptcp: cannot tell whether the connection fell back to TCP: learning what the kernel knows needs a new MPTCP socket: " + e.err.Error()
}
func (e *errProbe) Unwrap() error { return e.err }

// learn answers whether r's socket uses MPTCP, on a kernel not known
// yet, from the socket's own answers where they suffice, and chooses the
// reader they prove:
//
//   - any answer to TCP_IS_MPTCP, 0 or 1, proves 6.10+: every TCP or
//     MPTCP socket of such a kernel answers it, fallen back or not;
//   - an answer to the MPTCP_INFO probe proves 5.16+ and MPTCP, and
//     MPTCP_FULL_INFO with no room then tells 6.5+ (EINVAL, the length)
//     from 5.16 - 6.4 (the option refused);
//   - a socket created as TCP (SO_PROTOCOL 6) is not MPTCP, on any kernel;
//   - an MPTCP socket that refuses both fell back on 5.16+, or lives on a
//     kernel without SOL_MPTCP. Only there is a fresh MPTCP socket made,
//     which cannot have fallen back: its answer to the probe tells which.
//     Without SOL_MPTCP, socket diagnostics answer or not.
//
// It reports an MPTCP socket only once a reader is chosen.
func (st *kernelState) learn(r *request) (bool, error) {
	v, errno := intOption(r, unix.SOL_TCP, optTCPIsMPTCP)
	switch {
	case errno == 0:
		st.choose(readerFullInfo) // TCP_IS_MPTCP (6.10) came after MPTCP_FULL_INFO (6.5)
		return v == 1, nil
	case !refused(errno):
		return false, errno
	}
	if ok, err := infoProbe(r, r.fd); err != nil || ok {
		if ok {
			err = st.learnSubflowOption(r, r.fd)
		}
		return ok && err == nil, err
	}
	proto, errno := intOption(r, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if errno != 0 {
		return false, errno
	}
	if proto != ipprotoMPTCP {
		return false, nil
	}
	family, errno := intOption(r, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if errno != 0 {
		return false, errno
	}
	fd, errno := r.k.socket(int(family), ipprotoMPTCP)
	if errno != 0 {
		return false, &errProbe{os.NewSyscallError("socket", errno)}
	}
	ok, err := infoProbe(r, uintptr(fd))
	if ok {
		// The kernel answers MPTCP_INFO: this connection fell back.
		err = st.learnSubflowOption(r, uintptr(fd))
	}
	r.k.close(fd)
	if err != nil || ok {
		return false, err
	}
	// Not even a fresh MPTCP socket answers: a kernel before 5.16, where
	// only the socket's protocol and socket diagnostics can tell.
	fellBack, err := diagFellBack(r)
	switch err {
	case nil:
		st.choose(readerSockDiag)
		return !fellBack, nil
	case errDiagMissing: // the diagnostics answered, without this connection
		st.choose(readerSockDiag)
	case errNoDiag: // 5.6 - 5.8, or mptcp_diag left out: the protocol is all there is
		st.choose(readerNone)
		return true, nil
	}
	return false, err
}

// learnSubflowOption chooses between the readers of kernels with
// SOL_MPTCP from what MPTCP_FULL_INFO answers on fd, an MPTCP socket.
func (st *kernelState) learnSubflowOption(r *request, fd uintptr) error {
	full, err := fullInfoProbe(r, fd)
	switch {
	case err != nil:
		return err
	case full:
		st.choose(readerFullInfoProbe)
	default:
		st.choose(readerSplit)
	}
	return nil
}
