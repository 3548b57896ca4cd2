package collector

import "testing"

// Kernel counter names become part of metric names only when every
// Prometheus accepts them there.
func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"MPCapableSYNRX": true, "Add_Addr2": true, "": false,
		"with space": false, "dash-name": false, "dot.name": false, "é": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}
