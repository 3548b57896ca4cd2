package flagfmt

import "testing"

func TestFormat(t *testing.T) {
	names := []string{"signal", "subflow", "backup"}
	for _, tc := range []struct {
		v     uint64
		names []string
		want  string
	}{
		{0, names, "0"},
		{0, nil, "0"},
		{1, names, "signal"},
		{0b110, names, "subflow|backup"},
		{0b111, names, "signal|subflow|backup"},
		{1<<8 | 1<<9, names, "0x300"},
		{1 | 1<<8 | 1<<9, names, "signal|0x300"},
		{0b101, nil, "0x5"},
		{1 << 63, names, "0x8000000000000000"},
	} {
		if got := Format(tc.v, tc.names); got != tc.want {
			t.Errorf("Format(%#x, %q) = %q, want %q", tc.v, tc.names, got, tc.want)
		}
	}
}
