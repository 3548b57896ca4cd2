package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/multipath-go/mptcp"
)

// connClass orders connections by what it costs to lose them, cheapest
// first: at the limit, serve sheds a connection of the lowest class that
// has one.
type connClass int8

const (
	classIdle     connClass = iota // keep-alive between requests: the client reconnects at no loss
	classNew                       // request unfinished: headers not read yet, or a body to come
	classDownload                  // an HTTP/1 download: shed the slowest, which lose least
	classBusy                      // answering another request, or HTTP/2 with streams: never shed
	numClasses
)

// connTracker holds every connection serve has accepted and not yet seen
// closed, by class, and how many each client address holds. The listener
// consults it on each accept, and net/http's ConnState hook moves
// connections between classes. Each class is a list in the order its
// connections entered it, so that the oldest comes first; every step is
// O(1) but the search for the slowest download, which scans at most the
// downloads in progress.
type connTracker struct {
	maxConns   int
	maxPerAddr int

	mu      sync.Mutex
	lists   [numClasses]connList
	n       int
	perAddr map[netip.Addr]int
	shed    atomic.Int64 // connections closed to make room, for tests and logs
	refused atomic.Int64 // newcomers closed because nothing could be shed
}

func newConnTracker(maxConns, maxPerAddr int) *connTracker {
	return &connTracker{maxConns: maxConns, maxPerAddr: maxPerAddr, perAddr: make(map[netip.Addr]int)}
}

// servedConn is a connection that the tracker holds. Its NetConn method
// lets mptcp.ConnContext reach the *mptcp.MPTCPConn underneath.
type servedConn struct {
	net.Conn
	t    *connTracker
	addr netip.Addr // the client's address as the per-address bound counts it

	// Guarded by t.mu.
	class      connClass
	prev, next *servedConn
	listed     bool

	// download is the HTTP/1 download the connection carries, if any, so
	// that the slowest can be found; set and cleared by the handler.
	download atomic.Pointer[inFlight]
	once     sync.Once
}

// NetConn returns the connection underneath, for mptcp.ConnContext.
func (c *servedConn) NetConn() net.Conn { return c.Conn }

// Close closes the connection and forgets it.
func (c *servedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.t.remove(c) })
	return err
}

// connList is a doubly linked list of connections, oldest at the head.
type connList struct{ head, tail *servedConn }

func (l *connList) pushBack(c *servedConn) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *connList) unlink(c *servedConn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

// clientAddr is the key of the per-address bound: the IPv4 address (also
// when a dual-stack listener shows it IPv4-mapped), or the /64 of an IPv6
// address, since one IPv6 client commonly holds a whole /64.
func clientAddr(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// admit tracks c, making room for it first. At the per-address bound it
// sheds the cheapest connection of the same address; at the overall limit
// the cheapest of all. It returns nil when nothing could be shed: every
// connection is busy answering, and c is to be refused.
func (t *connTracker) admit(c net.Conn) *servedConn {
	tc := &servedConn{Conn: c, t: t, addr: clientAddr(c.RemoteAddr())}
	var victims [2]*servedConn
	t.mu.Lock()
	if t.perAddr[tc.addr] >= t.maxPerAddr {
		victims[0] = t.victim(tc.addr, true)
	}
	if t.n >= t.maxConns && victims[0] == nil {
		victims[1] = t.victim(netip.Addr{}, false)
	}
	ok := (t.perAddr[tc.addr] < t.maxPerAddr || victims[0] != nil) &&
		(t.n < t.maxConns || victims[0] != nil || victims[1] != nil)
	for _, v := range victims {
		if v != nil {
			// Unlisted here, closed below: the count already makes room.
			t.unlistLocked(v)
		}
	}
	if ok {
		tc.class, tc.listed = classNew, true
		t.lists[classNew].pushBack(tc)
		t.n++
		t.perAddr[tc.addr]++
	}
	t.mu.Unlock()
	// Close outside the lock: a close may take a system call's time.
	for _, v := range victims {
		if v != nil {
			t.shed.Add(1)
			v.Close()
		}
	}
	if !ok {
		t.refused.Add(1)
		return nil
	}
	return tc
}

// victim returns the connection to shed, cheapest class first and oldest
// first within a class, among those of addr when sameAddr, or nil. Within
// the downloads the slowest goes first.
func (t *connTracker) victim(addr netip.Addr, sameAddr bool) *servedConn {
	for class := classIdle; class < classDownload; class++ {
		for c := t.lists[class].head; c != nil; c = c.next {
			if !sameAddr || c.addr == addr {
				return c
			}
		}
	}
	var slowest *servedConn
	var slowestRate int64
	for c := t.lists[classDownload].head; c != nil; c = c.next {
		if sameAddr && c.addr != addr {
			continue
		}
		d := c.download.Load()
		if d == nil {
			continue
		}
		// The list is oldest first: on equal rates the older stays chosen.
		if r := d.recent.Load(); slowest == nil || r < slowestRate {
			slowest, slowestRate = c, r
		}
	}
	return slowest
}

func (t *connTracker) unlistLocked(c *servedConn) {
	if !c.listed {
		return
	}
	t.lists[c.class].unlink(c)
	c.listed = false
	t.n--
	if t.perAddr[c.addr]--; t.perAddr[c.addr] <= 0 {
		delete(t.perAddr, c.addr)
	}
}

func (t *connTracker) remove(c *servedConn) {
	t.mu.Lock()
	t.unlistLocked(c)
	t.mu.Unlock()
}

// setClass moves c to class, unless it was shed or closed meanwhile.
func (t *connTracker) setClass(c *servedConn, class connClass) {
	t.mu.Lock()
	if c.listed && c.class != class {
		t.lists[c.class].unlink(c)
		c.class = class
		t.lists[class].pushBack(c)
	}
	t.mu.Unlock()
}

// connState is the http.Server's ConnState hook. Over HTTP/2,
// StateActive means streams are open and StateIdle that none are: an
// HTTP/2 connection is idle or busy, never a download, as its downloads
// share it with the client's other requests.
func (t *connTracker) connState(c net.Conn, state http.ConnState) {
	tc := unwrapServed(c)
	if tc == nil {
		return
	}
	switch state {
	case http.StateIdle:
		t.setClass(tc, classIdle)
	case http.StateActive:
		class := classBusy
		if tc.download.Load() != nil {
			class = classDownload
		}
		t.setClass(tc, class)
	case http.StateHijacked, http.StateClosed:
		t.remove(tc)
	}
}

// startDownload marks c as carrying the HTTP/1 download d until the
// returned function is called.
func (t *connTracker) startDownload(c *servedConn, d *inFlight) (done func()) {
	c.download.Store(d)
	t.setClass(c, classDownload)
	return func() {
		c.download.Store(nil)
		t.setClass(c, classBusy)
	}
}

// unwrapServed returns the *servedConn that c is, or that the *tls.Conn
// c wraps, or nil.
func unwrapServed(c net.Conn) *servedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, _ := c.(*servedConn)
	return sc
}

// trackingListener admits each connection it accepts to its tracker and
// closes those the tracker refuses.
type trackingListener struct {
	net.Listener
	t *connTracker
}

func (l *trackingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.t.admit(c); tc != nil {
			return tc, nil
		}
		c.Close()
	}
}

type servedKey struct{}

// connContext is the http.Server's ConnContext: mptcp.ConnContext's, and
// the *servedConn for the handlers.
func connContext(ctx context.Context, c net.Conn) context.Context {
	ctx = mptcp.ConnContext(ctx, c)
	if tc := unwrapServed(c); tc != nil {
		ctx = context.WithValue(ctx, servedKey{}, tc)
	}
	return ctx
}

// servedFromContext returns the *servedConn that connContext stored in
// ctx, or nil.
func servedFromContext(ctx context.Context) *servedConn {
	tc, _ := ctx.Value(servedKey{}).(*servedConn)
	return tc
}
