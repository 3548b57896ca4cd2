// Package flagfmt formats bit sets for the String methods of this
// module's flag types.
package flagfmt

import (
	"fmt"
	"strings"
)

// Format lists the set bits of v by name, names[i] naming bit i, in bit
// order and joined by '|', as in "subflow|backup". Bits without a name
// are shown together, last, as one hexadecimal number ("signal|0x300");
// no bit set is "0".
func Format(v uint64, names []string) string {
	if v == 0 {
		return "0"
	}
	var b strings.Builder
	for i, name := range names {
		if v&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(name)
			v &^= 1 << i
		}
	}
	if v != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "0x%x", v)
	}
	return b.String()
}
