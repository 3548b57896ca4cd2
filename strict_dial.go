package mptcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// A strict dial (RequireMPTCP) to a host name tries its addresses the way
// net.Dialer does, but counts a connection that is not MPTCP as a failed
// address: package net would stop at the first address that connects,
// even over a path that strips MPTCP, when the next one might give it.
// The name is resolved here and each address dialed by net.Dialer as a
// literal, so that timeouts, hooks, keep-alives and errors stay package
// net's. What is kept of net.Dialer's behaviour:
//
//   - one deadline for the whole dial (Timeout, Deadline, the context's),
//     shared among the addresses still to try, each given at least 2 s
//     where the deadline allows, as net.Dialer does;
//   - for "tcp" with addresses of both families, RFC 6555 Fast Fallback:
//     the other family starts FallbackDelay (300 ms when zero) after the
//     first, or at once when the first family's addresses have all
//     failed; a negative FallbackDelay tries every address in turn;
//   - a cancelled context or an expired deadline stops the dial: no
//     further address is tried.

// dialStrict dials a TCP network with RequireMPTCP.
func (d *Dialer) dialStrict(ctx context.Context, network, address string) (*MPTCPConn, error) {
	ctx, cancel := d.dialCtx(ctx)
	defer cancel()
	addrs, err := d.strictAddrs(ctx, network, address)
	switch {
	case err != nil:
		return nil, err
	case addrs == nil: // nothing to resolve: net.Dialer dials it, or says why not
		return d.dialStrictAddr(ctx, network, address)
	}
	var primaries, fallbacks []netip.AddrPort
	if d.FallbackDelay >= 0 && network == "tcp" {
		primaries, fallbacks = partition(addrs)
	} else {
		primaries = addrs
	}
	c, errs := d.dialStrictParallel(ctx, network, primaries, fallbacks)
	if c != nil {
		return c, nil
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: &addrsError{
		address: address, errs: errs, timeout: errors.Is(ctx.Err(), context.DeadlineExceeded)}}
}

// dialCtx folds Timeout, Deadline and Cancel into ctx, as net.Dialer does
// before it resolves a name, so that the addresses share one deadline.
func (d *Dialer) dialCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	var deadline time.Time
	if d.Timeout != 0 { // negative too, as in package net: already expired
		deadline = time.Now().Add(d.Timeout)
	}
	if !d.Deadline.IsZero() && (deadline.IsZero() || d.Deadline.Before(deadline)) {
		deadline = d.Deadline
	}
	cancel := context.CancelFunc(func() {})
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	if d.Cancel != nil {
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		done := d.Cancel
		go func() {
			select {
			case <-done:
				stop()
			case <-ctx.Done():
			}
		}()
		prev := cancel
		cancel = func() { stop(); prev() }
	}
	return ctx, cancel
}

// strictAddrs resolves the host of address into the addresses to try, in
// the resolver's order. It returns nil, and no
// error, for an address that has no name to resolve (an IP literal, an
// empty host) or that package net rejects anyway (a malformed address, a
// LocalAddr that is not a *net.TCPAddr): dialed as given, it gets package
// net's own answer.
func (d *Dialer) strictAddrs(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return nil, nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil, nil
	}
	var local netip.Addr
	switch la := d.LocalAddr.(type) {
	case nil:
	case *net.TCPAddr:
		if la != nil && la.IP != nil && !la.IP.IsUnspecified() {
			local, _ = netip.AddrFromSlice(la.IP)
			local = local.Unmap()
		}
	default:
		return nil, nil
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	p, err := r.LookupPort(ctx, network, port)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	ips, err := r.LookupNetIP(ctx, "ip"+strings.TrimPrefix(network, "tcp"), host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var addrs []netip.AddrPort
	for _, ip := range ips {
		ip = ip.Unmap() // LookupNetIP may give IPv4 in its IPv6-mapped form
		if local.IsValid() && !ip.IsUnspecified() && ip.Is4() != local.Is4() {
			continue // as net.Dialer: only the LocalAddr's family can be dialed
		}
		addrs = append(addrs, netip.AddrPortFrom(ip, uint16(p)))
	}
	if len(addrs) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr,
			Err: &net.AddrError{Err: "no suitable address found", Addr: host}}
	}
	return addrs, nil
}

// partition splits addrs into those of the first one's family and the
// others, keeping their order, as net.Dialer does for Fast Fallback.
func partition(addrs []netip.AddrPort) (primaries, fallbacks []netip.AddrPort) {
	v4 := addrs[0].Addr().Is4()
	for _, a := range addrs {
		if a.Addr().Is4() == v4 {
			primaries = append(primaries, a)
		} else {
			fallbacks = append(fallbacks, a)
		}
	}
	return primaries, fallbacks
}

// dialStrictParallel races the primaries against the fallbacks, started
// FallbackDelay later, as net.Dialer does. It returns the first MPTCP
// connection, or every address's error, primaries first.
func (d *Dialer) dialStrictParallel(ctx context.Context, network string, primaries, fallbacks []netip.AddrPort) (*MPTCPConn, []error) {
	if len(fallbacks) == 0 {
		return d.dialStrictSerial(ctx, network, primaries)
	}
	type result struct {
		c       *MPTCPConn
		errs    []error
		primary bool
	}
	returned := make(chan struct{})
	defer close(returned)
	results := make(chan result) // unbuffered: a late winner is closed by its racer
	race := func(ctx context.Context, primary bool) {
		addrs := primaries
		if !primary {
			addrs = fallbacks
		}
		c, errs := d.dialStrictSerial(ctx, network, addrs)
		select {
		case results <- result{c, errs, primary}:
		case <-returned:
			if c != nil {
				c.Close()
			}
		}
	}
	primaryCtx, primaryCancel := context.WithCancel(ctx)
	defer primaryCancel()
	go race(primaryCtx, true)
	delay := d.FallbackDelay
	if delay == 0 {
		delay = 300 * time.Millisecond // net.Dialer's default
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var primaryErrs, fallbackErrs []error
	for pending := 2; ; {
		select {
		case <-timer.C:
			fallbackCtx, fallbackCancel := context.WithCancel(ctx)
			defer fallbackCancel()
			go race(fallbackCtx, false)
		case res := <-results:
			if res.c != nil {
				return res.c, nil
			}
			if res.primary {
				primaryErrs = res.errs
				if timer.Stop() { // the fallbacks have not started: start them now
					timer.Reset(0)
				}
			} else {
				fallbackErrs = res.errs
			}
			if pending--; pending == 0 {
				return nil, append(primaryErrs, fallbackErrs...)
			}
		}
	}
}

// dialStrictSerial tries addrs in turn, each with its share of the
// deadline, until one gives MPTCP. It returns that connection, or the
// error of every address it tried.
func (d *Dialer) dialStrictSerial(ctx context.Context, network string, addrs []netip.AddrPort) (*MPTCPConn, []error) {
	var errs []error
	for i, a := range addrs {
		if i > 0 && ctx.Err() != nil {
			break // cancelled or out of time: the error of the last try says so
		}
		dialCtx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok {
			if share := partialDeadline(time.Now(), deadline, len(addrs)-i); share.Before(deadline) {
				dialCtx, cancel = context.WithDeadline(ctx, share)
			}
		}
		c, err := d.dialStrictAddr(dialCtx, network, a.String())
		cancel()
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errs
}

// partialDeadline is package net's share of the time left for one of
// remaining addresses: an equal share, but at least 2 s where the
// deadline allows.
func partialDeadline(now, deadline time.Time, remaining int) time.Time {
	left := deadline.Sub(now)
	if left <= 0 {
		return deadline
	}
	share := left / time.Duration(remaining)
	const saneMinimum = 2 * time.Second
	if share < saneMinimum {
		share = min(left, saneMinimum)
	}
	return now.Add(share)
}

// dialStrictAddr dials one address, given as a string.
func (d *Dialer) dialStrictAddr(ctx context.Context, network, address string) (*MPTCPConn, error) {
	return d.dialStrictOne(ctx, network, func(ctx context.Context, nd *net.Dialer) (*net.TCPConn, error) {
		c, err := nd.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil // always, for a TCP network
	})
}

// dialStrictOne dials one address with nd, every socket made MPTCP by
// the strict hook, and refuses a connection that fell back. ctx carries
// the dial's deadline and cancellation.
//
// The attempt ends before the kernel would retransmit its SYN without
// the MPTCP option (kernelFallbackAfter): past that point the socket can
// no longer give MPTCP, and the plain SYN would be the kernel's, sent in
// the strict dial's name. That end is reported as a failure to get MPTCP
// from the address, not as the dial's timeout.
func (d *Dialer) dialStrictOne(ctx context.Context, network string, dial func(context.Context, *net.Dialer) (*net.TCPConn, error)) (*MPTCPConn, error) {
	st := d.strict()
	nd := d.netDialer(st)
	// dialCtx put Timeout, Deadline and Cancel into ctx, for the whole dial.
	nd.Timeout, nd.Deadline = 0, time.Time{}
	//lint:ignore SA1019 the deprecated channel is in ctx already
	nd.Cancel = nil
	attempt := ctx
	var limit time.Time
	after, retrans := kernelFallbackAfter()
	if after > 0 {
		limit = time.Now().Add(after - fallbackMargin)
		if deadline, ok := ctx.Deadline(); !ok || limit.Before(deadline) {
			var cancel context.CancelFunc
			attempt, cancel = context.WithDeadline(ctx, limit)
			defer cancel()
		}
	}
	watched, abort := context.WithCancel(attempt)
	defer abort()
	st.abort = abort
	tc, err := dial(watched, nd)
	if failed := st.watch.end(); failed != nil && err != nil {
		return nil, watchedError(err, failed)
	}
	if err != nil {
		// Whether the attempt's own limit ended it is told by the clock,
		// not by attempt.Err(): package net times the connect out at the
		// context's deadline on its own timer, which may fire before the
		// context's.
		if oe, ok := err.(*net.OpError); ok && attempt != ctx && oe.Timeout() && !time.Now().Before(limit) && ctx.Err() == nil {
			capped := *oe
			capped.Err = &synFallbackError{retrans}
			err = &capped
		}
		return nil, err
	}
	return d.finish(tc, network)
}

// fallbackMargin is how long before the kernel's own fallback the
// attempt ends: time for the timer to fire and the socket to close,
// on a loaded machine too.
const fallbackMargin = 250 * time.Millisecond

// synFallbackError is the failure of an attempt that ran until the
// kernel would have retransmitted its SYN without the MPTCP option.
type synFallbackError struct{ retrans int }

func (e *synFallbackError) Error() string {
	return fmt.Sprintf("mptcp: no answer to the MPTCP SYN and its %d retransmissions; "+
		"the kernel would go on without MPTCP (net.mptcp.syn_retrans_before_tcp_fallback)", e.retrans)
}
func (e *synFallbackError) Is(target error) bool { return target == ErrNotMPTCP }

// Timeout reports true: the address did not answer in time.
func (e *synFallbackError) Timeout() bool { return true }

// addrsError is the error of a strict dial to a name when none of its
// addresses gave MPTCP: it names each address with its own failure.
// Unwrap gives each address's *net.OpError, so that errors.Is and
// errors.As find every cause (ErrNotMPTCP, syscall.ECONNREFUSED, a
// timeout...).
type addrsError struct {
	address string
	errs    []error
	timeout bool // the dial's deadline passed
}

func (e *addrsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no address of %s gave an MPTCP connection: ", e.address)
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		if oe, ok := err.(*net.OpError); ok && oe.Addr != nil {
			fmt.Fprintf(&b, "%s: %v", oe.Addr, oe.Err)
		} else {
			b.WriteString(err.Error())
		}
	}
	return b.String()
}

func (e *addrsError) Unwrap() []error { return e.errs }

// Timeout reports whether the dial ran out of time, which
// net.OpError.Timeout passes on.
func (e *addrsError) Timeout() bool { return e.timeout }
