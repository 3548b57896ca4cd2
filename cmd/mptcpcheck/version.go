package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// releaseVersion, releaseRevision and releaseDate are set by the
// release build (internal/cmd/release) with -ldflags
// "-X main.releaseVersion=v0.1.0 -X main.releaseDate=2026-12-07T18:00:00Z ...".
// The build information has the module version and the VCS revision,
// but no build time, and no revision or tag-derived version where Go
// stamps no VCS information (a git worktree, -buildvcs=false): the
// release's revision stands in for it there, as it does in
// mptcp_exporter, so that both commands of a release say the same.
var (
	releaseVersion  string
	releaseRevision string
	releaseDate     string
)

// versionCmd prints what this binary knows of its build.
func versionCmd(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprint(stdout, "Usage: mptcpcheck version\n\nPrint the version, VCS revision, build time and Go version of this binary.\n")
		return exitOK
	case len(args) > 0:
		fmt.Fprintf(stderr, "mptcpcheck version: takes no arguments, got %q\n", args)
		return exitUsage
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fmt.Fprint(stdout, versionText(bi, releaseVersion, releaseRevision, releaseDate))
	return exitOK
}

// versionText is the report of versionCmd for the build information bi
// (nil when the binary has none) and the version, revision and date the
// release build set ("" when it did not). Go leaves out what it does not know, as under
// go run, in test binaries and with -buildvcs=false: each line says so
// rather than printing an empty value.
func versionText(bi *debug.BuildInfo, release, releaseRev, date string) string {
	module, revision, commitTime := "unknown", "unknown (no VCS information in this build)", "unknown"
	goVersion := runtime.Version()
	if bi != nil {
		if bi.Main.Path != "" {
			module = bi.Main.Path + " " + bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			revision = rev
			if settings["vcs.modified"] == "true" {
				revision += " (modified)"
			}
		}
		if t := settings["vcs.time"]; t != "" {
			commitTime = t
		}
	}
	if revision == "unknown (no VCS information in this build)" && releaseRev != "" {
		revision = releaseRev
	}
	version := release
	if version == "" {
		version = "(devel)"
		if bi != nil && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	if date == "" {
		date = "unknown (set by the release build)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mptcpcheck %s\n", version)
	fmt.Fprintf(&b, "  module:      %s\n", module)
	fmt.Fprintf(&b, "  revision:    %s\n", revision)
	fmt.Fprintf(&b, "  commit time: %s\n", commitTime)
	fmt.Fprintf(&b, "  build time:  %s\n", date)
	fmt.Fprintf(&b, "  go version:  %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
