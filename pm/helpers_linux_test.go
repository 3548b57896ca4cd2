package pm_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
	"github.com/multipath-go/mptcp/pm"
)

// These tests run against the real kernel, inside the network namespaces
// of internal/testbed, and check every answer of package pm against
// iproute2 ("ip mptcp"), which reads the same kernel state by its own
// code.

// nsPath is where "ip netns" keeps a namespace.
func nsPath(ns *testbed.NS) string { return "/run/netns/" + ns.Name }

// dialPM opens a pm.Conn in ns, closed when the test ends.
func dialPM(t *testing.T, ns *testbed.NS) *pm.Conn {
	t.Helper()
	c, err := pm.Dial(&pm.Config{NetNS: nsPath(ns)})
	if err != nil {
		t.Fatalf("pm.Dial in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recorder reads a subscription and keeps every event it read.
type recorder struct {
	s    *pm.Subscription
	seen []pm.Event
}

// record subscribes to c's events, closed when the test ends. On a
// kernel without events it skips t, once Subscribe said so.
func record(t *testing.T, c *pm.Conn) *recorder {
	t.Helper()
	s, err := c.Subscribe()
	if noEventsGroup(t, err) {
		testenv.SkipKernelLacks(t, "the path manager's events (the mptcp_pm_events group)", "5.12")
	}
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &recorder{s: s}
}

// wait reads events for at most d until one that match accepts, and
// returns it.
func (r *recorder) wait(t *testing.T, d time.Duration, match func(pm.Event) bool) pm.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		e, err := r.s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v; events so far: %v", err, r.seen)
		}
		r.seen = append(r.seen, e)
		if match(e) {
			return e
		}
	}
}

// noEventsGroup reports whether err is Subscribe's error on a kernel
// without the events group (before 5.12), an *net.OpError for subscribe
// that matches errors.ErrUnsupported and says what is missing; it fails
// t for such an error from a kernel that should have the group, or one
// that does not say so.
func noEventsGroup(t *testing.T, err error) bool {
	t.Helper()
	if !errors.Is(err, errors.ErrUnsupported) {
		return false
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "subscribe" || oe.Net != "mptcp_pm" ||
		!strings.Contains(err.Error(), "has no events group (Linux 5.12 added it)") {
		t.Fatalf("Subscribe: %v, want a subscribe error that says the events group is missing", err)
	}
	if testenv.KernelAtLeast(5, 12) {
		t.Fatalf("Subscribe on kernel %s: %v", testenv.KernelRelease(), err)
	}
	return true
}

// of returns the events of token seen so far.
func (r *recorder) of(token uint32) []pm.Event {
	var out []pm.Event
	for _, e := range r.seen {
		if e.Token == token && e.Type != pm.EventListenerCreated && e.Type != pm.EventListenerClosed {
			out = append(out, e)
		}
	}
	return out
}

// is returns a matcher of events of type typ for token.
func is(typ pm.EventType, token uint32) func(pm.Event) bool {
	return func(e pm.Event) bool { return e.Type == typ && e.Token == token }
}

// ipEndpoint is one endpoint of "ip -j mptcp endpoint show".
type ipEndpoint struct {
	Address  string `json:"address"`
	Port     uint16 `json:"port"`
	ID       uint8  `json:"id"`
	Signal   bool   `json:"signal"`
	Subflow  bool   `json:"subflow"`
	Backup   bool   `json:"backup"`
	Fullmesh bool   `json:"fullmesh"`
	Implicit bool   `json:"implicit"`
	RawFlags string `json:"rawflags"` // flags iproute2 6.1 does not know, in hex
	Dev      string `json:"dev"`
}

// ipEndpoints returns the endpoints of ns as iproute2 sees them, in pm's
// terms.
func ipEndpoints(t *testing.T, ns *testbed.NS) []pm.Endpoint {
	t.Helper()
	out := ns.IP("-j", "mptcp", "endpoint", "show")
	var raw []ipEndpoint
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatalf("ip -j mptcp endpoint show: %v:\n%s", err, out)
		}
	}
	links := ifindexes(t, ns)
	var eps []pm.Endpoint
	for _, r := range raw {
		e := pm.Endpoint{Addr: netip.MustParseAddr(r.Address), Port: r.Port, ID: r.ID}
		for _, f := range []struct {
			set  bool
			flag pm.Flags
		}{{r.Signal, pm.FlagSignal}, {r.Subflow, pm.FlagSubflow}, {r.Backup, pm.FlagBackup}, {r.Fullmesh, pm.FlagFullmesh}, {r.Implicit, pm.FlagImplicit}} {
			if f.set {
				e.Flags |= f.flag
			}
		}
		if r.RawFlags != "" {
			v, err := strconv.ParseUint(r.RawFlags, 16, 32)
			if err != nil {
				t.Fatalf("ip rawflags %q: %v", r.RawFlags, err)
			}
			e.Flags |= pm.Flags(v)
		}
		if r.Dev != "" {
			idx, ok := links[r.Dev]
			if !ok {
				t.Fatalf("ip names device %q, unknown in %s", r.Dev, ns.Name)
			}
			e.Ifindex = idx
		}
		eps = append(eps, e)
	}
	return eps
}

// ifindexes maps the interface names of ns to their indexes, as "ip
// link" reports them.
func ifindexes(t *testing.T, ns *testbed.NS) map[string]int {
	t.Helper()
	var links []struct {
		Index int    `json:"ifindex"`
		Name  string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(ns.IP("-j", "link", "show")), &links); err != nil {
		t.Fatalf("ip -j link show: %v", err)
	}
	m := map[string]int{}
	for _, l := range links {
		m[l.Name] = l.Index
	}
	return m
}

// ipLimits parses "ip mptcp limits show": "add_addr_accepted 2 subflows 3".
func ipLimits(t *testing.T, ns *testbed.NS) pm.Limits {
	t.Helper()
	out := ns.IP("mptcp", "limits", "show")
	f := strings.Fields(out)
	var l pm.Limits
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseUint(f[i+1], 10, 32)
		if err != nil {
			t.Fatalf("ip mptcp limits show: %q", out)
		}
		switch f[i] {
		case "subflows":
			l.Subflows = uint32(v)
		case "add_addr_accepted":
			l.AddAddrAccepted = uint32(v)
		}
	}
	return l
}

// monitor is "ip mptcp monitor" running in a namespace: an independent
// reader of the same events group.
type monitor struct {
	mu    sync.Mutex
	ready int // lines before the monitor was known to listen
	lines []ipEvent
	cond  chan struct{} // closed and renewed on every new line
}

// ipEvent is one line of "ip mptcp monitor", as
// "[  SF_ESTABLISHED] token=0c6a3e2f remid=0 locid=2 saddr4=10.0.2.2 ...":
// the event name and its key=value fields.
type ipEvent struct {
	name   string
	fields map[string]string
}

// typ is the event's type, also for "[UNKNOWN 15]", as iproute2 6.1
// prints the events it does not know.
func (e ipEvent) typ() pm.EventType {
	if n, ok := strings.CutPrefix(e.name, "UNKNOWN "); ok {
		v, _ := strconv.ParseUint(n, 10, 8)
		return pm.EventType(v)
	}
	return ipNames[e.name]
}

func (e ipEvent) String() string { return fmt.Sprintf("[%s] %v", e.name, e.fields) }

// ipNames maps iproute2's event names to pm's types.
var ipNames = map[string]pm.EventType{
	"CREATED":          pm.EventCreated,
	"ESTABLISHED":      pm.EventEstablished,
	"CLOSED":           pm.EventClosed,
	"ANNOUNCED":        pm.EventAnnounced,
	"REMOVED":          pm.EventRemoved,
	"SF_ESTABLISHED":   pm.EventSubflowEstablished,
	"SF_CLOSED":        pm.EventSubflowClosed,
	"SF_PRIO":          pm.EventSubflowPriority,
	"LISTENER_CREATED": pm.EventListenerCreated,
	"LISTENER_CLOSED":  pm.EventListenerClosed,
}

// startMonitor runs "ip mptcp monitor" in ns for at most a minute, until
// the test ends, and waits until it receives events: it connects over
// loopback in ns, with MPTCP, until an event of such a connection shows
// up. (Listener events would be fewer, but kernels before 6.2 send none;
// every kernel with the events group, 5.12 and later, sends those of a
// connection.) On a kernel without events it skips t, once pm's
// Subscribe said so.
func startMonitor(t *testing.T, ns *testbed.NS) *monitor {
	t.Helper()
	if s, err := dialPM(t, ns).Subscribe(); noEventsGroup(t, err) {
		testenv.SkipKernelLacks(t, "the path manager's events (the mptcp_pm_events group)", "5.12")
	} else if err == nil {
		s.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, "ip", "-n", ns.Name, "mptcp", "monitor")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("ip mptcp monitor: %v", err)
	}
	m := &monitor{cond: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if e, ok := parseIPEvent(sc.Text()); ok {
				m.mu.Lock()
				m.lines = append(m.lines, e)
				close(m.cond)
				m.cond = make(chan struct{})
				m.mu.Unlock()
			}
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cmd.Wait()
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		port := strconv.Itoa(loopbackConn(t, ns))
		// iproute2 6.1 prints listener events as "[UNKNOWN 16]", without
		// their fields; in a new namespace, any shows that it listens.
		if _, ok := m.wait(200*time.Millisecond, func(e ipEvent) bool {
			return e.fields["sport"] == port || e.fields["dport"] == port || len(e.fields) == 0
		}); ok {
			m.mu.Lock()
			m.ready = len(m.lines)
			m.mu.Unlock()
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("ip mptcp monitor in %s saw no event of a loopback connection in 10s", ns.Name)
		}
	}
}

// loopbackConn opens an MPTCP connection over loopback in ns and closes
// it, and returns the listener's port.
func loopbackConn(t *testing.T, ns *testbed.NS) int {
	t.Helper()
	l := ns.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", "127.0.0.1:0") })
	defer l.Close()
	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = mptcp.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("dial over loopback in %s: %v", ns.Name, err)
	}
	defer c.Close()
	if s, err := l.Accept(); err == nil {
		s.Close()
	}
	return l.Addr().(*net.TCPAddr).Port
}

// parseIPEvent parses one line of ip mptcp monitor.
func parseIPEvent(line string) (ipEvent, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "[") {
		return ipEvent{}, false
	}
	end := strings.Index(line, "]")
	if end < 0 {
		return ipEvent{}, false
	}
	e := ipEvent{name: strings.TrimSpace(line[1:end]), fields: map[string]string{}}
	for _, kv := range strings.Fields(line[end+1:]) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.fields[k] = v
		}
	}
	return e, true
}

// wait waits up to d for a line seen since the monitor was ready that
// match accepts, and returns it. Lines from before, the listeners that
// startMonitor opened to see that ip listens, are not looked at: a port
// of theirs may come back as the port of a test's listener.
func (m *monitor) wait(d time.Duration, match func(ipEvent) bool) (ipEvent, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	m.mu.Lock()
	seen := m.ready
	m.mu.Unlock()
	for {
		m.mu.Lock()
		lines, cond := m.lines, m.cond
		m.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if match(lines[seen]) {
				return lines[seen], true
			}
		}
		select {
		case <-cond:
		case <-timer.C:
			return ipEvent{}, false
		}
	}
}

// all returns the lines seen since the monitor was ready that match
// accepts.
func (m *monitor) all(match func(ipEvent) bool) []ipEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ipEvent
	for _, e := range m.lines[m.ready:] {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// ipFields formats a pm.Event with iproute2's keys, for the keys an ip
// monitor line has, so that the two can be compared.
func ipFields(e pm.Event, keys map[string]string) map[string]string {
	out := map[string]string{}
	addr := func(four, six string, a netip.Addr) {
		if _, ok := keys[four]; ok {
			out[four] = a.String()
		}
		if v, ok := keys[six]; ok {
			// iproute2 prints an IPv4-mapped address as such; pm unmaps it.
			if p, err := netip.ParseAddr(v); err == nil && p.Unmap() == a {
				out[six] = v
			} else {
				out[six] = a.String()
			}
		}
	}
	addr("saddr4", "saddr6", e.Local.Addr())
	addr("daddr4", "daddr6", e.Remote.Addr())
	for k := range keys {
		switch k {
		case "token":
			out[k] = hex8(e.Token)
		case "remid":
			out[k] = strconv.Itoa(int(e.RemoteID))
		case "locid":
			out[k] = strconv.Itoa(int(e.LocalID))
		case "sport":
			out[k] = strconv.Itoa(int(e.Local.Port()))
		case "dport":
			out[k] = strconv.Itoa(int(e.Remote.Port()))
		case "backup":
			out[k] = "0"
			if e.Backup {
				out[k] = "1"
			}
		case "error":
			out[k] = strconv.Itoa(int(e.Error))
		case "flags":
			out[k] = strconv.FormatUint(uint64(e.Flags), 16)
		case "ifindex":
			out[k] = strconv.Itoa(e.Ifindex)
		case "reset_reason":
			out[k] = strconv.Itoa(int(e.ResetReason))
		case "reset_flags":
			out[k] = fmt.Sprintf("0x%x", uint32(e.ResetFlags))
		}
	}
	return out
}

// sameEvent reports how a pm event differs from an ip monitor line, or ""
// when they describe the same event.
func sameEvent(e pm.Event, l ipEvent) string {
	if l.typ() != e.Type {
		return fmt.Sprintf("pm has %v, ip has %s", e.Type, l.name)
	}
	got := ipFields(e, l.fields)
	var diffs []string
	for k, v := range l.fields {
		if got[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: pm %q, ip %q", k, got[k], v))
		}
	}
	return strings.Join(diffs, "; ")
}

// agree fails t unless pm's events and ip's lines are the same events,
// in the same order.
func agree(t *testing.T, name string, evs []pm.Event, lines []ipEvent) {
	t.Helper()
	if len(evs) != len(lines) {
		t.Fatalf("%s: pm saw %d events:\n%v\nip saw %d:\n%v", name, len(evs), evs, len(lines), lines)
	}
	for i := range evs {
		if d := sameEvent(evs[i], lines[i]); d != "" {
			t.Errorf("%s: event %d: %s\npm: %v\nip: %v", name, i, d, evs[i], lines[i])
		}
	}
}

// token returns c's local token.
func token(t *testing.T, name string, c *mptcp.MPTCPConn) uint32 {
	t.Helper()
	in, err := c.MPTCPInfo()
	if err != nil {
		t.Fatalf("%s: MPTCPInfo: %v", name, err)
	}
	return in.Token
}
