package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/multipath-go/mptcp"
)

// Limits that keep serve safe to expose.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second // per response
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10

	// Defaults of the flags of the same names.
	defaultMaxSize      = 64 << 20  // -max-size
	defaultMaxDownloads = 64        // -max-downloads
	defaultMaxConns     = 512       // -max-conns
	defaultMaxPerAddr   = 64        // -max-conns-per-addr
	defaultMinRate      = 8 << 10   // -min-rate, bytes per second
	defaultSndBuf       = 256 << 10 // -sndbuf, bytes
	// rateWindow is how far, in time at -min-rate, a download may fall
	// behind the floor (see rateGuard).
	rateWindow = 4 * time.Second
)

// zeros is what every download sends: one buffer, shared and never
// written, so that a download costs no memory of its own.
var zeros [256 << 10]byte

type serveOptions struct {
	errorLog *log.Logger

	// Zero means the default for each of these.
	maxSize      int64         // largest ?size= of a download
	maxDownloads int           // downloads at once; more get 503
	maxConns     int           // connections at once (serve); more shed the cheapest (connTracker)
	maxPerAddr   int           // connections at once from one client address (an IPv6 /64)
	minRate      int64         // bytes per second below which a download is dropped; < 0: no floor
	rateWindow   time.Duration // the grace of minRate (rateGuard)
	maxStall     time.Duration // the longest a download may receive nothing
	sndBuf       int           // SO_SNDBUF of a download's connection; < 0: the kernel's autotuning

	tlsCert *tls.Certificate // serveOn serves HTTPS with it when set
}

func (o serveOptions) withDefaults() serveOptions {
	if o.maxSize <= 0 {
		o.maxSize = defaultMaxSize
	}
	if o.maxDownloads <= 0 {
		o.maxDownloads = defaultMaxDownloads
	}
	if o.maxConns <= 0 {
		o.maxConns = defaultMaxConns
	}
	if o.maxPerAddr <= 0 {
		o.maxPerAddr = defaultMaxPerAddr
	}
	if o.minRate == 0 {
		o.minRate = defaultMinRate
	}
	if o.rateWindow <= 0 {
		o.rateWindow = rateWindow
	}
	if o.maxStall <= 0 {
		o.maxStall = maxStall
	}
	if o.sndBuf == 0 {
		o.sndBuf = defaultSndBuf
	}
	return o
}

// server is the HTTP server of "mptcpcheck serve".
type server struct {
	*http.Server
	opts      serveOptions
	downloads chan struct{} // one token per download in progress
	conns     *connTracker
	active    atomic.Int64 // downloads in progress, for tests
	started   atomic.Int64 // downloads started, for tests

	// inFlight holds the downloads in progress by their id, for
	// /download/status. Only downloads that hold a token of downloads are
	// added, and each is removed when its handler returns, so the map
	// never holds more than opts.maxDownloads entries.
	mu       sync.Mutex
	inFlight map[string]*inFlight
}

// inFlight is a download in progress, as /download/status reports it.
type inFlight struct {
	conn    *mptcp.MPTCPConn
	start   time.Time
	size    int64
	written atomic.Int64
	pending atomic.Int64 // bytes of the write in progress (rateGuard)
	recent  atomic.Int64 // bytes per second the client received lately (rateGuard)
}

// newServer returns the HTTP server of "mptcpcheck serve", also used by
// the demo.
func newServer(opts serveOptions) *server {
	opts = opts.withDefaults()
	s := &server{
		opts:      opts,
		downloads: make(chan struct{}, opts.maxDownloads),
		inFlight:  make(map[string]*inFlight),
		conns:     newConnTracker(opts.maxConns, opts.maxPerAddr),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /download", s.download)
	mux.HandleFunc("GET /download/status", s.downloadStatus)
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, appJS)
	})
	mux.HandleFunc("GET /style.css", serveAsset("text/css; charset=utf-8", styleCSS))
	mux.HandleFunc("GET /", s.report)
	errorLog := opts.errorLog
	if errorLog == nil {
		errorLog = log.New(io.Discard, "", 0)
	}
	s.Server = &http.Server{
		Handler:           securityHeaders(mux),
		ConnContext:       connContext,
		ConnState:         s.conns.connState,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errorLog,
	}
	if opts.tlsCert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*opts.tlsCert}}
	}
	return s
}

// serve serves on ln, with at most opts.maxConns connections at once and
// opts.maxPerAddr from one client address: at either limit a newcomer
// sheds the connection that costs least to lose rather than being refused
// (connTracker).
func (s *server) serve(ln net.Listener) error {
	ln = &trackingListener{Listener: ln, t: s.conns}
	if s.TLSConfig != nil {
		return s.ServeTLS(ln, "", "")
	}
	return s.Serve(ln)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		// Requests have no body worth reading: bound what a client may send.
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		if r.ContentLength != 0 && r.ProtoMajor == 1 {
			// net/http reads what is left of an HTTP/1 body after the
			// answer, up to 256 KiB and for as long as the read timeout,
			// so that a client trickling one would hold a connection that
			// looks busy: count it as a request still unfinished, which
			// is shed for a newcomer, and close it after the answer.
			w.Header().Set("Connection", "close")
			if tc := servedFromContext(r.Context()); tc != nil {
				tc.t.setClass(tc, classNew)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// answer is the JSON form of a report.
type answer struct {
	Connection connReport `json:"connection"`
}

func (s *server) report(w http.ResponseWriter, r *http.Request) {
	c, ok := mptcp.ConnFromContext(r.Context())
	if !ok {
		http.Error(w, "mptcpcheck: the connection is not one of package mptcp", http.StatusInternalServerError)
		return
	}
	rep := describe(c)
	w.Header().Set("Cache-Control", "no-store")
	accept := r.Header.Get("Accept")
	switch {
	case r.URL.Query().Get("format") == "json" || strings.Contains(accept, "application/json"):
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(answer{rep})
	case strings.Contains(accept, "text/html"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, pageData{Path: r.URL.Path, Report: rep, DownloadSize: min(pageDownloadSize, s.opts.maxSize)}); err != nil {
			log.Printf("mptcpcheck: page: %v", err)
		}
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rep.writeText(w)
	}
}

// downloadIDHeader names the response header of /download that carries
// the download's id, the key to its /download/status.
//
// The page's script polls the subflows of its download over another
// connection than the download's own (that one is busy with the body),
// so the server cannot answer "this connection" as / does. The id ties
// the poll to the download: it holds more than 128 random bits from
// crypto/rand and is sent only in the download's own response, so only
// the client that started a download can read its subflows' addresses
// and counters; another client cannot guess an id, and an id stops
// working when its download ends. A header, rather than a first request that hands out an id,
// keeps a download one request and leaves no id without a download.
const downloadIDHeader = "Mptcpcheck-Download-Id"

// newDownloadID returns a fresh unguessable id: 26 base32 characters of
// crypto/rand, 130 random bits.
func newDownloadID() string { return rand.Text() }

// download sends ?size=N bytes, at most opts.maxSize, from the shared
// zeros. At most opts.maxDownloads run at once; another gets 503. A
// download whose client falls behind opts.minRate, or stalls, is dropped
// (rateGuard): a reader slower than the floor does not hold the server.
// The response's downloadIDHeader names the download for /download/status
// while it runs.
func (s *server) download(w http.ResponseWriter, r *http.Request) {
	maxSize := s.opts.maxSize
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil || size < 0 || size > maxSize {
		http.Error(w, fmt.Sprintf("size must be a number of bytes from 0 to %d", maxSize), http.StatusBadRequest)
		return
	}
	select {
	case s.downloads <- struct{}{}:
		defer func() { <-s.downloads }()
	default:
		w.Header().Set("Retry-After", "1")
		if r.ProtoMajor == 1 {
			// Over HTTP/1 the client waits for another slot on a fresh
			// connection rather than hold this one. Over HTTP/2 the header
			// would become a GOAWAY that ends the client's other
			// requests too: the connection is left alone.
			w.Header().Set("Connection", "close")
		}
		http.Error(w, "too many downloads at once, try again later", http.StatusServiceUnavailable)
		return
	}
	s.started.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)

	conn, _ := mptcp.ConnFromContext(r.Context())
	// The connection's options are the download's to set only over
	// HTTP/1, where the connection carries this response alone. Over
	// HTTP/2 it carries the client's other requests too: a reset would
	// discard what they were sent last, and HTTP/2's flow control already
	// bounds what one stream queues.
	exclusive := conn != nil && r.ProtoMajor == 1
	if exclusive && s.opts.sndBuf > 0 {
		// A reader that stalls leaves the server's send buffer full.
		// Autotuned, that buffer grows to net.ipv4.tcp_wmem's maximum
		// (4 MiB by default) per connection, and a thousand stalled
		// readers then exhaust the kernel's TCP memory (net.ipv4.tcp_mem,
		// shared by every socket of the host) before the rate floor drops
		// them, so that other clients' connections stall too. A fixed
		// SO_SNDBUF (which the kernel doubles for its overhead, and which
		// MPTCP applies to every subflow) bounds each download's share.
		// An error leaves the kernel's autotuning, which still works.
		conn.SetWriteBuffer(s.opts.sndBuf)
	}
	if exclusive {
		// A download cut short, by the floor or by the client, ends with
		// a reset rather than a close: a close would leave the kernel to
		// deliver the full send buffer to a reader that does not read,
		// holding that memory for minutes, and the body is useless
		// anyway. (net/http closes the connection as soon as a write
		// fails, so SO_LINGER must be set before.) A download that
		// completes restores the graceful close below, so that no body
		// is ever cut by a reset. (Measured on Linux 6.18 with 1,000
		// stalled readers: closed, their sockets stayed in FIN-WAIT-1
		// holding 500 MiB, TCP and MPTCP alike; reset, the memory was
		// back at once.)
		conn.SetLinger(0)
	}
	d := &inFlight{conn: conn, start: time.Now(), size: size}
	id := newDownloadID()
	s.mu.Lock()
	s.inFlight[id] = d
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inFlight, id)
		s.mu.Unlock()
	}()
	var queue syscall.Conn // the download's own send queue, if it has one
	if exclusive {
		queue = conn
		if tc := servedFromContext(r.Context()); tc != nil {
			// The slowest downloads are shed first at the connection limit.
			defer s.conns.startDownload(tc, d)()
		}
	}

	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set(downloadIDHeader, id)
	rc := http.NewResponseController(w)
	// The page reads the id before the body: send the header at once.
	rc.Flush()
	// rateGuard, not a deadline per write, decides when the client is too
	// slow: the server's WriteTimeout would cut any download longer than
	// it.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		return
	}
	guard := startRateGuard(d, queue, s.opts.minRate, s.opts.rateWindow, s.opts.maxStall, func() {
		rc.SetWriteDeadline(time.Now())
	})
	defer guard.stop()
	for size > 0 {
		m := min(size, guard.chunk())
		d.pending.Store(m)
		if _, err := w.Write(zeros[:m]); err != nil {
			return
		}
		d.written.Add(m)
		d.pending.Store(0)
		size -= m
	}
	if exclusive {
		conn.SetLinger(-1)
	}
}

// downloadStatus is the JSON of /download/status.
type downloadStatus struct {
	Size          int64      `json:"size"`       // bytes the download sends in all
	Written       int64      `json:"written"`    // of which the server wrote so far
	ElapsedMillis int64      `json:"elapsed_ms"` // since the download started, on the server's clock
	Connection    connReport `json:"connection"` // the download's connection, with its subflows
}

// downloadStatus answers /download/status?id=ID with the state of the
// download in progress that has that id, or 404 when there is none (an
// unknown id or a download that ended): nothing about another client's
// connection is told to whoever does not hold its id. elapsed_ms lets the
// page compute each subflow's rate from successive byte counters on the
// server's clock, whatever the delays of the polls.
func (s *server) downloadStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.mu.Lock()
	d := s.inFlight[r.URL.Query().Get("id")]
	s.mu.Unlock()
	if d == nil || d.conn == nil {
		http.Error(w, "no download in progress has this id", http.StatusNotFound)
		return
	}
	st := downloadStatus{
		Size:          d.size,
		Written:       d.written.Load(),
		ElapsedMillis: time.Since(d.start).Milliseconds(),
		Connection:    describe(d.conn),
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

type pageData struct {
	Path         string
	Report       connReport
	DownloadSize int64 // bytes the page's download test fetches
}

// DownloadHuman is DownloadSize with its unit, for the page.
func (p pageData) DownloadHuman() string { return humanBytes(uint64(p.DownloadSize)) }

// pageDownloadSize is what the page's download test fetches, unless
// -max-size is less: about 7 s at 40 Mbit/s, long enough to watch the
// subflows share the load, or to take a path down and see another take
// over.
const pageDownloadSize = 32 << 20

var page = template.Must(template.New("page").Parse(pageHTML))

//go:embed page.html
var pageHTML string

//go:embed app.js
var appJS string

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "address to listen on")
	cert := fs.String("cert", "", "TLS certificate file (PEM); serve HTTPS when given with -key")
	key := fs.String("key", "", "TLS private key file (PEM)")
	maxSize := fs.Int64("max-size", defaultMaxSize, "largest download in bytes (/download?size=N)")
	maxDownloads := fs.Int("max-downloads", defaultMaxDownloads, "downloads at once; more are answered 503")
	maxConns := fs.Int("max-conns", defaultMaxConns, "connections at once; at the limit a newcomer sheds the connection that costs least to lose (idle, then with its request unfinished, then the slowest download; oldest first)")
	maxPerAddr := fs.Int("max-conns-per-addr", defaultMaxPerAddr, "connections at once from one client address (an IPv6 /64); at the bound a newcomer sheds that address's own, as for -max-conns")
	sndBuf := fs.Int("sndbuf", defaultSndBuf, "SO_SNDBUF of a download's HTTP/1 connection in bytes, which bounds the kernel memory a stalled reader holds; 0 for the kernel's autotuning")
	minRate := fs.Int64("min-rate", defaultMinRate, fmt.Sprintf("bytes per second below which a download is dropped: once its average since it began falls %v of this rate behind; 0 for no floor", rateWindow))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck serve [-addr ADDR] [-cert FILE -key FILE] [limits]\n\n"+
			"Answers every request with whether the client's connection uses MPTCP and the\n"+
			"subflows the server sees: plain text (curl), JSON (Accept: application/json or\n"+
			"?format=json) or an HTML page for browsers that refreshes its own connection's\n"+
			"subflows. /download?size=N sends N bytes (at most -max-size); at most\n"+
			"-max-downloads run at once (more get 503), and one slower than -min-rate on\n"+
			"average, or that receives nothing for %v, is dropped; its response header\n"+
			"Mptcpcheck-Download-Id names it for /download/status?id=ID, which reports\n"+
			"the download's subflows while it runs. At most -max-conns connections are\n"+
			"served at once, -max-conns-per-addr from one address: past either, a new\n"+
			"connection is served and the one that costs least to lose is closed.\n\n", maxStall)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mptcpcheck serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	for _, f := range []struct {
		name     string
		val, min int64
	}{
		{"-max-size", *maxSize, 1},
		{"-max-downloads", int64(*maxDownloads), 1},
		{"-max-conns", int64(*maxConns), 1},
		{"-max-conns-per-addr", int64(*maxPerAddr), 1},
		{"-min-rate", *minRate, 0},
		{"-sndbuf", int64(*sndBuf), 0},
	} {
		if f.val < f.min {
			fmt.Fprintf(stderr, "mptcpcheck serve: %s must be at least %d\n", f.name, f.min)
			return exitUsage
		}
	}
	opts := serveOptions{
		maxSize:      *maxSize,
		maxDownloads: *maxDownloads,
		maxConns:     *maxConns,
		maxPerAddr:   *maxPerAddr,
		minRate:      *minRate,
	}
	if *minRate == 0 {
		opts.minRate = -1 // no floor
	}
	opts.sndBuf = *sndBuf
	if *sndBuf == 0 {
		opts.sndBuf = -1 // autotuning
	}
	if (*cert == "") != (*key == "") {
		fmt.Fprintln(stderr, "mptcpcheck serve: -cert and -key go together")
		return exitUsage
	}
	if *cert != "" {
		c, err := loadCert(*cert, *key)
		if err != nil {
			fmt.Fprintf(stderr, "mptcpcheck serve: %v\n", err)
			return exitUsage
		}
		opts.tlsCert = &c
	}
	ln, err := mptcp.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck serve: cannot listen on %s: %v\n", *addr, err)
		return exitFail
	}
	return serveOn(ctx, ln, opts, stdout, stderr)
}

// loadCert loads and checks -cert and -key, naming the flag at fault.
func loadCert(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("-cert: %v", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("-key: %v", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("-cert %s and -key %s: %v", certFile, keyFile, err)
	}
	return c, nil
}

// serveOn serves on ln until ctx ends.
func serveOn(ctx context.Context, ln net.Listener, opts serveOptions, stdout, stderr io.Writer) int {
	opts.errorLog = log.New(stderr, "mptcpcheck serve: ", 0)
	srv := newServer(opts)
	return srv.run(ctx, ln, stdout, stderr)
}

// run serves on ln until ctx ends.
func (srv *server) run(ctx context.Context, ln net.Listener, stdout, stderr io.Writer) int {
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "serving on %s://%s\n", scheme, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "mptcpcheck serve: %v\n", err)
		return exitFail
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "mptcpcheck serve: %v\n", err)
		return exitFail
	}
	return exitOK
}
