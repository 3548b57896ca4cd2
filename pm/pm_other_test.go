//go:build !linux

package pm

import (
	"errors"
	"net"
	"testing"
)

// Off Linux, Dial fails with an error matching errors.ErrUnsupported.
func TestDialUnsupported(t *testing.T) {
	c, err := Dial(nil)
	var oe *net.OpError
	if c != nil || !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &oe) || oe.Op != "dial" {
		t.Errorf("Dial = %v, %v; want errors.ErrUnsupported", c, err)
	}
}
