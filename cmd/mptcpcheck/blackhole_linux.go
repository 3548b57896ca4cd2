package main

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	mib "github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/internal/explain"
)

// readBlackhole reads the state of the kernel's MPTCP blackhole detection
// in the calling thread's network namespace, or returns nil on a kernel
// without it (before 6.12: no net.mptcp.blackhole_timeout). counters are
// the namespace's MPTcpExt counters, or nil.
//
// Whether the detection holds MPTCP off now is found by a probe, since
// the kernel shows neither when it tripped nor its period: an MPTCP
// socket connects to a loopback port where nothing listens. The kernel
// decides in connect whether to offer MPTCP (mptcp_connect asks
// mptcp_active_should_disable), so right after connect a socket that no
// longer uses MPTCP is the detection's doing. The SYN goes no further
// than loopback and is refused at once; it moves the counter
// MPCapableSYNTX, or MPCapableSYNTXDisabled while the detection holds.
// A refused connection never re-enables MPTCP, as an established one over
// loopback would.
func readBlackhole(counters mib.Counters) *explain.Blackhole {
	b, err := os.ReadFile("/proc/sys/net/mptcp/blackhole_timeout")
	if err != nil {
		return nil
	}
	secs, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return nil
	}
	bh := &explain.Blackhole{Timeout: time.Duration(secs) * time.Second}
	bh.Detections, _ = counters.Get("Blackhole")
	if offered, err := probeActiveMPTCP(); err == nil {
		bh.Active, bh.ActiveKnown = !offered, true
	}
	return bh
}

// tcpIsMPTCP is TCP_IS_MPTCP (Linux 6.10), at level SOL_TCP.
const tcpIsMPTCP = 43

// probeActiveMPTCP reports whether an MPTCP connection made now from the
// calling thread's namespace offers MPTCP in its SYN.
func probeActiveMPTCP() (offered bool, err error) {
	// A bound TCP socket that does not listen holds a loopback port
	// nobody answers on: the kernel refuses connections to it.
	hold, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, os.NewSyscallError("socket", err)
	}
	defer unix.Close(hold)
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 1}
	if err := unix.Bind(hold, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err == nil {
		if sa, err = unix.Getsockname(hold); err != nil {
			return false, os.NewSyscallError("getsockname", err)
		}
	}
	// Else loopback is down (127.0.0.1 is no address yet): the connect
	// fails at once, with nothing sent.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_MPTCP)
	if err != nil {
		return false, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	// The kernel decides before it routes the SYN, so a connect that
	// fails (loopback down: ENETUNREACH) has decided too, measured on
	// 6.18. One that failed before deciding reads as MPTCP offered: the
	// probe can miss the detection, never invent it.
	unix.Connect(fd, sa)
	v, err := unix.GetsockoptInt(fd, unix.SOL_TCP, tcpIsMPTCP)
	if err != nil {
		return false, os.NewSyscallError("getsockopt", err)
	}
	return v == 1, nil
}
