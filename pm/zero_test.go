package pm

import (
	"context"
	"errors"
	"net"
	"testing"
)

// The zero and nil Subscription behave as a closed one, as the zero and
// nil Conn do: every method returns an error matching net.ErrClosed, and
// none panics.
func TestZeroSubscription(t *testing.T) {
	check := func(what string, err error) {
		t.Helper()
		var oe *net.OpError
		if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) {
			t.Errorf("%s: %v, want an *OpError matching net.ErrClosed", what, err)
		}
	}
	call := func(what string, f func() error) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panics: %v", what, r)
			}
		}()
		check(what, f())
	}
	ctx := context.Background()
	var zero Subscription
	call("zero Subscription's Next", func() error { _, err := zero.Next(ctx); return err })
	call("zero Subscription's Close", zero.Close)
	var nilSub *Subscription
	call("nil Subscription's Next", func() error { _, err := nilSub.Next(ctx); return err })
	call("nil Subscription's Close", nilSub.Close)

	// The Conn's, which the Subscription's agree with.
	var zc Conn
	call("zero Conn's Subscribe", func() error { _, err := zc.Subscribe(); return err })
	call("zero Conn's Endpoints", func() error { _, err := zc.Endpoints(); return err })
	call("zero Conn's Close", zc.Close)
	var nc *Conn
	call("nil Conn's Subscribe", func() error { _, err := nc.Subscribe(); return err })
}
