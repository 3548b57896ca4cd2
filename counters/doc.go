// Package counters reads the kernel's MPTCP counters: the MPTcpExt line
// of /proc/net/netstat, which "nstat -az | grep MPTcp" shows. They count,
// per network namespace and since the namespace was made, MPTCP
// handshakes, joins, address announcements and fallbacks to TCP: the
// evidence for "is MPTCP working on this host?" and "why did this
// connection fall back?".
//
//	before, err := counters.Read(nil) // this namespace; Config names another
//	// ... dial ...
//	after, err := counters.Read(nil)
//	d := after.Sub(before)
//	if n, _ := d.Get("MPCapableFallbackSYNACK"); n > 0 {
//		// a server answered a SYN with MP_CAPABLE without it
//	}
//
// [Read] returns every counter the running kernel has, by its kernel
// name and in the kernel's order, including names this package does not
// know: kernels add counters often (blackhole detection in 6.12,
// cause-specific fallback counters in 6.17). [Describe] documents the
// names it knows, after the kernel's net/mptcp/mib.h, and says which
// count a fallback to TCP and on which side of the connection.
//
// All but one are counters, which only grow (and wrap, as the kernel's
// unsigned long does: [Counters.Sub] accounts for it). MPCurrEstab is a
// gauge: the MPTCP connections established now.
//
// A kernel without MPTCP has no MPTcpExt line: Read returns an error
// matched by errors.ErrUnsupported, as it does on other platforms. The
// package needs nothing beyond golang.org/x/sys.
package counters
