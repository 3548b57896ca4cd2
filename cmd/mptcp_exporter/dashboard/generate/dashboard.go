package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// uid is the dashboard's, stable so that an import replaces the last one.
const uid = "mptcp-exporter"

// sel selects the series of the instances the dashboard's variables
// chose. Every query has it, so the dashboard works beside other jobs.
const sel = `job=~"$job", instance=~"$instance"`

// datasource is every query's: the dashboard's datasource variable.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// counter is an MPTcpExt counter, by its metric name without the
// "mptcp_ext_" prefix and "_total" suffix, and by the kernel's name,
// which nstat and the kernel's documentation show.
type counter struct{ metric, kernel string }

// fallbackCounters explain fallbacks to TCP: each counts one cause, on
// one side (docs/metrics.md says which). The later ones come with newer
// kernels (6.12 and 6.17); an older kernel has no series for them.
var fallbackCounters = []counter{
	{"mp_capable_fallback_synack", "MPCapableFallbackSYNACK"},
	{"mp_capable_fallback_ack", "MPCapableFallbackACK"},
	{"mp_fallback_token_init", "MPFallbackTokenInit"},
	{"dss_corruption_fallback", "DSSCorruptionFallback"},
	{"infinite_map_tx", "InfiniteMapTx"},
	{"mp_capable_syntx_drop", "MPCapableSYNTXDrop"},
	{"mp_capable_syntx_disabled", "MPCapableSYNTXDisabled"},
	{"blackhole", "Blackhole"},
	{"mp_capable_data_fallback", "MPCapableDataFallback"},
	{"md5_sig_fallback", "MD5SigFallback"},
	{"dss_fallback", "DssFallback"},
	{"simult_connect_fallback", "SimultConnectFallback"},
	{"fallback_failed", "FallbackFailed"},
}

// joinFailureCounters are the terms of mptcp:join_failure_ratio:rate5m.
var joinFailureCounters = []counter{
	{"mp_join_syn_ack_hmac_failure", "MPJoinSynAckHMacFailure"},
	{"mp_join_ack_hmac_failure", "MPJoinAckHMacFailure"},
	{"mp_join_rejected", "MPJoinRejected"},
	{"mp_join_no_token_found", "MPJoinNoTokenFound"},
	{"mp_join_syn_tx_connect_err", "MPJoinSynTxConnectErr"},
	{"mp_join_syn_tx_bind_err", "MPJoinSynTxBindErr"},
	{"mp_join_syn_tx_creat_sk_err", "MPJoinSynTxCreatSkErr"},
}

// query is a Prometheus query of the dashboard's datasource.
func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(datasource).Expr(expr).LegendFormat(legend)
}

// rate is the per-second rate of the counter c, one series per instance.
func rate(c counter) *prometheus.DataqueryBuilder {
	return query(`rate(mptcp_ext_`+c.metric+`_total{`+sel+`}[$__rate_interval])`, "{{instance}} "+c.kernel)
}

// series is a time series panel of the queries, w columns of 24 wide.
func series(title, description, unit string, w uint32, queries ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).
		Unit(unit).Min(0).Span(w).Height(8)
	for _, q := range queries {
		p.WithTarget(q)
	}
	return p
}

// single is a stat panel of one query's last value.
func single(title, description, unit string, q *prometheus.DataqueryBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).
		Unit(unit).Span(6).Height(4).GraphMode(common.BigValueGraphModeNone).WithTarget(q)
}

// build returns the dashboard, in the classic JSON model (schema v1)
// that every Grafana release imports. The SDK prefers its v2 model, which
// Grafana releases before 12 do not import at all.
//
//lint:ignore SA1019 the v1 model is the one operators' Grafana imports
func build() (dashboard.Dashboard, error) {
	//lint:ignore SA1019 as above
	b := dashboard.NewDashboardBuilder("MPTCP").
		Uid(uid).
		Description("Multipath TCP of the hosts mptcp_exporter exports (github.com/multipath-go/mptcp): "+
			"fallbacks to TCP and their causes, connections and their subflows, joins. "+
			"The ratios are recording rules of cmd/mptcp_exporter/rules/mptcp.rules.yml, which Prometheus must load.").
		Tags([]string{"mptcp", "mptcp_exporter"}).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("job").Label("Job").Datasource(datasource).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(mptcp_scrape_collector_success, job)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithVariable(dashboard.NewQueryVariableBuilder("instance").Label("Instance").Datasource(datasource).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(mptcp_scrape_collector_success{job=~"$job"}, instance)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).AllValue(".*"))

	b.WithRow(dashboard.NewRowBuilder("Overview")).
		WithPanel(single("MPTCP enabled", "net.mptcp.enabled of each exported namespace: 0 turns MPTCP off for new sockets.", "none",
			query(`min(mptcp_enabled{`+sel+`})`, "enabled"))).
		WithPanel(single("Established MPTCP connections", "The kernel's gauge MPCurrEstab, summed over the instances.", "none",
			query(`sum(mptcp_ext_mp_curr_estab{`+sel+`})`, "established"))).
		WithPanel(single("Firing MPTCP alerts", "Alerts of the shipped rules that fire now.", "none",
			query(`count(ALERTS{alertname=~"MPTCP.+", alertstate="firing", `+sel+`}) or vector(0)`, "alerts"))).
		WithPanel(single("Collector parts failing", "Parts of the exporter's scrape that failed (mptcp_scrape_collector_success 0): their metrics are missing.", "none",
			query(`sum(1 - mptcp_scrape_collector_success{`+sel+`})`, "failing")))

	fallbacks := make([]*prometheus.DataqueryBuilder, 0, len(fallbackCounters))
	for _, c := range fallbackCounters {
		fallbacks = append(fallbacks, rate(c))
	}
	b.WithRow(dashboard.NewRowBuilder("Fallbacks to TCP")).
		WithPanel(series("Fallback ratio",
			"Handshakes that fell back to TCP per MP_CAPABLE handshake begun: both sides, and this host's outgoing connections alone "+
				"(what the alert MPTCPFallbackRatioHigh judges).", "percentunit", 12,
			query(`mptcp:fallback_ratio:rate5m{`+sel+`}`, "{{instance}} both sides"),
			query(`mptcp:client_fallback_ratio:rate5m{`+sel+`}`, "{{instance}} outgoing"))).
		WithPanel(series("Fallbacks by cause",
			"The counters that explain fallbacks, per second, by the kernel's name; docs/metrics.md says what each counts and on which side. "+
				"MPCapableSYNTXDrop, MPCapableSYNTXDisabled and Blackhole are the blackhole detection (6.12+).", "ops", 12,
			fallbacks...))

	b.WithRow(dashboard.NewRowBuilder("Connections")).
		WithPanel(series("Connections by state", "MPTCP-level sockets, listeners included, by TCP state.", "none", 8,
			query(`sum by (instance, state) (mptcp_connections{`+sel+`}) > 0`, "{{instance}} {{state}}"),
			query(`mptcp_connections_fallback{`+sel+`}`, "{{instance}} fell back"))).
		WithPanel(bargauge.NewPanelBuilder().Title("Subflows per connection").
			Description("Established connections that did not fall back, by their number of subflows (the first included).").
			Datasource(datasource).Span(8).Height(8).Unit("none").Min(0).
			Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeBasic).
			WithTarget(query(`sum by (le) (mptcp_connection_subflows_bucket{`+sel+`})`, "{{le}}").
				Format(prometheus.PromQueryFormatHeatmap).Instant())).
		WithPanel(series("Connections at one subflow",
			"Share of the established connections left at their first subflow where endpoints or limits allow more "+
				"(what the alert MPTCPConnectionsStuckAtOneSubflow judges), and the average number of subflows.", "none", 8,
			query(`mptcp:connections_one_subflow:ratio{`+sel+`}`, "{{instance}} share at one subflow"),
			query(`mptcp_connection_subflows_sum{`+sel+`} / (mptcp_connection_subflows_count{`+sel+`} > 0)`, "{{instance}} average subflows")))

	joinFailures := make([]*prometheus.DataqueryBuilder, 0, len(joinFailureCounters))
	for _, c := range joinFailureCounters {
		joinFailures = append(joinFailures, rate(c))
	}
	b.WithRow(dashboard.NewRowBuilder("Joins")).
		WithPanel(series("MP_JOIN attempts", "SYNs with MP_JOIN sent and received per second.", "ops", 8,
			rate(counter{"mp_join_syn_tx", "MPJoinSynTx"}),
			rate(counter{"mp_join_syn_rx", "MPJoinSynRx"}))).
		WithPanel(series("Join failure ratio", "Failed MP_JOINs per attempt (what the alert MPTCPJoinFailures judges).", "percentunit", 8,
			query(`mptcp:join_failure_ratio:rate5m{`+sel+`}`, "{{instance}}"))).
		WithPanel(series("Join failures by cause", "The counters of failed MP_JOINs, per second, by the kernel's name.", "ops", 8,
			joinFailures...))

	b.WithRow(dashboard.NewRowBuilder("Path manager, bytes and the exporter")).
		WithPanel(series("Endpoints and limits", "The in-kernel path manager's endpoints (ip mptcp endpoint) and limits (ip mptcp limits).", "none", 8,
			query(`mptcp_endpoints{`+sel+`}`, "{{instance}} endpoints"),
			query(`mptcp_limit_subflows{`+sel+`}`, "{{instance}} subflows limit"),
			query(`mptcp_limit_add_addr_accepted{`+sel+`}`, "{{instance}} add_addr_accepted limit"))).
		WithPanel(series("Bytes of the open connections",
			"What the connections open at each scrape have carried (Linux 6.5+). Gauges, not counters: they fall when connections close, "+
				"so no rate() is taken; traffic rates are the interfaces'.", "bytes", 8,
			query(`mptcp_open_connections_sent_bytes{`+sel+`}`, "{{instance}} sent"),
			query(`mptcp_open_connections_received_bytes{`+sel+`}`, "{{instance}} received"),
			query(`mptcp_open_connections_retransmitted_bytes{`+sel+`}`, "{{instance}} retransmitted"))).
		WithPanel(series("Scrape duration by part", "How long each part of the exporter's scrape took.", "s", 8,
			query(`mptcp_scrape_collector_duration_seconds{`+sel+`}`, "{{instance}} {{collector}}")))

	d, err := b.Build()
	if err != nil {
		return d, err
	}
	// Ids in the order of the panels, rows included: Grafana wants them
	// unique, and links to a panel (viewPanel=ID) need them stable.
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return d, nil
}
