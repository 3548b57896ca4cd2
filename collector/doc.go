// Package collector exports the MPTCP state of a Linux network namespace
// to Prometheus: a prometheus.Collector that a Go service registers in
// its own registry, and that reads the namespace at each scrape.
//
//	c, err := collector.New(nil) // this namespace; Config names another
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// It reads the kernel's MPTcpExt counters (package counters), lists the
// namespace's MPTCP connections (package diag), asks the path manager for
// its endpoints and limits (package pm) and reads sysctl
// net.mptcp.enabled. None of these needs a privilege in the caller's own
// namespace; reading another namespace needs CAP_SYS_ADMIN to enter it,
// which New checks. A namespace named by its path (Config.NetNS) is
// opened anew at each scrape: once it is deleted, every part fails.
//
// # Metrics
//
// Every name starts with mptcp_. There is never a series per connection:
// the connections are summed up, so that the number of series does not
// grow with them.
//
//	mptcp_ext_NAME_total           counter    each MPTcpExt counter the running kernel has, known
//	                                          to package counters or not, its name in snake_case
//	                                          (see MetricName): nstat's MPTcpExtMPCapableSYNTX is
//	                                          mptcp_ext_mp_capable_syntx_total, and the HELP text
//	                                          starts with the kernel's name; names with characters
//	                                          a metric name cannot hold are left out
//	mptcp_ext_mp_curr_estab        gauge      the MPTcpExt gauge MPCurrEstab: MPTCP connections
//	                                          established now
//	mptcp_connections{state}       gauge      MPTCP-level sockets by TCP state: established,
//	                                          syn_sent, syn_recv, fin_wait1, fin_wait2,
//	                                          time_wait, close, close_wait, last_ack, listen,
//	                                          closing, new_syn_recv (always sent, 0 included),
//	                                          bound_inactive and unknown (sent when not 0)
//	mptcp_connections_fallback     gauge      connections (not listeners) that fell back to TCP
//	mptcp_connection_subflows      histogram  subflows, the first included, of each established
//	                                          connection that did not fall back; buckets 1 to 8
//	mptcp_open_connections_        gauge      sums of mptcp_info's bytes_sent, bytes_received
//	 sent_bytes, _received_bytes,             and bytes_retrans over the connections open at
//	 _retransmitted_bytes                     the scrape (Linux 6.5+); they fall when
//	                                          connections close: not for rate()
//	mptcp_endpoints                gauge      endpoints of the in-kernel path manager
//	mptcp_endpoints_flag{flag}     gauge      endpoints with the flag: signal, subflow, backup,
//	                                          fullmesh, implicit, laminar
//	mptcp_limit_subflows           gauge      the path manager's limit of additional subflows
//	mptcp_limit_add_addr_accepted  gauge      its limit of accepted peer addresses
//	mptcp_enabled                  gauge      sysctl net.mptcp.enabled: 1 or 0
//	mptcp_scrape_collector_success{collector}           gauge  1 if the part succeeded, else 0
//	mptcp_scrape_collector_duration_seconds{collector}  gauge  how long the part took
//
// The label collector names the part of a scrape: counters (the
// mptcp_ext_ metrics), connections (mptcp_connections and the other
// metrics of the listing), pm (mptcp_endpoints and mptcp_limit_) and
// sysctl (mptcp_enabled). A part that fails sends none of its metrics and
// reports 0, and the others are sent as usual: a scrape does not fail
// because, say, the path manager cannot be reached. Off Linux every part
// reports 0.
//
// The byte sums are gauges, not counters, and their names say whose
// bytes they sum: the connections open at the scrape. A connection that
// closes takes its bytes out of the sum, which then falls; rate() or
// increase() of them would read each fall as a counter reset and count
// the remaining bytes again. They tell how much the connections open now
// have carried; the rate of traffic is better taken from the interfaces
// (node_exporter's node_network_transmit_bytes_total). They are sent once
// a connection of the running kernel has reported them (from Linux 6.5
// on; from the first scrape with an MPTCP socket in the namespace), and
// then at every scrape.
//
// The kernel's counter names become snake_case because Prometheus's
// naming rules, which "promtool check metrics" enforces, want it; the
// collector's output passes that check without a warning. Two kernel
// names that differ only in case and underscores would give one metric
// name: no kernel known has such a pair, and should one come, the first
// counter of the pair is sent.
//
// mptcp_enabled is 0, and its part succeeds, where the kernel has no
// net.mptcp.enabled: a kernel without MPTCP, where no socket can use it.
// It says whether new sockets may use MPTCP: listeners made before it
// was turned off still negotiate it.
//
// # What the kernel shows
//
// The listing is package diag's, and shows what it shows: a client that
// fell back to TCP is an MPTCP socket, listed with the fallback flag and
// counted in mptcp_connections_fallback; a plain TCP client accepted by an
// MPTCP listener is a plain TCP socket and is not listed at all, nor
// counted by any MPTcpExt counter (mptcp_ext_mp_capable_fallback_ack_total
// counts only handshakes begun with MP_CAPABLE that lost it). Kernels
// before 5.19 list no listeners with the connections: the listeners are
// counted apart ([diag.Conn.Listeners]), and where the kernel does not
// let them be counted (before 5.19, without CAP_NET_ADMIN) the series
// mptcp_connections{state="listen"} is left out, not sent as 0, and the
// Logger is told why, once.
//
// The listing streams: each connection is decoded, added to the sums and
// forgotten, so a scrape's memory does not grow with the number of
// connections (BENCHMARKS.md, rows 10 and 11: 10,000 connections).
//
// # Several namespaces
//
// The Collector is unchecked (Describe sends nothing): its counter names
// come from the running kernel, known only by reading it. Two Collectors
// in one registry would send the same series: register each through
// prometheus.WrapRegistererWith with a label of its own, such as
// prometheus.Labels{"netns": name}.
//
// The package is the only one of this module that imports the
// Prometheus client library; packages mptcp, diag and counters do not.
package collector
