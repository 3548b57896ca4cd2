// Package netns names the network namespace that packages diag,
// counters, pm and collector work in. Each takes the one [Config] this
// package defines (diag.Config, counters.Config and pm.Config are other
// names for it; collector.Config has the same two fields), and each
// follows the rules written here, once.
//
// # Naming a namespace
//
// A [Config] names a namespace by the path of its file (NetNS), such as
// /run/netns/NAME, made by "ip netns add NAME", or /proc/PID/ns/net; or
// by an open descriptor of such a file (NetNSFD), as mdlayher/netlink's
// Config.NetNS does. The path wins when both are set. A nil *Config, or
// the zero Config, names none: the calling OS thread's namespace, which
// is the one the process started in unless the program moved threads.
// A negative NetNSFD with no path is an error matched by os.ErrInvalid,
// a missing path one matched by os.ErrNotExist. Entering a namespace
// other than the thread's own needs CAP_SYS_ADMIN: without it, an error
// matched by os.ErrPermission.
//
// # Who owns the descriptor
//
// The caller does. No package closes a descriptor it is given, and a
// call uses it only while it runs: a value that needs the namespace
// after the call returns (a pm.Conn, whose subscriptions and interface
// checks enter the namespace again; a collector.Collector, which reads
// it at each scrape) keeps a duplicate of its own, which its Close
// closes. So a caller may close its descriptor as soon as the call that
// took it returns. A path is opened by the call that takes it and closed
// before it returns, except by a Collector, which opens it again at each
// scrape so that a name removed or made again shows.
//
// # Once per operation
//
// A call enters the namespace once, for as long as it needs to: to make
// a socket (diag.Dial, pm.Dial), or to read a per-namespace file
// (counters.Read). Sockets stay in their namespace after the thread
// leaves it. A Collector's scrape enters once, and reads the counters,
// the connections, the path manager and the sysctl from inside.
package netns

import "strings"

// Config names a network namespace; see the package documentation for
// the rules. A nil *Config is the zero Config: the calling thread's
// namespace.
type Config struct {
	// NetNS is the path of a network namespace file, such as
	// /run/netns/NAME or /proc/PID/ns/net.
	NetNS string

	// NetNSFD is an open descriptor of a network namespace, used when
	// NetNS is empty; 0 means none. The caller keeps it: no package
	// closes it.
	NetNSFD int
}

// Path returns the namespace file that arg names, as "ip netns" and the
// module's commands (-netns, --netns) read one: arg itself when it holds
// a slash (/proc/PID/ns/net, /run/netns/NAME), else /run/netns/arg, where
// "ip netns add arg" made it. An empty arg stays empty: no namespace.
func Path(arg string) string {
	if arg != "" && !strings.Contains(arg, "/") {
		return "/run/netns/" + arg
	}
	return arg
}
