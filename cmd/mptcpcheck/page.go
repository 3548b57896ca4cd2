package main

import (
	_ "embed"
	"fmt"
	"io"
	"net/http"
)

// The page's stylesheet, served as /style.css: the Content-Security-Policy
// allows no inline style.
//
//go:embed style.css
var styleCSS string

// contentSecurityPolicy allows the page its own script, stylesheet and
// JSON, and nothing inline or from elsewhere.
const contentSecurityPolicy = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveAsset answers with a fixed text of the given type.
func serveAsset(ctype, text string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, text)
	}
}

// Verdict is the page's headline; app.js words it the same way.
func (r connReport) Verdict() string {
	switch n := len(r.Subflows); {
	case !r.MPTCP:
		return "Your connection is not MPTCP: it uses plain TCP."
	case n == 0:
		return "Your connection uses MPTCP."
	case n == 1:
		return "Your connection uses MPTCP with 1 subflow."
	default:
		return fmt.Sprintf("Your connection uses MPTCP with %d subflows.", n)
	}
}

// RTT, Sent, Acked and Received give the page's columns with their
// units; the RTT as a time.Duration prints it, as in the text output
// (app.js formats it the same way).
func (s subflowReport) RTT() string {
	return s.subflow().TCP.RTT.String()
}
func (s subflowReport) Sent() string     { return humanBytes(s.BytesSent) }
func (s subflowReport) Acked() string    { return humanBytes(s.BytesAcked) }
func (s subflowReport) Received() string { return humanBytes(s.BytesReceived) }
