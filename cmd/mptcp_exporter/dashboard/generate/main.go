// Command generate writes the Grafana dashboard of mptcp_exporter,
// ../mptcp.json, from the Go code of this directory (built with the
// Grafana Foundation SDK):
//
//	go generate    # in this directory; or: go run . -o ../mptcp.json
//
// It is a module of its own, so that the SDK stays out of the dependency
// graph of the users of github.com/multipath-go/mptcp. Its test checks
// that the committed ../mptcp.json is what the code generates; the
// exporter's tests (cmd/mptcp_exporter) run every query of that file
// against a Prometheus server scraping a test bed.
package main

//go:generate go run . -o ../mptcp.json

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "", "write the dashboard to this file instead of the standard output")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "generate: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	text, err := generate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "generate: %v\n", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(text)
	} else {
		err = os.WriteFile(*out, text, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "generate: %v\n", err)
		os.Exit(1)
	}
}

// generate returns the dashboard as the committed file holds it:
// indented JSON with a final newline.
func generate() ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Queries hold > and &: keep them readable in the file.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
