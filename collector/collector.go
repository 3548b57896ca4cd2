package collector

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/counters"
	"github.com/multipath-go/mptcp/diag"
	"github.com/multipath-go/mptcp/internal/errs"
	"github.com/multipath-go/mptcp/pm"
)

// Config selects the network namespace a Collector reads, by the two
// fields of [netns.Config], under that package's rules, and where its
// failures are logged. A nil *Config is the zero Config.
type Config struct {
	// NetNS is the path of a network namespace file, such as
	// /run/netns/NAME (made by "ip netns add NAME") or /proc/PID/ns/net.
	// New opens it and checks that it is a network namespace this
	// process may enter (entering one needs CAP_SYS_ADMIN); then each
	// scrape opens it again and reads the namespace the path names at
	// that moment. A name removed ("ip netns del", a container that
	// ended) makes every part of the scrape fail, rather than report the
	// last values of a namespace that nobody sees any more; a name made
	// again reports the new namespace. To read one namespace for the
	// Collector's whole life, whatever becomes of its name, pass a
	// descriptor in NetNSFD instead.
	//
	// When NetNS is empty and NetNSFD is 0, each scrape reads the
	// namespace of the OS thread that runs Collect. A prometheus.Registry
	// runs Collect on goroutines of its own, which run on the threads of
	// the Go scheduler: in practice the namespace the process started in,
	// unless the program left threads in another one (a thread locked and
	// moved with setns that returns to the scheduler's pool).
	NetNS string

	// NetNSFD is an open file descriptor of a network namespace, used
	// when NetNS is empty; 0 means none. The caller keeps it: New
	// duplicates it, so the caller may close its own once New returns;
	// the copy is closed by Close. The copy keeps that namespace alive,
	// and every scrape reads it, until Close. New checks it as it checks
	// NetNS.
	NetNSFD int

	// Logger, when not nil, receives the error of each part of a scrape
	// that fails (at level Warn), with the attribute "collector" naming
	// the part, as in mptcp_scrape_collector_success. A nil Logger logs
	// nothing: the failure shows only as that metric's 0.
	Logger *slog.Logger
}

// Collector is a prometheus.Collector of the MPTCP state of one network
// namespace, read at each scrape. Its methods are safe for concurrent
// use: two scrapes at once each read the namespace on their own.
//
// It is an unchecked collector: Describe sends nothing. The kernel
// counters it exports are the ones the running kernel has, known to
// this package or not, and are only known by reading them: a checked
// collector would have to describe, before any scrape, every metric it
// may ever send. The registry then checks each scrape's metrics for
// consistency instead. The names do not carry the namespace: to export
// several namespaces from one registry, register each Collector through
// prometheus.WrapRegistererWith with a label of its own, or it would
// send the same series twice.
type Collector struct {
	// mu guards ns and closed: Collect holds it for reading while it uses
	// the namespace's descriptor, so that Close cannot close it under a
	// scrape.
	mu     sync.RWMutex
	path   string   // Config.NetNS, opened at each scrape; "" for none
	ns     *os.File // Config.NetNSFD's copy; nil for none
	closed bool
	logger *slog.Logger

	// lastID identifies the namespace path named at the last scrape
	// that opened it, so that a change is logged once.
	lastID atomic.Pointer[nsID]

	// hasBytes records that a connection of this kernel reported the
	// 6.5 byte counters: they are then exported, as sums, even while no
	// connection is open (the kernel does not change under a running
	// process).
	hasBytes atomic.Bool

	// hiddenLogged records that the log was told why the listeners'
	// series is missing: once, as the kernel does not change.
	hiddenLogged atomic.Bool

	// descs caches how each kernel counter is sent, by kernel name:
	// the names come from the running kernel, known only at scrape time.
	descs sync.Map // string -> *counterMetric
}

// New returns a Collector of the namespace cfg names, or of the thread
// that runs Collect when cfg is nil or names none (see Config.NetNS).
// It opens (or duplicates) the namespace and checks that it is a
// network namespace that this process may enter: a path that does not
// exist gives an error matching os.ErrNotExist, a negative NetNSFD or a
// file that is no network namespace one matching os.ErrInvalid, a
// process without the privilege to enter it (CAP_SYS_ADMIN) one
// matching os.ErrPermission. Off Linux, where there are no namespaces,
// naming one is an error matching errors.ErrUnsupported.
func New(cfg *Config) (*Collector, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c := &Collector{logger: cfg.Logger}
	switch {
	case cfg.NetNS != "":
		f, err := openNS(cfg.NetNS)
		if err == nil {
			err = checkEnter(f)
			if id, ok := idOf(f); ok {
				c.lastID.Store(&id)
			}
			f.Close()
		}
		if err != nil {
			return nil, opError("new", fmt.Errorf("namespace %s: %w", cfg.NetNS, err))
		}
		c.path = cfg.NetNS
	case cfg.NetNSFD < 0:
		return nil, opError("new", fmt.Errorf("negative namespace descriptor %d: %w", cfg.NetNSFD, os.ErrInvalid))
	case cfg.NetNSFD > 0:
		f, err := dupNS(cfg.NetNSFD)
		if err == nil {
			if err = checkEnter(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			return nil, opError("new", fmt.Errorf("namespace descriptor %d: %w", cfg.NetNSFD, err))
		}
		c.ns = f
	}
	return c, nil
}

// Close closes the Collector's copy of the namespace. Later scrapes
// report every part failed (mptcp_scrape_collector_success 0). Closing
// twice, or a nil Collector, gives an error matching net.ErrClosed.
func (c *Collector) Close() error {
	if c == nil {
		return opError("close", net.ErrClosed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return opError("close", net.ErrClosed)
	}
	c.closed = true
	if c.ns != nil {
		return opError("close", c.ns.Close())
	}
	return nil
}

// opError is the error of the Collector's own calls: a *net.OpError
// whose Op is "new", "close" or "scrape" and whose Net is "netns", the
// namespace they are about. The parts of a scrape fail with the errors of
// packages counters, diag and pm, which are *net.OpError values too.
func opError(op string, err error) error { return errs.Op(op, "netns", err) }

// Describe sends nothing, which makes the Collector an unchecked one:
// see Collector for why.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {}

// The parts of a scrape, as the label "collector" names them.
const (
	partCounters    = "counters"
	partConnections = "connections"
	partPM          = "pm"
	partSysctl      = "sysctl"
)

var parts = [...]string{partCounters, partConnections, partPM, partSysctl}

// Collect reads the namespace and sends its metrics. A part that fails
// sends none of its own metrics and reports 0 in
// mptcp_scrape_collector_success; the other parts are unaffected. A nil
// or closed Collector, or one whose Config.NetNS no longer names a
// network namespace, reports every part failed.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c == nil {
		c.failParts(ch, opError("scrape", net.ErrClosed))
		return
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	ns, err := c.scrapeNS()
	if ns != nil && ns != c.ns {
		defer ns.Close()
	}
	if err == nil && ns == nil {
		c.collectParts(ch)
		return
	}
	if err == nil {
		// One entry into the namespace for the whole scrape: each part
		// then works in the thread's own namespace, where it makes its
		// sockets and opens its files.
		err = enter(ns, func() error { c.collectParts(ch); return nil })
	}
	if err != nil {
		c.failParts(ch, opError("scrape", err))
	}
}

// collectParts sends every part's metrics, in the calling thread's
// namespace.
func (c *Collector) collectParts(ch chan<- prometheus.Metric) {
	for _, p := range parts {
		start := time.Now()
		var err error
		switch p {
		case partCounters:
			err = c.collectCounters(ch)
		case partConnections:
			err = c.collectConnections(ch)
		case partPM:
			err = c.collectPM(ch)
		case partSysctl:
			err = c.collectSysctl(ch)
		}
		c.sendScrape(ch, p, time.Since(start), err)
	}
}

// failParts reports every part failed with err: the namespace could not
// be read at all.
func (c *Collector) failParts(ch chan<- prometheus.Metric, err error) {
	for _, p := range parts {
		c.sendScrape(ch, p, 0, err)
	}
}

// scrapeNS returns the namespace a scrape reads: Config.NetNS opened
// anew, NetNSFD's copy, or nil for the thread's own. Opening the path at
// each scrape is what makes a removed or remade name show: a descriptor
// held from New would keep the old namespace alive and go on reading it.
func (c *Collector) scrapeNS() (*os.File, error) {
	switch {
	case c.closed:
		return nil, net.ErrClosed
	case c.path == "":
		return c.ns, nil
	}
	f, err := openNS(c.path)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", c.path, err)
	}
	if id, ok := idOf(f); ok {
		if last := c.lastID.Swap(&id); last != nil && *last != id && c.logger != nil {
			c.logger.Info("mptcp collector: the namespace path names another namespace now", "netns", c.path)
		}
	}
	return f, nil
}

// sendScrape sends a part's success and duration, and logs its error.
func (c *Collector) sendScrape(ch chan<- prometheus.Metric, part string, d time.Duration, err error) {
	ok := 1.0
	if err != nil {
		ok = 0
		if c != nil && c.logger != nil {
			c.logger.Warn("mptcp collector: scrape failed", "collector", part, "err", err)
		}
	}
	ch <- prometheus.MustNewConstMetric(descScrapeSuccess, prometheus.GaugeValue, ok, part)
	ch <- prometheus.MustNewConstMetric(descScrapeDuration, prometheus.GaugeValue, d.Seconds(), part)
}

// The descriptors of every metric but the kernel counters.
var (
	descScrapeSuccess = prometheus.NewDesc("mptcp_scrape_collector_success",
		"Whether a part of the MPTCP collector succeeded in the last scrape (1) or failed (0).", []string{"collector"}, nil)
	descScrapeDuration = prometheus.NewDesc("mptcp_scrape_collector_duration_seconds",
		"How long a part of the MPTCP collector took in the last scrape.", []string{"collector"}, nil)
	descConnections = prometheus.NewDesc("mptcp_connections",
		"MPTCP connections (MPTCP-level sockets, listeners included) in the namespace, by TCP state.", []string{"state"}, nil)
	descFallback = prometheus.NewDesc("mptcp_connections_fallback",
		"MPTCP connections (not listeners) in the namespace that fell back to plain TCP.", nil, nil)
	descSubflows = prometheus.NewDesc("mptcp_connection_subflows",
		"Subflows, the first included, of each established MPTCP connection that did not fall back to TCP.", nil, nil)
	// The byte sums are named for the connections open now and their
	// help says they fall, so that nobody takes rate() of them: rate()
	// reads each fall as a counter reset and adds the whole sum again.
	descSent = prometheus.NewDesc("mptcp_open_connections_sent_bytes",
		"Bytes sent at the MPTCP level, on all subflows and retransmissions included, summed over the connections open at the scrape (Linux 6.5+). "+
			"A gauge that falls when a connection closes: not for rate() or increase().", nil, nil)
	descReceived = prometheus.NewDesc("mptcp_open_connections_received_bytes",
		"Bytes received in order at the MPTCP level, summed over the connections open at the scrape (Linux 6.5+). "+
			"A gauge that falls when a connection closes: not for rate() or increase().", nil, nil)
	descRetrans = prometheus.NewDesc("mptcp_open_connections_retransmitted_bytes",
		"Bytes retransmitted at the MPTCP level, summed over the connections open at the scrape (Linux 6.5+). "+
			"A gauge that falls when a connection closes: not for rate() or increase().", nil, nil)
	descEndpoints = prometheus.NewDesc("mptcp_endpoints",
		"Endpoints of the in-kernel path manager (ip mptcp endpoint).", nil, nil)
	descEndpointsFlag = prometheus.NewDesc("mptcp_endpoints_flag",
		"Endpoints of the in-kernel path manager that have the flag.", []string{"flag"}, nil)
	descLimitSubflows = prometheus.NewDesc("mptcp_limit_subflows",
		"The path manager's limit of additional subflows per connection (ip mptcp limits).", nil, nil)
	descLimitAddAddr = prometheus.NewDesc("mptcp_limit_add_addr_accepted",
		"The path manager's limit of addresses announced by a peer that a connection accepts (ip mptcp limits).", nil, nil)
	descEnabled = prometheus.NewDesc("mptcp_enabled",
		"Whether new sockets of the namespace may use MPTCP (sysctl net.mptcp.enabled): 1 or 0; 0 on a kernel without MPTCP.", nil, nil)
)

// counterMetric is how a kernel counter is sent.
type counterMetric struct {
	desc  *prometheus.Desc
	name  string // the metric's, from MetricName
	gauge bool
}

// counterMetric returns how the kernel counter name is sent, or nil for
// a name that cannot be part of a metric name.
func (c *Collector) counterMetric(name string) *counterMetric {
	if m, ok := c.descs.Load(name); ok {
		return m.(*counterMetric)
	}
	metric, ok := MetricName(name)
	if !ok {
		return nil
	}
	// The kernel's name, as nstat prints it, leads the help: the metric's
	// name is the kernel's in snake_case, which the kernel's documentation
	// and nstat do not show.
	help := "MPTcpExt" + name + ": a kernel counter not documented by this collector."
	d, known := counters.Describe(name)
	if known {
		help = "MPTcpExt" + name + ": " + d.Help
	}
	m, _ := c.descs.LoadOrStore(name, &counterMetric{
		desc:  prometheus.NewDesc(metric, help, nil, nil),
		name:  metric,
		gauge: d.Kind == counters.KindGauge,
	})
	return m.(*counterMetric)
}

func (c *Collector) collectCounters(ch chan<- prometheus.Metric) error {
	cs, err := counters.Read(nil)
	if err != nil {
		return err
	}
	sendCounters(ch, cs, c.counterMetric)
	return nil
}

// sendCounters sends the counters cs as metric gives them, leaving out
// those it gives none. Two counters whose metrics would have the same
// name are never both sent: the registry would refuse the whole scrape.
// The kernel names each counter once, and no two names of the kernels
// known collide in snake_case (TestMetricNamesUnique), but a kernel to
// come might: the first, in the kernel's order, is sent.
func sendCounters(ch chan<- prometheus.Metric, cs counters.Counters, metric func(name string) *counterMetric) {
	seen := make(map[string]bool, len(cs))
	for _, k := range cs {
		m := metric(k.Name)
		if m == nil || seen[m.name] {
			continue
		}
		seen[m.name] = true
		t := prometheus.CounterValue
		if m.gauge {
			t = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(m.desc, t, float64(k.Value))
	}
}

// stateNames are the label values of mptcp_connections, by the kernel's
// state number: the kernel's names, in lower case.
var stateNames = [...]string{
	1: "established", 2: "syn_sent", 3: "syn_recv", 4: "fin_wait1", 5: "fin_wait2",
	6: "time_wait", 7: "close", 8: "close_wait", 9: "last_ack", 10: "listen", 11: "closing",
	12: "new_syn_recv", 13: "bound_inactive",
}

// alwaysStates are the states exported even when no connection is in
// them, so that rules can rely on their series.
const alwaysStates = 12

// maxBucket is the highest finite bucket of mptcp_connection_subflows:
// the kernel allows at most 8 additional subflows, 9 in all, which falls
// in +Inf.
const maxBucket = 8

func (c *Collector) collectConnections(ch chan<- prometheus.Metric) error {
	dc, err := diag.Dial(nil)
	if err != nil {
		return err
	}
	defer dc.Close()
	var (
		byState                 [256]uint64
		fallback                uint64
		buckets                 [maxBucket + 1]uint64 // buckets[n]: connections with n subflows, n <= 8
		observed, subflowSum    uint64
		sent, received, retrans uint64
	)
	// A streaming loop, keeping nothing of a connection but these sums:
	// a scrape's memory does not grow with the number of connections.
	for conn, err := range dc.Connections(nil) {
		if err != nil {
			return err
		}
		byState[conn.State]++
		fell := conn.FellBack()
		if fell && conn.State != mptcp.StateListen {
			fallback++
		}
		if conn.State == mptcp.StateEstablished && !fell {
			n := conn.Info.TotalSubflows()
			observed++
			subflowSum += uint64(n)
			if n <= maxBucket {
				buckets[n]++
			}
		}
		if conn.Info.Has(mptcp.InfoCounters) {
			if !c.hasBytes.Load() {
				c.hasBytes.Store(true)
			}
			sent += conn.Info.BytesSent
			received += conn.Info.BytesReceived
			retrans += conn.Info.BytesRetrans
		}
	}
	// The listeners are counted apart: kernels before 5.19 list none
	// with the connections. Where the kernel does not let them be
	// counted, their series is left out rather than sent as 0, which
	// would say there are none.
	listeners, err := dc.Listeners()
	switch {
	case errors.Is(err, os.ErrPermission):
		c.listenersHidden(err)
	case err != nil:
		return err
	}
	byState[mptcp.StateListen] = uint64(listeners)
	for s := 1; s < len(stateNames); s++ {
		if s == int(mptcp.StateListen) && err != nil {
			continue
		}
		if n := byState[s]; n > 0 || s <= alwaysStates {
			ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(n), stateNames[s])
		}
	}
	// States this package does not name (a newer kernel's) add up under
	// one label value, so that the series stay few whatever comes.
	unknown := byState[0]
	for _, n := range byState[len(stateNames):] {
		unknown += n
	}
	if unknown > 0 {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(unknown), "unknown")
	}
	ch <- prometheus.MustNewConstMetric(descFallback, prometheus.GaugeValue, float64(fallback))
	// Cumulative counts, as the exposition wants them. A connection
	// reporting no subflow at all (0) lies below every bucket.
	cum := make(map[float64]uint64, maxBucket)
	total := buckets[0]
	for n := 1; n <= maxBucket; n++ {
		total += buckets[n]
		cum[float64(n)] = total
	}
	ch <- prometheus.MustNewConstHistogram(descSubflows, observed, float64(subflowSum), cum)
	if c.hasBytes.Load() {
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.GaugeValue, float64(sent))
		ch <- prometheus.MustNewConstMetric(descReceived, prometheus.GaugeValue, float64(received))
		ch <- prometheus.MustNewConstMetric(descRetrans, prometheus.GaugeValue, float64(retrans))
	}
	return nil
}

// listenersHidden logs, once, why mptcp_connections{state="listen"} is
// not sent.
func (c *Collector) listenersHidden(err error) {
	if c.logger != nil && !c.hiddenLogged.Swap(true) {
		c.logger.Info("mptcp collector: MPTCP listeners are not counted", "err", err)
	}
}

// endpointFlags are the flags of mptcp_endpoints_flag: every flag
// package pm knows, by its word in "ip mptcp endpoint".
var endpointFlags = []struct {
	name string
	flag pm.Flags
}{
	{"signal", pm.FlagSignal},
	{"subflow", pm.FlagSubflow},
	{"backup", pm.FlagBackup},
	{"fullmesh", pm.FlagFullmesh},
	{"implicit", pm.FlagImplicit},
	{"laminar", pm.FlagLaminar},
}

func (c *Collector) collectPM(ch chan<- prometheus.Metric) error {
	pc, err := pm.Dial(nil)
	if err != nil {
		return err
	}
	defer pc.Close()
	eps, err := pc.Endpoints()
	if err != nil {
		return err
	}
	lim, err := pc.Limits()
	if err != nil {
		return err
	}
	ch <- prometheus.MustNewConstMetric(descEndpoints, prometheus.GaugeValue, float64(len(eps)))
	for _, f := range endpointFlags {
		n := 0
		for _, e := range eps {
			if e.Flags&f.flag != 0 {
				n++
			}
		}
		ch <- prometheus.MustNewConstMetric(descEndpointsFlag, prometheus.GaugeValue, float64(n), f.name)
	}
	ch <- prometheus.MustNewConstMetric(descLimitSubflows, prometheus.GaugeValue, float64(lim.Subflows))
	ch <- prometheus.MustNewConstMetric(descLimitAddAddr, prometheus.GaugeValue, float64(lim.AddAddrAccepted))
	return nil
}

func (c *Collector) collectSysctl(ch chan<- prometheus.Metric) error {
	if err := c.sendEnabled(ch); err != nil {
		return errs.Op("read", "sysctl", err)
	}
	return nil
}

func (c *Collector) sendEnabled(ch chan<- prometheus.Metric) error {
	text, err := readEnabled()
	if errors.Is(err, os.ErrNotExist) {
		// No net.mptcp: a kernel without MPTCP, where no socket can use it.
		text, err = "0", nil
	}
	if err != nil {
		return err
	}
	v := 0.0
	switch strings.TrimSpace(text) {
	case "0":
	case "1":
		v = 1
	default:
		return fmt.Errorf("net.mptcp.enabled: unexpected value %q", text)
	}
	ch <- prometheus.MustNewConstMetric(descEnabled, prometheus.GaugeValue, v)
	return nil
}
