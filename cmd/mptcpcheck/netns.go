package main

import (
	"flag"
	"strings"
)

// netnsFlag is the -netns flag of the modes that read a network
// namespace (conns, doctor, monitor): where it names one, they read that
// namespace instead of their own. why and get take no -netns: they dial a
// connection and gather evidence around it (the capture, the counters,
// the path manager's events), all of which would have to be in the
// namespace; run them there with "ip netns exec NAME".
func netnsFlag(fs *flag.FlagSet) *string {
	return fs.String("netns", "", "read the network namespace `NS`: a file such as /proc/PID/ns/net, or a name made by ip netns add")
}

// netnsPath is the file of the namespace -netns names: what has a slash
// is a path, anything else a name made by "ip netns add", in /run/netns.
// "" stays "": the caller's namespace.
func netnsPath(ns string) string {
	if ns == "" || strings.Contains(ns, "/") {
		return ns
	}
	return "/run/netns/" + ns
}
