package mptcp

import "net"

// watchedError is err, package net's error of a dial that a watch ended
// (a cancellation), with the failure the watch found in its place: the
// kernel never reported it.
func watchedError(err, failed error) error {
	if oe, ok := err.(*net.OpError); ok {
		found := *oe
		found.Err = failed
		return &found
	}
	return err
}

// connectWatch makes up for kernels that never report the failure of a
// non-blocking MPTCP connect: on 5.10 (KERNEL.md) a refused port gives
// no error, poll never fires and SO_ERROR stays 0, so package net waits
// out the dial's deadline, or forever without one, and reports a
// timeout. The failure is on the first subflow, and a second connect()
// of the MPTCP socket asks that subflow again: EALREADY while its SYN
// waits, its error once it failed. The watch repeats that connect on a
// duplicate of the descriptor (so that it never touches a descriptor
// number package net has closed and the process reused) and, on a
// failure, ends the dial with it. Only strict dials are watched: they
// never retry over TCP, so ending the dial loses nothing, where package
// net's retry of a dial that is not strict may still connect.
//
// Only kernels without SOL_MPTCP (before 5.16) are watched: 6.1 and
// later report the failure themselves, and there a second connect could
// take the error before package net reads it.
type connectWatch struct {
	stop chan struct{} // closed when the dial returns
	done chan struct{} // closed when the watch has ended
	err  error         // the connect's failure; read after done
}

// end stops the watch and returns the connect's failure it found, if
// any. A nil watch has none.
func (w *connectWatch) end() error {
	if w == nil {
		return nil
	}
	close(w.stop)
	<-w.done
	return w.err
}
