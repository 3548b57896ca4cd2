// Command mptcpcheck shows Multipath TCP at work with package mptcp.
//
// Usage:
//
//	mptcpcheck                    check this host and run MPTCP end to end on loopback
//	mptcpcheck serve [-addr ADDR] answer "am I using MPTCP?" over HTTP
//	mptcpcheck get [-o FILE] [-json] [-timeout D] URL
//	                              fetch a URL over MPTCP and report the connection
//	mptcpcheck why [-json] [-wait D] [-timeout D] ADDRESS|URL
//	                              say why a connection is not MPTCP, or has one subflow
//	mptcpcheck doctor [-json] [-netns NS]
//	                              check the host and say what to change for more subflows
//	mptcpcheck monitor [-json] [-netns NS]
//	                              print the path manager's events
//	mptcpcheck conns [-json] [-l|-a] [-p] [-watch INTERVAL] [filters]
//	                              list the namespace's MPTCP connections and their subflows
//	mptcpcheck version            print the version, VCS revision and Go version (also -version)
//
// Run "mptcpcheck -h" or "mptcpcheck MODE -h" for every flag. It uses
// the module's public API, packages mptcp, pm, diag and counters, and
// internal/explain, which turns the evidence "why" and "get" gather into
// explanations.
//
// # Why
//
// "mptcpcheck why ADDRESS|URL" dials host:port (writing nothing, reading
// and dropping what the server sends) or fetches a URL as get does, waits
// up to -wait (3s) for the path manager to add subflows, and prints one
// explanation per cause, with a code, a message, its evidence and whether
// it is an inference: mptcp-disabled, server-no-mptcp, option-stripped,
// no-endpoint, subflow-limit, join-initial-denied (the server refuses
// joins to its first address), join-failed, join-rejected (a join the
// server closed as soon as it came up), join-pending (a join with no
// answer by the end of the wait), backup-path (every additional subflow
// a backup: a setting, not a failure), not-established (no data went both
// ways, which the path manager waits for), unsupported (not Linux, or no
// MPTCP in the kernel: there are no counters or path manager to read) or
// unknown. A connection that uses MPTCP with every path it can have gets
// none. "get" adds the same explanations to its report, without waiting.
//
// The evidence is taken in the dialing network namespace: the MPTcpExt
// counters before and after (shared by every connection of the namespace,
// so what they show is an inference), the path manager's events for the
// connection's token (subscribed before the dial; needs CAP_NET_ADMIN),
// this side's endpoints and limits, the connection's mptcp_info and
// net.mptcp.enabled. From the client's side a server without MPTCP and a
// middlebox that strips the option look the same: both give a SYN/ACK
// without MP_CAPABLE (counter MPCapableFallbackSYNACK). To tell them
// apart, why captures the handshake's SYN and SYN/ACK (a packet socket
// with a filter for SYNs; needs CAP_NET_RAW) and looks at their options: a
// SYN that left this host without MP_CAPABLE but with a run of NOPs was
// stripped here; a SYN/ACK with a run of NOPs had an option overwritten on
// the path, as iptables' TCPOPTSTRIP and most stripping middleboxes do;
// a SYN that left with MP_CAPABLE answered by a SYN/ACK without it and
// without such padding points at the server (an inference: a middlebox
// that removes the option outright looks the same). Without a capture,
// why says option-stripped and names both causes.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `mptcpcheck shows Multipath TCP working, with github.com/multipath-go/mptcp.

Usage:
  mptcpcheck                      check this host, then run an HTTP server and client over
                                  MPTCP on loopback and print what each end sees; exit
                                  status 0 when MPTCP works end to end
  mptcpcheck serve [flags]        answer every request with whether the client's connection
                                  uses MPTCP and the subflows the server sees: plain text,
                                  JSON (Accept: application/json or ?format=json), or an
                                  HTML page that refreshes its own connection's subflows;
                                  /download?size=N sends N bytes
  mptcpcheck get [flags] URL      fetch URL over MPTCP and report the connection that carried
                                  the body: MPTCP or fallback, subflows, bytes per subflow;
                                  -o FILE saves the body, -o - writes it to stdout
  mptcpcheck why [flags] ADDRESS|URL
                                  connect to host:port or fetch URL over MPTCP and say why
                                  the connection is not MPTCP, or why it has one subflow,
                                  with the evidence: counters, path manager events,
                                  endpoints, limits, mptcp_info, net.mptcp.enabled
  mptcpcheck doctor [flags]       check this host's (or -netns's) readiness (sysctls, path
                                  manager, limits, endpoints) and say what to change to get
                                  more than one subflow
  mptcpcheck monitor [flags]      print the path manager's events as they happen, of this
                                  network namespace or of -netns
  mptcpcheck conns [flags]        list every MPTCP connection of this network namespace (or
                                  of -netns) with its subflows, as ss -M does: state,
                                  addresses, token, fallback, queues, bytes; RTT, cwnd and
                                  bytes per subflow; -l listeners, -a both, -p processes;
                                  filters by state, address, port and family;
                                  -watch INTERVAL redraws with each subflow's rates
  mptcpcheck version              print this binary's version, VCS revision, build time and
                                  Go version (also -version)

Run "mptcpcheck MODE -h" for the flags of a mode.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the check failed, or the operation did
	exitUsage = 2 // bad flags or arguments
)

// run is the whole command, with its arguments and output streams, so
// that tests run it in process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return demo(ctx, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stdout, stderr)
	case "get":
		return getCmd(ctx, args[1:], stdout, stderr)
	case "doctor":
		return doctorCmd(ctx, args[1:], stdout, stderr)
	case "monitor":
		return monitorCmd(ctx, args[1:], stdout, stderr)
	case "conns":
		return connsCmd(ctx, args[1:], stdout, stderr)
	case "why":
		return whyCmd(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		return versionCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "mptcpcheck: unknown mode %q\n\n%s", args[0], usage)
	return exitUsage
}

// parseFlags parses a mode's flags; it returns the exit status to use
// when parsing ended the command (help or an error).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	// Parse prints the usage itself on -h as on an error: held here, so
	// that help goes to stdout alone and an error to stderr alone.
	var held bytes.Buffer
	fs.SetOutput(&held)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK, true
	case err != nil:
		held.WriteTo(stderr)
		return exitUsage, true
	}
	return 0, false
}
