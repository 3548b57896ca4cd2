package counters

import (
	"os"

	"github.com/multipath-go/mptcp/internal/netns"
)

// netstat is the calling thread's own view: /proc/self/net would show the
// main thread's namespace, which a goroutine inside another namespace
// (entered with setns on a locked thread) does not share.
const netstat = "/proc/thread-self/net/netstat"

func read(cfg *Config) (Counters, error) {
	ns, err := netns.Open(cfg.NetNS, cfg.NetNSFD)
	if err != nil {
		if cfg.NetNS != "" {
			return nil, err // an *os.PathError already
		}
		return nil, &os.PathError{Op: "read", Path: "netns", Err: err}
	}
	if ns != nil {
		defer ns.Close()
	}
	text, err := netns.ReadFile(ns, netstat, maxSize+1)
	if err != nil {
		return nil, err
	}
	return Parse(text)
}
