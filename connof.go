package mptcp

import "net"

// ConnOf returns the *MPTCPConn behind c, and whether it found one: c
// itself, a *net.TCPConn wrapped with [NewConn] (a new *MPTCPConn at
// each call), or either of them under connections that return the one
// underneath from a NetConn method, as *tls.Conn does. Anything else,
// nil included, gives nil and false.
//
// Its main use is the connection of an http.Client's request, which only
// the hooks of net/http/httptrace reveal:
//
//	var conn *mptcp.MPTCPConn
//	trace := &httptrace.ClientTrace{
//		GotConn: func(ci httptrace.GotConnInfo) { conn, _ = mptcp.ConnOf(ci.Conn) },
//		GotFirstResponseByte: func() {
//			uses, err := conn.MultipathTCP()
//			info, subflows, err := conn.Snapshot(nil) // if uses
//			...
//		},
//	}
//	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
//
// This holds for every protocol net/http speaks: in HTTP/1.x, GotConn's
// Conn is the connection the Transport dialed, or the *tls.Conn around
// it; in HTTP/2, over TLS or not, the connection that the requests to
// one server share, so that each request reports the shared
// connection's state at its own moment. It needs no particular dialer:
// a connection of net.Dialer, which is plain TCP unless
// net.Dialer.SetMultipathTCP asked for MPTCP, reports what it is too.
// Through a proxy, the connection is the one to the proxy.
//
// When to read: while the connection is open, which for a request is
// from GotConn until its response body has been read to the end or
// closed. A server that ends the connection with the body (HTTP/1.0, or
// "Connection: close") makes the Transport close the client's end then,
// and the methods of the *MPTCPConn fail from that point with an error
// matched by net.ErrClosed; with an empty body that may already be so
// when Client.Do returns. So read in the hooks:
//
//   - GotConn: the state as the request starts. A new HTTP/1 connection
//     without TLS has carried no data yet, so its MPTCP handshake is not
//     complete: it has one subflow, and a fallback caused by the first
//     data exchange is still to come. Over TLS, and in HTTP/2, the
//     handshake or the connection preface has carried some by then.
//   - GotFirstResponseByte: the state once the request went out and its
//     answer began to arrive over the connection, the MPTCP handshake
//     complete. The path manager adds subflows from that handshake's end
//     on, so a new connection may not have them all yet: the reading is
//     of that moment. This is the moment the examples use.
//
// The hooks run on the Transport's goroutines: each reading is one or a
// few system calls, short enough to take there.
func ConnOf(c net.Conn) (*MPTCPConn, bool) {
	mc := unwrapConn(c)
	return mc, mc != nil
}
