package counters

import (
	"github.com/multipath-go/mptcp/internal/netns"
)

// netstat is the calling thread's own view: /proc/self/net would show the
// main thread's namespace, which a goroutine inside another namespace
// (entered with setns on a locked thread) does not share.
const netstat = "/proc/thread-self/net/netstat"

func read(cfg *Config) (Counters, error) {
	var text []byte
	err := netns.Run(cfg.NetNS, cfg.NetNSFD, func() (err error) {
		text, err = netns.ReadFile(netstat, maxSize+1)
		return err
	})
	if err != nil {
		return nil, err
	}
	return parse(text)
}
