// Package errs builds the errors of the module's packages in package
// net's form (docs/conventions.md): a *net.OpError whose Err errors.Is
// reaches, and errors with a message of their own that still match the
// sentinel or errno they stand for.
package errs

import (
	"errors"
	"net"
	"os"
)

// Op returns err as the *net.OpError of op on network, with os.ErrClosed
// made net.ErrClosed, the one "closed" every package answers; an
// *net.OpError already is returned as it is, so that a layer adds no
// second one. A nil err gives nil.
func Op(op, network string, err error) error {
	if err == nil {
		return nil
	}
	var oe *net.OpError
	if errors.As(err, &oe) && err == error(oe) {
		return oe
	}
	if errors.Is(err, os.ErrClosed) && !errors.Is(err, net.ErrClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: network, Err: err}
}

// Wrapped is an error with its own message that matches each of errs
// through errors.Is and errors.As: a cause explained in words, which
// stays the cause.
type Wrapped struct {
	msg  string
	errs []error
}

// New returns a Wrapped error that says msg and matches errs.
func New(msg string, errs ...error) error { return &Wrapped{msg: msg, errs: errs} }

// Error returns the message.
func (e *Wrapped) Error() string { return e.msg }

// Unwrap returns the errors it matches.
func (e *Wrapped) Unwrap() []error { return e.errs }
