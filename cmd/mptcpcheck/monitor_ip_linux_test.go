package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multipath-go/mptcp"
	"github.com/multipath-go/mptcp/internal/mptcptest"
	"github.com/multipath-go/mptcp/internal/testbed"
	"github.com/multipath-go/mptcp/internal/testenv"
	"github.com/multipath-go/mptcp/pm"
)

// monitor -json prints every field "ip mptcp monitor" prints, with the
// same values, for the same events: those of a connection with two
// subflows, an address the server announces, a subflow turned backup
// (sub_priority on the server) and the close, seen on both ends.
func TestMonitorAgreesWithIPMonitor(t *testing.T) {
	requireTool(t, "ip")
	b := testbed.New(t, 2)
	b.Endpoint(b.Client, b.Links[1].Client, "subflow")
	b.Endpoint(b.Server, b.Links[1].Server, "signal")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type watch struct {
		ns           *testbed.NS
		ip, our, err syncBuffer
		done         chan int
	}
	var watches []*watch
	for _, ns := range []*testbed.NS{b.Client, b.Server} {
		w := &watch{ns: ns, done: make(chan int, 1)}
		ip := exec.CommandContext(ctx, "ip", "-n", ns.Name, "mptcp", "monitor")
		ip.Stdout = &w.ip
		if err := ip.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ip.Process.Kill(); ip.Wait() })
		go func() { w.done <- run(ctx, []string{"monitor", "-json", "-netns", ns.Name}, &w.our, &w.err) }()
		// Both listen once both saw a connection over the namespace's
		// loopback made: the events every kernel with events sends
		// (listener events came in 6.2). Those connections' events are
		// left out of the comparison, by token.
		for i := 0; !strings.Contains(w.ip.String(), "CREATED") || !strings.Contains(w.our.String(), `"created"`); i++ {
			select {
			case code := <-w.done:
				requireMonitorEvents(t, code, w.err.String())
			default:
			}
			if i == 100 {
				t.Fatalf("%s: no connection's event in 100 tries: ip %q, monitor %q %q", ns.Name, w.ip.String(), w.our.String(), w.err.String())
			}
			loopbackConnection(t, ns)
			time.Sleep(20 * time.Millisecond)
		}
		watches = append(watches, w)
	}

	l := mptcptest.Listen(t, b, "tcp", b.Links[0].Server)
	c, s := mptcptest.Connect(t, b, nil, l)
	mptcptest.WaitSubflows(t, c, 2)
	// The events compared: those of this connection, on either end.
	tokens := map[string]bool{}
	for _, end := range []*mptcp.MPTCPConn{c, s} {
		info, err := end.MPTCPInfo()
		if err != nil {
			t.Fatal(err)
		}
		tokens[fmt.Sprintf("%08x", info.Token)] = true
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(watches[0].ip.String(), "ANNOUNCED"); {
		time.Sleep(20 * time.Millisecond)
	}
	// The client's second path becomes a backup: MP_PRIO, and the
	// server's sub_priority.
	id := regexp.MustCompile(`id (\d+)`).FindStringSubmatch(b.Client.IP("mptcp", "endpoint", "show"))
	if id == nil {
		t.Fatal("no endpoint id in ip mptcp endpoint show")
	}
	b.Client.IP("mptcp", "endpoint", "change", "id", id[1], "backup")
	want := map[*watch]string{watches[0]: "SF_CLOSED", watches[1]: "SF_PRIO"}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(watches[1].ip.String(), "SF_PRIO"); {
		time.Sleep(20 * time.Millisecond)
	}
	c.Close()
	s.Close()
	for _, w := range watches {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && strings.Count(w.ip.String(), "] token=") > strings.Count(w.our.String(), `"token"`); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // the last events of the close
	cancel()
	for _, w := range watches {
		<-w.done
		var ours []eventRecord
		for line := range strings.Lines(w.our.String()) {
			var r eventRecord
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %q: %v", w.ns.Name, line, err)
			}
			if tokens[r.Token] {
				ours = append(ours, r)
			}
		}
		types := map[string]bool{}
		for _, ev := range parseIPMonitor(w.ip.String()) {
			if !tokens[ev["token"]] {
				continue
			}
			types[ev["type"]] = true
			i := slices.IndexFunc(ours, func(r eventRecord) bool { return sameEvent(ev, r) })
			if i < 0 {
				t.Errorf("%s: ip's event %v is not among monitor's:\n%s", w.ns.Name, ev, w.our.String())
				continue
			}
			for _, diff := range ipFieldsDiffer(ev, ours[i]) {
				t.Errorf("%s: %s: %s\nip:      %v\nmonitor: %+v", w.ns.Name, ev["type"], diff, ev, ours[i])
			}
			ours = slices.Delete(ours, i, i+1)
		}
		for _, ty := range []string{"created", "established", "sub_established", "closed", strings.ToLower(want[w])} {
			if ty == "sf_prio" {
				ty = "sub_priority"
			}
			if ty == "sf_closed" {
				continue // the client may or may not report its subflows' close
			}
			if !types[ty] {
				t.Errorf("%s: ip printed no %s event:\n%s", w.ns.Name, ty, w.ip.String())
			}
		}
		if len(ours) > 0 {
			t.Errorf("%s: monitor printed events ip did not: %+v\nip:\n%s", w.ns.Name, ours, w.ip.String())
		}
	}
	if !strings.Contains(watches[0].ip.String(), "ANNOUNCED") {
		t.Errorf("the client saw no announcement:\n%s", watches[0].ip.String())
	}
}

// loopbackConnection makes an MPTCP connection over ns's loopback and
// closes it.
func loopbackConnection(t *testing.T, ns *testbed.NS) {
	t.Helper()
	l := ns.Listen(func() (net.Listener, error) { return mptcp.Listen("tcp", "127.0.0.1:0") })
	defer l.Close()
	c, err := ns.Dialer((&mptcp.Dialer{Timeout: 5 * time.Second}).DialContext)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if s, err := l.Accept(); err == nil {
		s.Close()
	}
}

// requireMonitorEvents checks how monitor ended, with status code and
// output out, before it watched: on a kernel without the path manager's
// events (before 5.12) it must fail at once with status 1 and say why,
// and t is skipped; anything else fails t.
func requireMonitorEvents(t *testing.T, code int, out string) {
	t.Helper()
	const lacks = "mptcpcheck monitor: subscribe mptcp_pm: the kernel's mptcp_pm family has no events group (Linux 5.12 added it)\n"
	if code != exitFail || out != lacks {
		t.Fatalf("monitor ended before it watched: status %d, output %q; want %d and %q where the kernel has no events", code, out, exitFail, lacks)
	}
	testenv.SkipKernelLacks(t, "the path manager's events (the mptcp_pm family's events group)", "5.12")
}

// ipTypes maps ip mptcp monitor's names of events to monitor's.
var ipTypes = map[string]string{
	"CREATED": "created", "ESTABLISHED": "established", "CLOSED": "closed", "ANNOUNCED": "announced",
	"REMOVED": "removed", "SF_ESTABLISHED": "sub_established", "SF_CLOSED": "sub_closed", "SF_PRIO": "sub_priority",
}

// parseIPMonitor returns the events of ip mptcp monitor's output, each
// its fields by ip's names and "type" by monitor's, the events of a
// listener (which ip 6.1 cannot name) left out.
func parseIPMonitor(out string) []map[string]string {
	var events []map[string]string
	line := regexp.MustCompile(`^\[\s*(\S+)\]\s*(.*)$`)
	for l := range strings.Lines(out) {
		m := line.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil || ipTypes[m[1]] == "" {
			continue
		}
		ev := map[string]string{"type": ipTypes[m[1]]}
		for f := range strings.FieldsSeq(m[2]) {
			k, v, _ := strings.Cut(f, "=")
			ev[k] = v
		}
		events = append(events, ev)
	}
	return events
}

// sameEvent reports whether r is ip's event ev: its type, token and ends.
func sameEvent(ev map[string]string, r eventRecord) bool {
	return r.Type == ev["type"] && r.Token == ev["token"] && r.Local == ipAddr(ev, "saddr", "sport") && r.Remote == ipAddr(ev, "daddr", "dport")
}

// ipAddr is an end of ip's event as monitor prints it: ADDR:PORT, ""
// where ip prints neither.
func ipAddr(ev map[string]string, addr, port string) string {
	a := ev[addr+"4"] + ev[addr+"6"]
	if a == "" {
		return ""
	}
	p, _ := strconv.Atoi(ev[port])
	return netip.AddrPortFrom(netip.MustParseAddr(a).Unmap(), uint16(p)).String()
}

// ipFieldsDiffer lists the fields of ip's event that monitor's lacks or
// gives another value.
func ipFieldsDiffer(ev map[string]string, r eventRecord) []string {
	var diffs []string
	check := func(key, ip string, ours any, ok bool) {
		if got := fmt.Sprint(ours); !ok || got != ip {
			diffs = append(diffs, fmt.Sprintf("ip %s=%s, monitor %v (present %v)", key, ip, got, ok))
		}
	}
	for k, v := range ev {
		switch k {
		case "type", "token", "saddr4", "saddr6", "daddr4", "daddr6", "sport", "dport":
			// matched by sameEvent
		case "locid":
			check(k, v, valueOf(r.LocalAddrID), r.LocalAddrID != nil)
		case "remid":
			check(k, v, valueOf(r.RemoteAddrID), r.RemoteAddrID != nil)
		case "backup":
			check(k, v, map[bool]string{true: "1", false: "0"}[valueOf(r.Backup)], r.Backup != nil)
		case "ifindex":
			check(k, v, r.Ifindex, r.Ifindex != 0)
		case "server_side":
			check(k, v, map[bool]string{true: "1", false: "0"}[r.ServerSide], true)
		case "flags":
			n, _ := strconv.ParseUint(v, 16, 16)
			check(k, pm.EventFlags(n).String(), strings.Join(r.Flags, "|"), r.Flags != nil)
		case "error":
			n, _ := strconv.Atoi(v)
			check(k, syscall.Errno(n).Error(), r.Error, r.Error != "")
		case "reset_reason":
			n, _ := strconv.Atoi(v)
			check(k, pm.ResetReason(n).String(), r.ResetReason, r.ResetReason != "" || n == 0)
		case "reset_flags":
			n, _ := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
			check(k, pm.ResetFlags(n).String(), strings.Join(r.ResetFlags, "|"), r.ResetFlags != nil || n == 0)
		default:
			diffs = append(diffs, fmt.Sprintf("ip prints %s=%s, which monitor does not know", k, v))
		}
	}
	return diffs
}

// valueOf is *p, or the zero value for nil.
func valueOf[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}
