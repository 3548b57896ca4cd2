package netns

import "testing"

// Path reads a name as "ip netns" does, and a path as a path.
func TestPath(t *testing.T) {
	for arg, want := range map[string]string{
		"":                  "",
		"blue":              "/run/netns/blue",
		"/proc/42/ns/net":   "/proc/42/ns/net",
		"/run/netns/blue":   "/run/netns/blue",
		"./blue":            "./blue",
		"blue/../../etc/x":  "blue/../../etc/x",
		"/var/run/netns/bl": "/var/run/netns/bl",
	} {
		if got := Path(arg); got != want {
			t.Errorf("Path(%q) = %q, want %q", arg, got, want)
		}
	}
}
