package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// isInterrupted reports whether ctx ended because it was cancelled, as
// signal.NotifyContext does on Ctrl-C or SIGTERM. A context whose
// deadline passed was not interrupted: that is a timeout, which is
// reported as the failure it is (exit status 1), never as an interrupt.
func isInterrupted(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// isTimeout reports whether err is a deadline that passed: a dial or
// read that got no answer in time.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// probeTimeout bounds the plain TCP connection get tries after an MPTCP
// one got no answer, to say why: it comes on top of -timeout.
const probeTimeout = 2 * time.Second

// dialRecord remembers the last dial, so that a fetch that failed for
// lack of an answer can be explained with the address dialed (after
// redirects it need not be the URL's host). The transport gives up on a
// dial when the request's context ends, before the dial returns: a dial
// still in flight then counts as one that got no answer.
type dialRecord struct {
	mu              sync.Mutex
	network, target string
	inFlight        bool
	err             error // of the last dial that returned
}

func (r *dialRecord) wrap(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		r.mu.Lock()
		r.network, r.target, r.inFlight, r.err = network, address, true, nil
		r.mu.Unlock()
		c, err := dial(ctx, network, address)
		r.mu.Lock()
		if r.network == network && r.target == address {
			r.inFlight, r.err = false, err
		}
		r.mu.Unlock()
		return c, err
	}
}

// noAnswer returns the network and address of the last dial if it got
// no answer: it timed out, or is still waiting.
func (r *dialRecord) noAnswer() (network, address string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.network, r.target, r.target != "" && (r.inFlight || isTimeout(r.err))
}

// explainNoAnswer says why an MPTCP dial to address got no answer, from
// one plain TCP connection to the same address (closed at once, nothing
// written), tried with probe for at most probeTimeout; "" without probe
// or once interrupted. Some kernels (Linux 5.10) never complete a
// non-blocking MPTCP connect to a port that refuses it: the dial then
// waits out its timeout, though the port answered with a reset, and only
// a plain TCP connection shows the refusal (as it does behind a firewall
// that drops MPTCP SYNs). A plain connection that succeeds shows that
// the server or the path drops MPTCP SYNs.
//
// The probe runs after the fetch's deadline passed, so its context keeps
// only the cancellation of interrupted (an interrupt still stops it at
// once), not its deadline.
func explainNoAnswer(interrupted context.Context, probe func(ctx context.Context, network, address string) (net.Conn, error), network, address string) string {
	if probe == nil || isInterrupted(interrupted) {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(interrupted), probeTimeout)
	defer cancel()
	stop := context.AfterFunc(interrupted, func() {
		if isInterrupted(interrupted) {
			cancel()
		}
	})
	defer stop()
	c, err := probe(ctx, network, address)
	none := fmt.Sprintf("the MPTCP connection to %s got no answer", address)
	switch {
	case err == nil:
		c.Close()
		return none + ", but a plain TCP one was accepted: the server or something on the path drops MPTCP SYNs (see mptcpcheck why)"
	case errors.Is(err, syscall.ECONNREFUSED):
		// Which of the two, the kernel or a firewall, needs a look at
		// the packets: the refusal is what the user needs.
		return fmt.Sprintf("%s, but a plain TCP one was refused (%v): nothing listens there; "+
			"some kernels (Linux 5.10) never report a refused MPTCP connection, and a firewall that drops MPTCP SYNs does the same", none, unwrapOpError(err))
	case isInterrupted(interrupted):
		return ""
	case isTimeout(err):
		return fmt.Sprintf("%s, nor did a plain TCP one within %v: the host is unreachable or a firewall drops the connection", none, probeTimeout)
	}
	return fmt.Sprintf("%s; a plain TCP one failed: %v", none, unwrapOpError(err))
}
