package mptcp

import (
	"context"
	"net"
)

type connContextKey struct{}

// ConnContext stores c's *MPTCPConn in ctx. It has the signature of
// http.Server.ConnContext, so that a handler can find its connection with
// [ConnFromContext]:
//
//	srv := &http.Server{ConnContext: mptcp.ConnContext, ...}
//
// c may be the *MPTCPConn itself or a connection that wraps one and
// returns it from a NetConn method, as *tls.Conn does when the server
// serves TLS. Other connections leave ctx unchanged.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if mc := unwrapConn(c); mc != nil {
		return context.WithValue(ctx, connContextKey{}, mc)
	}
	return ctx
}

// ConnFromContext returns the connection that [ConnContext] stored in ctx,
// as in a handler: mptcp.ConnFromContext(r.Context()).
func ConnFromContext(ctx context.Context) (*MPTCPConn, bool) {
	c, ok := ctx.Value(connContextKey{}).(*MPTCPConn)
	return c, ok
}

// unwrapConn finds the *MPTCPConn under c through NetConn methods
// (*tls.Conn has one), a bounded number of layers deep.
func unwrapConn(c net.Conn) *MPTCPConn {
	for range 8 {
		switch v := c.(type) {
		case *MPTCPConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}
