package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/multipath-go/mptcp/internal/explain"
	"github.com/multipath-go/mptcp/pm"
)

// pathManager is what the in-kernel path manager is set to do.
type pathManager struct {
	Limits    *pm.Limits
	Endpoints []pm.Endpoint
	Error     string
}

// readPathManager reads the limits and endpoints of the calling thread's
// namespace; neither needs privilege.
func readPathManager() pathManager {
	var p pathManager
	c, err := pm.Dial(nil)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	defer c.Close()
	if l, err := c.Limits(); err == nil {
		p.Limits = &l
	} else {
		p.Error = err.Error()
	}
	if eps, err := c.Endpoints(); err == nil {
		p.Endpoints = eps
	} else if p.Error == "" {
		p.Error = err.Error()
	}
	return p
}

// verdict judges the host as why judges a connection (explain.ExplainHost):
// the explanations, and, for more than one subflow, what to change;
// nil means nothing.
func verdict(hr hostReport) (exps []explain.Explanation, todo []string) {
	c, err := pm.Dial(nil)
	if err == nil {
		defer c.Close()
	}
	h := readHost(c, err)
	h.Blackhole = hr.blackhole
	exps = explain.ExplainHost(h)
	if len(hr.Problems) > 0 {
		return exps, []string{"first make MPTCP work at all (see the problems above)"}
	}
	for _, e := range exps {
		// Backups are more than one subflow: a note, not a change to make.
		if e.Code != explain.BackupPath {
			todo = append(todo, e.Message)
		}
	}
	return exps, todo
}

func doctorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	ns := netnsFlag(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck doctor [-json] [-netns NS]\n\n"+
			"Checks whether this host is ready for MPTCP: kernel support, sysctls, the path\n"+
			"manager, its limits and endpoints, and says what to change for a connection to\n"+
			"get more than one subflow, in the codes mptcpcheck why gives a connection of\n"+
			"this host (unsupported, mptcp-disabled, blackhole, subflow-limit, no-endpoint,\n"+
			"join-initial-denied for the connections it accepts), and notes backup-path\n"+
			"when every subflow endpoint is a backup. With -netns it checks that network\n"+
			"namespace: its sysctls, path manager, counters and an MPTCP socket made there.\n"+
			"Exit status 0 when MPTCP works, 1 when it cannot (the first three codes).\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mptcpcheck doctor: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var h hostReport
	var p pathManager
	var exps []explain.Explanation
	var todo []string
	// Everything doctor reads is the namespace's: the sysctls, the path
	// manager, the counters and the probes' sockets.
	err := inNetNS(*ns, func() {
		h = checkHost()
		p = readPathManager()
		exps, todo = verdict(h)
	})
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck doctor: %v\n", err)
		return exitFail
	}
	if p.Limits != nil && p.Limits.AddAddrAccepted == 0 {
		h.Notes = append(h.Notes, "as a client this host ignores addresses that servers announce: ip mptcp limits set add_addr_accepted 2")
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		r := doctorJSON(h, p, todo)
		r.Explanations = nonNil(exps)
		enc.Encode(r)
	} else {
		h.writeText(stdout)
		p.writeText(stdout)
		if len(todo) == 0 {
			fmt.Fprintln(stdout, "more than one subflow: ready")
		} else {
			fmt.Fprintln(stdout, "more than one subflow: not yet; change:")
			for _, s := range todo {
				fmt.Fprintf(stdout, "  - %s\n", s)
			}
		}
		for _, e := range exps {
			if e.Code == explain.BackupPath {
				fmt.Fprintf(stdout, "backup paths: %s\n", e.Message)
			}
		}
	}
	if len(h.Problems) > 0 || slices.ContainsFunc(exps, func(e explain.Explanation) bool { return explain.Unusable(e.Code) }) {
		return exitFail
	}
	return exitOK
}

// doctorReport is the JSON form of doctor's findings. Its keys are
// snake_case, as in the other JSON outputs of mptcpcheck, and its lists
// are [] when empty, never null.
type doctorReport struct {
	Host         hostReport      `json:"host"`
	PathManager  pathManagerJSON `json:"path_manager"`
	MoreSubflows []string        `json:"more_subflows_needs"` // [] when ready
	// Explanations are the host's verdict in why's terms: the same
	// codes, messages and evidence; [] when nothing stops MPTCP or more
	// than one subflow.
	Explanations []explain.Explanation `json:"explanations"`
}

type pathManagerJSON struct {
	Limits    *limitsJSON    `json:"limits,omitempty"` // left out when unreadable
	Endpoints []endpointJSON `json:"endpoints"`
	Error     string         `json:"error,omitempty"`
}

type limitsJSON struct {
	Subflows        uint32 `json:"subflows"`
	AddAddrAccepted uint32 `json:"add_addr_accepted"`
}

type endpointJSON struct {
	AddrID  uint8    `json:"addr_id"` // the endpoint's address id, "id" in ip mptcp endpoint
	Address string   `json:"address"`
	Port    uint16   `json:"port,omitempty"`
	Flags   []string `json:"flags"` // the words of "ip mptcp endpoint": signal, subflow, backup, ...
	Ifindex int      `json:"ifindex,omitempty"`
}

// nonNil returns s, or an empty slice for nil, which JSON shows as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func doctorJSON(h hostReport, p pathManager, todo []string) doctorReport {
	h.Problems, h.Notes = nonNil(h.Problems), nonNil(h.Notes)
	r := doctorReport{Host: h, MoreSubflows: nonNil(todo)}
	r.PathManager.Error = p.Error
	if p.Limits != nil {
		r.PathManager.Limits = &limitsJSON{Subflows: p.Limits.Subflows, AddAddrAccepted: p.Limits.AddAddrAccepted}
	}
	r.PathManager.Endpoints = []endpointJSON{}
	for _, e := range p.Endpoints {
		flags := []string{}
		if e.Flags != 0 {
			flags = strings.Split(e.Flags.String(), "|")
		}
		r.PathManager.Endpoints = append(r.PathManager.Endpoints, endpointJSON{
			AddrID: e.ID, Address: e.Addr.String(), Port: e.Port, Flags: flags, Ifindex: e.Ifindex,
		})
	}
	return r
}

func (p pathManager) writeText(w io.Writer) {
	if p.Limits != nil {
		fmt.Fprintf(w, "limits: %v\n", *p.Limits)
	}
	if p.Error != "" {
		fmt.Fprintf(w, "path manager: %s\n", p.Error)
	}
	if len(p.Endpoints) == 0 && p.Error == "" {
		fmt.Fprintln(w, "endpoints: none")
	}
	for _, e := range p.Endpoints {
		fmt.Fprintf(w, "endpoint: %v\n", e)
	}
}

// monitorCmd prints path manager events until interrupted.
func monitorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	ns := netnsFlag(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck monitor [-json] [-netns NS]\n\n"+
			"Prints the path manager's events as they happen (connections created,\n"+
			"established, closed; addresses announced and removed; subflows established,\n"+
			"closed, changing priority; listeners), until interrupted, of this network\n"+
			"namespace or of -netns. Needs CAP_NET_ADMIN.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mptcpcheck monitor: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	c, err := pm.Dial(&pm.Config{NetNS: netnsPath(*ns)})
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck monitor: %v\n", err)
		return exitFail
	}
	defer c.Close()
	sub, err := c.Subscribe()
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck monitor: %v\n", err)
		return exitFail
	}
	defer sub.Close()
	fmt.Fprintln(stderr, "mptcpcheck monitor: watching path manager events; interrupt to stop")
	enc := json.NewEncoder(stdout)
	for {
		ev, err := sub.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return exitOK
		case err != nil:
			fmt.Fprintf(stderr, "mptcpcheck monitor: %v\n", err)
			continue
		}
		if *asJSON {
			enc.Encode(eventJSON(ev))
		} else {
			fmt.Fprintln(stdout, eventText(ev))
		}
	}
}

// eventRecord is the JSON form of an event: only the fields it has,
// the fields ip mptcp monitor prints (which names them differently). A
// listener's events (listener_created, listener_closed) have no token and
// no remote end, only the listening address, in local.
type eventRecord struct {
	Type         string `json:"type"`
	Token        string `json:"token,omitempty"`
	Local        string `json:"local,omitempty"`
	Remote       string `json:"remote,omitempty"`
	LocalAddrID  *uint8 `json:"local_addr_id,omitempty"`
	RemoteAddrID *uint8 `json:"remote_addr_id,omitempty"`
	// Backup and Ifindex are a subflow's: whether it is a backup, the
	// interface it is bound to (left out when it is bound to none, as
	// the kernel leaves it out).
	Backup      *bool    `json:"backup,omitempty"`
	Ifindex     int      `json:"ifindex,omitempty"`
	ServerSide  bool     `json:"server_side,omitempty"`
	Flags       []string `json:"flags,omitempty"` // a connection's: deny_join_id0, server_side
	Error       string   `json:"error,omitempty"`
	ResetReason string   `json:"reset_reason,omitempty"`
	ResetFlags  []string `json:"reset_flags,omitempty"` // transient
}

func eventJSON(ev pm.Event) eventRecord {
	r := eventRecord{Type: ev.Type.String(), ServerSide: ev.ServerSide}
	if ev.Local.IsValid() {
		r.Local = ev.Local.String()
	}
	if isListenerEvent(ev.Type) {
		return r
	}
	r.Token = fmt.Sprintf("%08x", ev.Token)
	if ev.Remote.IsValid() {
		r.Remote = ev.Remote.String()
	}
	switch ev.Type {
	case pm.EventSubflowEstablished, pm.EventSubflowClosed, pm.EventSubflowPriority:
		r.LocalAddrID, r.RemoteAddrID = &ev.LocalID, &ev.RemoteID
		r.Backup, r.Ifindex = &ev.Backup, ev.Ifindex
	case pm.EventCreated, pm.EventEstablished:
		// The kernel sends the first subflow's ids, 0 and 0.
		r.LocalAddrID, r.RemoteAddrID = &ev.LocalID, &ev.RemoteID
	case pm.EventAnnounced, pm.EventRemoved:
		r.RemoteAddrID = &ev.RemoteID
	}
	if ev.Flags != 0 {
		r.Flags = strings.Split(ev.Flags.String(), "|")
	}
	if ev.Error != 0 {
		r.Error = ev.Error.Error()
	}
	if ev.ResetReason != 0 {
		r.ResetReason = ev.ResetReason.String()
	}
	if ev.ResetFlags != 0 {
		r.ResetFlags = strings.Split(ev.ResetFlags.String(), "|")
	}
	return r
}

// isListenerEvent reports the event types of a listener, not of a
// connection.
func isListenerEvent(t pm.EventType) bool {
	return t == pm.EventListenerCreated || t == pm.EventListenerClosed
}

// eventText formats an event on one line: its type, then for a listener
// the listening address ("listener_created 127.0.0.1:8080"), for a
// connection the token, addresses and the other fields it has.
func eventText(ev pm.Event) string {
	r := eventJSON(ev)
	var b strings.Builder
	if isListenerEvent(ev.Type) {
		fmt.Fprintf(&b, "%-16s %s", r.Type, r.Local)
		return strings.TrimRight(b.String(), " ")
	}
	fmt.Fprintf(&b, "%-16s token=%s", r.Type, r.Token)
	if r.Local != "" || r.Remote != "" {
		fmt.Fprintf(&b, " %s -> %s", r.Local, r.Remote)
	}
	if r.LocalAddrID != nil {
		fmt.Fprintf(&b, " local_addr_id=%d", *r.LocalAddrID)
	}
	if r.RemoteAddrID != nil {
		fmt.Fprintf(&b, " remote_addr_id=%d", *r.RemoteAddrID)
	}
	if r.Backup != nil {
		fmt.Fprintf(&b, " backup=%v", *r.Backup)
	}
	if r.Ifindex != 0 {
		fmt.Fprintf(&b, " ifindex=%d", r.Ifindex)
	}
	if r.ServerSide {
		b.WriteString(" server_side")
	}
	if r.Flags != nil {
		fmt.Fprintf(&b, " flags=%s", strings.Join(r.Flags, "|"))
	}
	if r.Error != "" {
		fmt.Fprintf(&b, " error=%q", r.Error)
	}
	if r.ResetReason != "" {
		fmt.Fprintf(&b, " reset_reason=%q", r.ResetReason)
	}
	if r.ResetFlags != nil {
		fmt.Fprintf(&b, " reset_flags=%s", strings.Join(r.ResetFlags, "|"))
	}
	return b.String()
}
