// Package sockdiag asks the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG, inet_diag) about TCP and MPTCP sockets. It is built
// on golang.org/x/sys alone, so that package mptcp can use it for kernels
// without SOL_MPTCP (5.9 - 5.15), and package diag builds the host-wide
// view on it.
//
// Requests are inet_diag_req_v2 with the INET_DIAG_REQ_PROTOCOL attribute
// for MPTCP (262 does not fit the 8-bit sdiag_protocol); answers are
// inet_diag_msg with their attributes, handed to a callback one at a time
// from a buffer reused for the whole dump, so that memory does not grow
// with the number of sockets.
package sockdiag
