//go:build !linux

package diag

import (
	"iter"

	"github.com/multipath-go/mptcp/internal/platform"
)

// Conn reads socket diagnostics: only Linux has them.
type Conn struct{}

func unsupported(op string) error {
	return opError(op, platform.ErrNotLinux)
}

// Dial fails with errors.ErrUnsupported off Linux.
func Dial(*Config) (*Conn, error) { return nil, unsupported("dial") }

// Close fails with errors.ErrUnsupported off Linux.
func (c *Conn) Close() error { return unsupported("close") }

// Connections yields one error, errors.ErrUnsupported, off Linux.
func (c *Conn) Connections(*Filter) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) { yield(Connection{}, unsupported("list")) }
}

// List fails with errors.ErrUnsupported off Linux.
func (c *Conn) List(*Filter) ([]Connection, error) { return nil, unsupported("list") }

// Lookup fails with errors.ErrUnsupported off Linux.
func (c *Conn) Lookup(uint32, *Filter) (Connection, error) {
	return Connection{}, unsupported("lookup")
}

// Listeners fails with errors.ErrUnsupported off Linux.
func (c *Conn) Listeners() (int, error) { return 0, unsupported("list") }
