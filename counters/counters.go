package counters

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Counter is one kernel counter: its name in /proc/net/netstat, without
// the "MPTcpExt" prefix nstat adds, and its value.
type Counter struct {
	Name  string
	Value uint64
}

// Counters is one reading of the MPTcpExt counters, in the kernel's
// order. The zero value has none.
type Counters []Counter

// Get returns the value of the counter named name, and whether the
// kernel has it.
func (c Counters) Get(name string) (uint64, bool) {
	for _, x := range c {
		if x.Name == name {
			return x.Value, true
		}
	}
	return 0, false
}

// Sub returns the change from before to c, counter by counter, in c's
// order: for a counter, how many events happened between the readings
// (modulo 2^64, so that a counter that wrapped still gives its change;
// a 32-bit kernel's counters wrap at 2^32, see [Counters.Sub32]); for the
// gauge MPCurrEstab, its value in c. A counter that before lacks counts
// from zero.
func (c Counters) Sub(before Counters) Counters {
	return c.sub(before, 0)
}

// Sub32 is [Counters.Sub] for readings of a kernel whose unsigned long
// has 32 bits, where counters wrap at 2^32.
func (c Counters) Sub32(before Counters) Counters {
	return c.sub(before, 1<<32-1)
}

func (c Counters) sub(before Counters, mask uint64) Counters {
	d := make(Counters, len(c))
	for i, x := range c {
		d[i].Name = x.Name
		if d2, ok := Describe(x.Name); ok && d2.Kind == KindGauge {
			d[i].Value = x.Value
			continue
		}
		v, _ := before.Get(x.Name)
		// Same position first: the kernel's order does not change.
		if i < len(before) && before[i].Name == x.Name {
			v = before[i].Value
		}
		d[i].Value = x.Value - v
		if mask != 0 {
			d[i].Value &= mask
		}
	}
	return d
}

// maxSize bounds what Parse accepts: /proc/net/netstat is about 5 KiB.
const maxSize = 1 << 20

// prefix starts both MPTcpExt lines.
var prefix = []byte("MPTcpExt:")

// Parse reads the MPTcpExt counters out of the text of /proc/net/netstat:
// a line of names, then a line of values, each starting with "MPTcpExt:".
// It fails when the text has no such pair (a kernel without MPTCP: the
// error matches errors.ErrUnsupported), when the two lines differ in
// length, or when a value is not a decimal unsigned 64-bit number. Its
// errors are *net.OpError values whose Op is "parse" and Net "netstat".
func Parse(text []byte) (Counters, error) {
	c, err := parse(text)
	if err != nil {
		return nil, opError("parse", err)
	}
	return c, nil
}

func parse(text []byte) (Counters, error) {
	if len(text) > maxSize {
		return nil, fmt.Errorf("%d bytes of netstat, more than %d", len(text), maxSize)
	}
	var names, values []byte
	for rest := text; len(rest) > 0; {
		line, after, _ := bytes.Cut(rest, []byte("\n"))
		rest = after
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		if names == nil {
			names = line[len(prefix):]
			continue
		}
		values = line[len(prefix):]
		break
	}
	if names == nil {
		return nil, errNoMPTCP
	}
	if values == nil {
		return nil, errors.New("MPTcpExt names without a line of values")
	}
	n, v := bytes.Fields(names), bytes.Fields(values)
	if len(n) != len(v) {
		return nil, fmt.Errorf("%d MPTcpExt names but %d values", len(n), len(v))
	}
	c := make(Counters, len(n))
	for i := range n {
		x, err := strconv.ParseUint(string(v[i]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("MPTcpExt %s: value %q is not a counter", n[i], v[i])
		}
		c[i] = Counter{Name: string(n[i]), Value: x}
	}
	return c, nil
}
