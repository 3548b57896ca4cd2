package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/multipath-go/mptcp/collector"
	"github.com/multipath-go/mptcp/netns"
)

// name is the program's name, in its usage, version and landing page.
const name = "mptcp_exporter"

// defaultAddress is the default of --web.listen-address. Port 9867 is not
// registered in Prometheus's list of default exporter ports
// (https://github.com/prometheus/prometheus/wiki/Default-port-allocations):
// it is one that list was not seen to use, and may have to move.
const defaultAddress = ":9867"

// maxInFlight is how many scrapes may run at once; more get 503 Service
// Unavailable at once. Each reads the kernel on its own: a bound keeps a
// flood of scrapes from holding as many sockets and threads.
const maxInFlight = 10

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the server could not start or failed
	exitUsage = 2 // bad flags, or a --netns that is not a network namespace or that needs a privilege the exporter lacks
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	web           *web.FlagConfig
	telemetryPath string
	netns         string
	log           promslog.Config
}

// newApp returns the command line parser, filling o as it parses.
func newApp(o *options, stdout, stderr io.Writer) *kingpin.Application {
	app := kingpin.New(name, "Exports the Multipath TCP state of a Linux network namespace to Prometheus: "+
		"the kernel's MPTcpExt counters, MPTCP connections and their subflows, the path manager's endpoints and limits.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	o.web = kingpinflag.AddFlags(app, defaultAddress)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").
		Default("/metrics").StringVar(&o.telemetryPath)
	app.Flag("netns", "Network namespace to export: a file such as /proc/PID/ns/net or /run/netns/NAME, "+
		"or a NAME made by ip netns add. Default: the exporter's own.").
		PlaceHolder("PATH").StringVar(&o.netns)
	promslogflag.AddFlags(app, &o.log)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	return app
}

// run is the whole command, with its arguments and output streams.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	setVersion()
	var o options
	app := newApp(&o, stdout, stderr)
	// kingpin prints --help and --version and exits 0 itself; a parse
	// error comes back here, for the usage status.
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v, try --help\n", name, err)
		return exitUsage
	}
	if !strings.HasPrefix(o.telemetryPath, "/") {
		fmt.Fprintf(stderr, "%s: error: --web.telemetry-path %q must start with /\n", name, o.telemetryPath)
		return exitUsage
	}
	// The web configuration (TLS, basic auth) is read and its certificates
	// loaded now: otherwise the exporter would announce "Listening on" and
	// then fail on the first connection or at once.
	if err := web.Validate(*o.web.WebConfigFile); err != nil {
		fmt.Fprintf(stderr, "%s: error: --web.config.file %s: %v\n", name, *o.web.WebConfigFile, err)
		return exitUsage
	}
	o.log.Writer = stderr
	logger := promslog.New(&o.log)

	// The collector opens and checks the namespace now, and enters it
	// once, so that a mistyped --netns, or one this process has not the
	// privilege to enter, stops the exporter before it serves instead of
	// failing every scrape. Later scrapes open the name anew: see
	// collector.Config.NetNS.
	mc, err := collector.New(&collector.Config{NetNS: netns.Path(o.netns), Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: --netns: %v\n", name, err)
		switch {
		case errors.Is(err, os.ErrPermission):
			// The capability setns asks for, whichever step failed: a
			// file the exporter may not open is also one it could not
			// enter without the capability.
			fmt.Fprintf(stderr, "%s: --netns needs CAP_SYS_ADMIN, and the right to open %s: run it as root, "+
				"or with that capability (systemd's AmbientCapabilities=CAP_SYS_ADMIN, or setcap cap_sys_admin+ep on the binary)\n",
				name, netns.Path(o.netns))
			return exitUsage
		case errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrInvalid) || errors.Is(err, errors.ErrUnsupported):
			return exitUsage
		}
		return exitFail
	}
	defer mc.Close()
	logger.Info("Starting "+name, "version", version.Info(), "netns", o.netns)
	logger.Info("Build context", "build_context", version.BuildContext())

	handler, err := newHandler(&o, mc, logger)
	if err != nil {
		logger.Error("Cannot create the web handler", "err", err)
		return exitFail
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, o.web, logger) }()
	select {
	case err := <-served:
		logger.Error("Cannot serve", "err", err)
		return exitFail
	case <-ctx.Done():
	}
	logger.Info("Shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Error("Shutdown", "err", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("Serve", "err", err)
		return exitFail
	}
	return exitOK
}

// newHandler returns the exporter's web handler: the landing page at /
// and the metrics of a registry of its own at o.telemetryPath. A registry
// of its own, not the default one, so that nothing a library registers
// behind the exporter's back shows up in its output.
func newHandler(o *options, mc prometheus.Collector, logger *slog.Logger) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := registerAll(reg,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		versioncollector.NewCollector(name),
		mc,
	); err != nil {
		return nil, err
	}
	metrics := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		// A collector that fails for one scrape should not take the
		// others' metrics with it: mptcp_scrape_collector_success
		// already says which part failed.
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg,
		MaxRequestsInFlight: maxInFlight,
		Timeout:             30 * time.Second,
	}))
	mux := http.NewServeMux()
	mux.Handle(o.telemetryPath, metrics)
	if o.telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "MPTCP Exporter",
			Description: "Prometheus exporter for Multipath TCP on Linux",
			Version:     version.Info(),
			Links: []web.LandingLinks{{
				Address: o.telemetryPath,
				Text:    "Metrics",
			}},
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// registerAll registers every collector in reg.
func registerAll(reg *prometheus.Registry, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// setVersion fills in what the build left empty of the version
// package's variables from Go's build information, so that a binary made
// by "go install ...@v1.2.3" or "go build" in a checkout says its version
// and revision, and prints "unknown" rather than nothing for the rest.
// The release build (internal/cmd/release) sets every one of them with
// -ldflags -X, and those values are kept.
func setVersion() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fillVersion(bi)
}

// fillVersion sets the empty variables of package version from bi (nil
// when the binary has none). Go records no branch, build user or build
// date: those become "unknown", as package version says of the tags.
func fillVersion(bi *debug.BuildInfo) {
	settings := map[string]string{}
	if bi != nil {
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	if version.Version == "" {
		version.Version = "unknown"
		if bi != nil && bi.Main.Version != "" {
			version.Version = bi.Main.Version
		}
	}
	if version.Revision == "" {
		version.Revision = "unknown"
		if rev := settings["vcs.revision"]; rev != "" {
			version.Revision = rev
			if settings["vcs.modified"] == "true" {
				version.Revision += "-modified"
			}
		}
	}
	for _, v := range []*string{&version.Branch, &version.BuildUser, &version.BuildDate} {
		if *v == "" {
			*v = "unknown"
		}
	}
}
