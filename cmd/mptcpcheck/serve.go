package main

import (
	"context"
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
	"strconv"
	"strings"
	"time"

	"github.com/multipath-go/mptcp"
)

// Limits that keep serve safe to expose.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second // per response, and per chunk of a download
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	maxDownload       = 1 << 30
	downloadChunk     = 256 << 10
)

type serveOptions struct {
	errorLog *log.Logger
}

// newServer returns the HTTP server of "mptcpcheck serve", also used by
// the demo.
func newServer(opts serveOptions) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /download", download)
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, appJS)
	})
	mux.HandleFunc("GET /style.css", serveAsset("text/css; charset=utf-8", styleCSS))
	mux.HandleFunc("GET /", report)
	errorLog := opts.errorLog
	if errorLog == nil {
		errorLog = log.New(io.Discard, "", 0)
	}
	return &http.Server{
		Handler:           securityHeaders(mux),
		ConnContext:       mptcp.ConnContext,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		// Requests have no body worth reading: bound what a client may send.
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		h.ServeHTTP(w, r)
	})
}

// answer is the JSON form of a report.
type answer struct {
	Connection connReport `json:"connection"`
}

func report(w http.ResponseWriter, r *http.Request) {
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
		if err := page.Execute(w, pageData{Path: r.URL.Path, Report: rep}); err != nil {
			log.Printf("mptcpcheck: page: %v", err)
		}
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rep.writeText(w)
	}
}

// download sends ?size=N bytes (at most 1 GiB), extending the write
// deadline for each chunk so that slow paths finish and stalled clients
// do not hold the server.
func download(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil || size < 0 || size > maxDownload {
		http.Error(w, fmt.Sprintf("size must be a number of bytes from 0 to %d", maxDownload), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	rc := http.NewResponseController(w)
	chunk := make([]byte, downloadChunk)
	for size > 0 {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		n := min(size, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		size -= n
	}
}

type pageData struct {
	Path   string
	Report connReport
}

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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mptcpcheck serve [-addr ADDR] [-cert FILE -key FILE]\n\n"+
			"Answers every request with whether the client's connection uses MPTCP and the\n"+
			"subflows the server sees: plain text (curl), JSON (Accept: application/json or\n"+
			"?format=json) or an HTML page for browsers that refreshes its own connection's\n"+
			"subflows. /download?size=N sends N bytes.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mptcpcheck serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if (*cert == "") != (*key == "") {
		fmt.Fprintln(stderr, "mptcpcheck serve: -cert and -key go together")
		return exitUsage
	}
	ln, err := mptcp.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "mptcpcheck serve: cannot listen on %s: %v\n", *addr, err)
		return exitFail
	}
	return serveOn(ctx, ln, *cert, *key, stdout, stderr)
}

// serveOn serves on ln until ctx ends.
func serveOn(ctx context.Context, ln net.Listener, cert, key string, stdout, stderr io.Writer) int {
	srv := newServer(serveOptions{errorLog: log.New(stderr, "mptcpcheck serve: ", 0)})
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "serving on %s://%s\n", scheme, ln.Addr())
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- srv.ServeTLS(ln, cert, key)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
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
