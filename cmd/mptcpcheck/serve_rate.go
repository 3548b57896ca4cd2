package main

import (
	"math"
	"sync"
	"syscall"
	"time"
)

// maxStall is the default of serveOptions.maxStall, the longest a
// download may deliver nothing at all, however far ahead of the rate
// floor it is: without it, a reader that took half of a large download at
// once and then stopped would hold its download slot and connection for
// as long as its lead lasts, an hour at the default floor.
const maxStall = writeTimeout

// rateGuard drops a download that falls behind the rate floor or stalls.
//
// The floor applies to the download's average since it began, less a
// grace of one window: the download is dropped once the bytes its client
// has received fall below floor × (elapsed − window). A reader whose
// average stays at or above the floor is never dropped, however bursty:
// curl --limit-rate, for one, takes what the socket holds in one gulp and
// then sleeps for as long as that gulp is ahead of its rate, several
// seconds with a large receive buffer. A reader that stalls from the start
// is dropped one window after it began (plus what its buffers took, at the
// floor's rate).
//
// What the client received is what the server wrote less what the kernel
// still holds unacknowledged (SIOCOUTQ): the send buffer alone holds
// twice -sndbuf, and counting it would credit a reader that never reads
// with a minute of grace at the default floor. Over HTTP/2 the connection
// is shared, its queue is not this download's, and what the server wrote
// is counted; HTTP/2's flow control bounds what a stream queues.
type rateGuard struct {
	d      *inFlight
	conn   syscall.Conn // nil when the queue is not the download's own
	floor  int64        // bytes per second; <= 0: none
	window time.Duration
	stall  time.Duration // maxStall, or less in tests
	tick   time.Duration
	drop   func() // makes the handler's write fail

	mu            sync.Mutex
	stopped       bool
	timer         *time.Timer
	lastCheck     time.Time
	lastDelivered int64
	lastProgress  time.Time
}

// startRateGuard checks d every quarter window until stop is called, and
// calls drop, once, when d falls behind.
func startRateGuard(d *inFlight, conn syscall.Conn, floor int64, window, stall time.Duration, drop func()) *rateGuard {
	g := &rateGuard{
		d: d, conn: conn, floor: floor, window: window, stall: stall, drop: drop,
		tick:      max(window/4, 50*time.Millisecond),
		lastCheck: d.start, lastProgress: d.start,
	}
	d.recent.Store(math.MaxInt64) // not measured yet: not the slowest
	g.mu.Lock()
	g.timer = time.AfterFunc(g.tick, g.check)
	g.mu.Unlock()
	return g
}

// stop ends the checks; drop is not called after stop returns.
func (g *rateGuard) stop() {
	g.mu.Lock()
	g.stopped = true
	g.timer.Stop()
	g.mu.Unlock()
}

// delivered returns the bytes of the body the client has received, or
// slightly more: the write in progress counts whole, as the part of it
// the kernel took cannot be told from the part still to be copied. A
// reader is thus never counted slower than it is, and chunk keeps the
// excess small for a slow one.
func (g *rateGuard) delivered() int64 {
	n := g.d.written.Load() + g.d.pending.Load()
	if g.conn != nil {
		if u, ok := unsentBytes(g.conn); ok {
			n = max(0, n-u)
		}
	}
	return n
}

// Bounds of chunk.
const (
	minChunk = 16 << 10
	maxChunk = int64(len(zeros))
)

// chunk returns how much the handler should write at once: a quarter
// second of what the client received lately, so that the write in
// progress, which delivered counts whole, is a small part of what a slow
// reader's average is measured on; minChunk until the first measurement.
func (g *rateGuard) chunk() int64 {
	r := g.d.recent.Load()
	if r == math.MaxInt64 {
		return minChunk
	}
	return min(max(r/4, minChunk), maxChunk)
}

func (g *rateGuard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	now := time.Now()
	delivered := g.delivered()
	if dt := now.Sub(g.lastCheck).Seconds(); dt > 0 {
		g.d.recent.Store(int64(float64(delivered-g.lastDelivered) / dt))
	}
	if delivered > g.lastDelivered {
		g.lastProgress = now
	}
	g.lastCheck, g.lastDelivered = now, delivered
	behind := g.floor > 0 && float64(delivered) < float64(g.floor)*(now.Sub(g.d.start)-g.window).Seconds()
	if behind || now.Sub(g.lastProgress) > g.stall {
		g.stopped = true
		g.drop()
		return
	}
	g.timer.Reset(g.tick)
}
