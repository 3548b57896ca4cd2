// Command mptcp_exporter exports the Multipath TCP state of a Linux
// network namespace to Prometheus, through package collector: the
// kernel's MPTcpExt counters (handshakes, joins, fallbacks to TCP), the
// MPTCP connections by state with their subflows and bytes, and the path
// manager's endpoints and limits.
//
// Usage:
//
//	mptcp_exporter [flags]
//
// Flags:
//
//	--web.listen-address=:9867  address to listen on; repeatable
//	--web.config.file=FILE      exporter-toolkit web configuration: TLS and basic auth;
//	                            read, with its certificates, before serving (a file
//	                            that cannot be used is a usage error, exit status 2)
//	                            (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md)
//	--web.systemd-socket        use the listeners systemd passes (socket activation; Linux only)
//	--web.telemetry-path=/metrics
//	                            path of the metrics
//	--netns=PATH                the network namespace to export: a file such as /proc/PID/ns/net
//	                            (a container's) or /run/netns/NAME, or a NAME made by ip netns add;
//	                            default the exporter's own. It is checked before serving: a path
//	                            that is not a network namespace, or one the exporter may not enter
//	                            (that needs CAP_SYS_ADMIN, and opening /proc/PID/ns/net of another
//	                            user's process CAP_SYS_PTRACE), is a usage error (exit status 2).
//	                            Each scrape opens the path anew: once the namespace is deleted every
//	                            part fails (mptcp_scrape_collector_success 0, no other mptcp_*
//	                            series), and a namespace made again under the name is the one read.
//	--log.level=info            debug, info, warn or error
//	--log.format=logfmt         logfmt or json
//	--version                   print the version and exit
//	-h, --help                  print the flags and exit
//
// Port 9867 is not registered in Prometheus's list of default exporter
// ports; set --web.listen-address to move it.
//
// The metrics page holds, beside the mptcp_* metrics, the exporter's own
// process_* and go_* metrics and mptcp_exporter_build_info. A part of the
// MPTCP state that cannot be read (no MPTCP in the kernel, no permission,
// another operating system) does not fail the scrape:
// mptcp_scrape_collector_success{collector="..."} is 0 for it, and the
// rest is served. On systems other than Linux the exporter runs and
// reports every collector as failing.
//
// At most 10 scrapes run at once: more get 503 Service Unavailable at
// once, and so does a scrape that takes over 30 s.
//
// Alerting and recording rules to go with it are in rules/mptcp.rules.yml
// beside this file; load them with Prometheus's rule_files. A systemd
// unit, which runs it with no capability, and a drop-in for --netns,
// which adds CAP_SYS_ADMIN, are in systemd/; a Grafana dashboard is
// dashboard/mptcp.json.
//
// Exit status: 0 after SIGINT or SIGTERM, 1 when it cannot serve, 2 for a
// usage error.
package main
