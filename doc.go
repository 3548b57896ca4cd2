// Package mptcp lets Go programs use Multipath TCP (MPTCP, RFC 8684) on
// Linux and see what it is doing.
//
// # What MPTCP is
//
// An MPTCP connection looks like one TCP connection to the program, but
// the kernel may carry it over several TCP subflows at once: over Wi-Fi
// and cellular, over two uplinks, over two paths of a data-centre fabric.
// Subflows can be added and lost while the connection lives, so a
// connection survives the loss of a path and can use the capacity of
// several. Where the peer or a middlebox does not speak MPTCP, the
// connection falls back to plain TCP, transparently.
//
// # What this package adds
//
// The standard library can ask for MPTCP (net.Dialer.SetMultipathTCP,
// net.ListenConfig.SetMultipathTCP) and tell whether a connection uses it
// (net.TCPConn.MultipathTCP). This package is a drop-in replacement for
// [net.Dialer], [net.ListenConfig] and net.Listen that always asks for
// MPTCP, whatever GODEBUG or the go line of the main module say, and
// returns connections of type [*MPTCPConn], which embed *net.TCPConn and
// add:
//
//   - [MPTCPConn.MultipathTCP], with the most precise test the running
//     kernel offers, and no allocation;
//   - [MPTCPConn.MPTCPInfo], the connection's MPTCP state ([Info]: token,
//     subflow counts, MPTCP-level byte counters);
//   - [MPTCPConn.Subflows], every subflow with its id, addresses and TCP
//     statistics ([Subflow], [TCPInfo]), read at one instant where the
//     kernel allows, and [MPTCPConn.AppendSubflows] and
//     [MPTCPConn.Snapshot] that allocate nothing;
//   - an opt-in strict mode, [Dialer].RequireMPTCP, that refuses
//     connections which are not MPTCP with [ErrNotMPTCP], never dials
//     plain TCP itself, and tries every address of a name until one
//     gives MPTCP;
//   - [SubflowTable] and slog.LogValuer forms for logs;
//   - [ConnContext] and [ConnFromContext], which let an http.Handler find
//     its connection, also under TLS;
//   - [ConnOf], which finds the connection of an http.Client's request,
//     under TLS and HTTP/2 too, from an httptrace hook.
//
// Everything else is the *net.TCPConn's, zero-copy included: io.Copy
// between connections of this package splices wherever it would between
// two *net.TCPConn, also through an io.LimitReader.
//
// # Kernels
//
// The package learns which reader serves the running kernel once, from
// the kernel's first conclusive answers, never from its version string,
// and asks that reader every later question:
//
//	kernel       reader              MultipathTCP             MPTCPInfo            Subflows
//	6.10+        getsockopt          TCP_IS_MPTCP             MPTCP_INFO           MPTCP_FULL_INFO: one snapshot, ids
//	6.5 - 6.9    getsockopt          MPTCP_INFO probe         MPTCP_INFO           MPTCP_FULL_INFO: one snapshot, ids
//	5.16 - 6.4   getsockopt          MPTCP_INFO probe         MPTCP_INFO           MPTCP_TCPINFO + MPTCP_SUBFLOW_ADDRS, no ids
//	5.9 - 5.15   socket diagnostics  SO_PROTOCOL, then the    INET_DIAG_INFO       a TCP dump joined by token, no ids
//	                                 fallback flag            (40 bytes on 5.10)
//	5.6 - 5.8    none                SO_PROTOCOL: cannot      unsupported          unsupported
//	                                 see a fallback
//
// MPTCP sockets (Dialer, Listener) need 5.6: socket(..., IPPROTO_MPTCP),
// with a fallback to TCP otherwise. MPTCPInfo's fields depend on the
// kernel too (see InfoField). In steady state on 6.5 and later each
// MultipathTCP, MPTCPInfo and AppendSubflows call (given room) is one
// system call; on 5.16 - 6.4 AppendSubflows takes three.
//
// Before 5.16 no socket option describes an MPTCP connection: the
// package asks the kernel's socket diagnostics (mptcp_diag, what ss -M
// uses), in the connection's own network namespace, finding the
// connection by its addresses once and by its token after that. There,
// reading subflows needs CAP_NET_ADMIN on kernels that show subflows only
// to it (an error matched by os.ErrPermission says so). Package diag
// lists every MPTCP connection of a namespace the same way.
//
// On kernels without MPTCP, and on other operating systems, the Dialer
// and Listener work as plain TCP; MultipathTCP reports false, and
// MPTCPInfo and Subflows fail with an error matched by
// errors.Is(err, errors.ErrUnsupported) (other systems, kernels before
// 5.9 or without MPTCP socket diagnostics) or [ErrNotMPTCP] (a
// connection that is plain TCP, or fell back).
//
// # Errors
//
// Errors follow package net: a *net.OpError with the connection's
// addresses, around net.ErrClosed once the connection is closed, around
// [ErrNotMPTCP], or around an *os.SyscallError, so that errors.Is works
// with syscall errnos. A zero or nil MPTCPConn or Listener, which holds no
// socket, gives an error matched by os.ErrInvalid (and syscall.EINVAL, as
// package net's own zero values do) that says so, without a system call.
// Failed dials and accepts return a nil net.Conn, never a nil pointer
// inside a non-nil interface.
//
// # The host around the connection
//
// Other packages of this module look beyond one connection: package diag
// lists every MPTCP connection of a network namespace, package counters
// reads the kernel's MPTcpExt counters, package pm drives the path
// manager (endpoints, limits, events), and package collector exports all
// of it to Prometheus (the command mptcp_exporter serves it). Package
// mptcp imports none of them, nor anything but golang.org/x/sys.
package mptcp
