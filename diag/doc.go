// Package diag lists the MPTCP connections of a host, or of one network
// namespace, whichever process owns them, with their subflows: what
// "ss -M" and "ss -ti" show, as Go values, through the kernel's socket
// diagnostics (NETLINK_SOCK_DIAG; mptcp_diag, Linux 5.9 and later).
//
//	c, err := diag.Dial(nil) // this namespace; diag.Config names another
//	for conn, err := range c.Connections(&diag.Filter{Subflows: true}) {
//		...
//	}
//
// Each [Connection] carries the connection's struct mptcp_info, decoded
// into the same [mptcp.Info] as MPTCPConn.MPTCPInfo returns (40 bytes on
// 5.10, 48 on 6.1, 96 on 6.10 and later; [mptcp.Info.Has] tells which
// fields the kernel gave), and, when asked, its subflows, each with its
// struct tcp_info decoded into [mptcp.TCPInfo].
//
// # What the kernel shows
//
//   - Connections are MPTCP-level sockets. A client that fell back to TCP
//     is listed, with the fallback flag ([Connection.FellBack]); a plain
//     TCP client accepted by an MPTCP listener is a plain TCP socket, and
//     is not. Before 5.19 the kernel lists only connections with a
//     token: no listeners (from 5.19 it lists them, in state LISTEN).
//     [Conn.Listeners] counts them on every kernel, from the TCP dump
//     where the MPTCP one has none; an unprivileged caller on a kernel
//     before 5.19 gets an error matched by os.ErrPermission instead of a
//     count of 0 it could not check.
//   - Subflows are TCP sockets whose upper-layer protocol is "mptcp",
//     joined to their connection by its token. An MPTCP listener shows
//     in the TCP dump as a LISTEN socket with that protocol; it is no
//     subflow, and left out. Kernels before 6.x show
//     that information only to a caller with CAP_NET_ADMIN: there,
//     without it, listing subflows fails with an error matched by
//     os.ErrPermission, and connections can still be listed.
//   - Kernels without mptcp_diag (before 5.9, or built without it)
//     answer with an error matched by errors.ErrUnsupported; 5.7 and 5.8,
//     which answer an MPTCP request with TCP sockets, too.
//
// Listing streams: [Conn.Connections] decodes one connection at a time
// from a buffer reused for the whole dump, so its memory does not grow
// with the number of connections (subflows, when asked, are gathered
// first, and take memory in proportion to their number).
//
// The package is built on golang.org/x/sys alone, through the internal
// package that package mptcp itself uses on kernels 5.9 - 5.15, where
// socket diagnostics are the only way to a connection's MPTCP state. On
// other platforms every call fails with errors.ErrUnsupported.
//
// # Errors
//
// Every error is a *net.OpError, as package net's are, whose Op is
// "dial", "list", "lookup" or "close" and whose Net is "sock_diag";
// errors.Is reaches its cause: errors.ErrUnsupported (no MPTCP socket
// diagnostics, or not Linux), os.ErrPermission (subflows, or the
// listeners' count, without CAP_NET_ADMIN on kernels that require it), os.ErrNotExist (no
// connection with that token that the filter selects, or a namespace path
// that does not exist), os.ErrInvalid (a bad argument, before anything is
// sent), net.ErrClosed (after Close), or a syscall errno.
package diag
