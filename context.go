package mptcp

import (
	"context"
	"net"
	"reflect"
)

type connContextKey struct{}

// ConnContext stores c's *MPTCPConn in ctx. It has the signature of
// http.Server.ConnContext, so that a handler can find its connection with
// [ConnFromContext]:
//
//	srv := &http.Server{ConnContext: mptcp.ConnContext, ...}
//
// c may be the *MPTCPConn itself, a *net.TCPConn (a server on a listener
// of package net, which since Go 1.24 asks for MPTCP too), or a
// connection that wraps one of them and returns it from a NetConn method,
// as *tls.Conn does when the server serves TLS: see [ConnOf]. Other
// connections leave ctx unchanged.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if mc := unwrapConn(c); mc != nil {
		return context.WithValue(ctx, connContextKey{}, mc)
	}
	return ctx
}

// ConnFromContext returns the connection that [ConnContext] stored in ctx,
// as in a handler: mptcp.ConnFromContext(r.Context()).
//
// It finds one only where the http.Server's ConnContext field is
// mptcp.ConnContext (or a function that calls it): the server hands its
// connections to no one else. Without it, ok is false and the
// *MPTCPConn nil, whose methods fail with an error that says so. A
// client finds the connection of its request with [ConnOf] instead.
func ConnFromContext(ctx context.Context) (c *MPTCPConn, ok bool) {
	c, ok = ctx.Value(connContextKey{}).(*MPTCPConn)
	return c, ok
}

// unwrapConn finds the TCP connection under c through NetConn methods
// (*tls.Conn has one), a bounded number of layers deep, as an *MPTCPConn:
// a *net.TCPConn is wrapped with NewConn. It returns nil for anything
// else, nil pointers included.
func unwrapConn(c net.Conn) *MPTCPConn {
	for range 8 {
		// A nil pointer of any type, a nil *tls.Conn too, would panic
		// in its NetConn method or give an MPTCPConn without a socket.
		if v := reflect.ValueOf(c); v.Kind() == reflect.Pointer && v.IsNil() {
			return nil
		}
		switch v := c.(type) {
		case *MPTCPConn:
			return v
		case *net.TCPConn:
			return NewConn(v)
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}
