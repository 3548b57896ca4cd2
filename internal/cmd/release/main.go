// Command release builds the module's commands for a release: static
// (CGO_ENABLED=0, -trimpath) binaries of mptcpcheck and mptcp_exporter
// for linux/amd64 and linux/arm64, with their version information, and
// a SHA256SUMS file that "sha256sum -c SHA256SUMS" checks.
//
// From the module root, with Go and git:
//
//	go run ./internal/cmd/release [-version v0.1.0] [-targets linux/amd64,linux/arm64] [-o dist]
//
// The files are dist/NAME-VERSION-OS-ARCH, for example
// dist/mptcp_exporter-v0.1.0-linux-arm64, and dist/SHA256SUMS. The
// version defaults to "git describe --tags --always --dirty". The
// exporter gets, with -ldflags -X, the variables of
// github.com/prometheus/common/version: Version, Revision (git rev-parse
// HEAD, with -modified when the checkout has changes), Branch, BuildUser
// (USER@hostname) and BuildDate; mptcpcheck gets its version, revision
// and build date. The build date is now, or SOURCE_DATE_EPOCH (seconds
// since 1970) when set, as reproducible builds expect. Nothing is
// uploaded or tagged.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// commands are the module's commands a release ships, by directory.
var commands = []string{"mptcpcheck", "mptcp_exporter"}

// defaultTargets are the platforms a release ships: the commands read
// Linux's MPTCP state, and these are the machines that run them.
const defaultTargets = "linux/amd64,linux/arm64"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command, with its arguments and output streams: 0 when
// every binary and the checksum file are written, 1 when a build fails,
// 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b build
	fs.StringVar(&b.version, "version", "", "the release's version (default: git describe --tags --always --dirty)")
	targets := fs.String("targets", defaultTargets, "comma-separated GOOS/GOARCH pairs to build")
	fs.StringVar(&b.dir, "o", "dist", "directory to write the binaries and SHA256SUMS to")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "release: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	if b.targets, err = parseTargets(*targets); err != nil {
		fmt.Fprintf(stderr, "release: -targets: %v\n", err)
		return 2
	}
	if err := b.describe(ctx); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 2
	}
	files, err := b.buildAll(ctx, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	if err := writeSums(b.dir, files); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d binaries and SHA256SUMS to %s\n", len(files), b.dir)
	return 0
}

// build is one release: what it is and where it goes.
type build struct {
	version, revision, branch, user, date string
	targets                               [][2]string // GOOS, GOARCH
	dir                                   string
	root                                  string // the module's root directory
}

// target is a platform as GOOS/GOARCH.
var target = regexp.MustCompile(`^([a-z0-9]+)/([a-z0-9]+)$`)

// parseTargets parses a comma-separated list of GOOS/GOARCH pairs.
func parseTargets(list string) ([][2]string, error) {
	var out [][2]string
	for _, t := range strings.Split(list, ",") {
		m := target.FindStringSubmatch(strings.TrimSpace(t))
		if m == nil {
			return nil, fmt.Errorf("%q is not GOOS/GOARCH", t)
		}
		out = append(out, [2]string{m[1], m[2]})
	}
	return out, nil
}

// safeValue is what a value passed with -ldflags -X may hold, as the
// linker's flags are split on spaces and quotes; safeVersion what the
// version may, as the files' names hold it.
var (
	safeValue   = regexp.MustCompile(`^[A-Za-z0-9._+@:/-]+$`)
	safeVersion = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)
)

// describe fills in the version information from git, the environment
// and the clock, and finds the module's root.
func (b *build) describe(ctx context.Context) error {
	gomod, err := output(ctx, "", "go", "env", "GOMOD")
	if err != nil {
		return err
	}
	if gomod == "" || gomod == os.DevNull {
		return errors.New("run it inside the module github.com/multipath-go/mptcp")
	}
	b.root = filepath.Dir(gomod)
	git := func(args ...string) string {
		out, err := output(ctx, b.root, "git", args...)
		if err != nil {
			return ""
		}
		return out
	}
	if b.version == "" {
		b.version = git("describe", "--tags", "--always", "--dirty")
	}
	b.revision = git("rev-parse", "HEAD")
	if b.revision != "" && git("status", "--porcelain") != "" {
		// The form package version's own revision takes, from Go's
		// vcs.modified.
		b.revision += "-modified"
	}
	b.branch = git("rev-parse", "--abbrev-ref", "HEAD")
	// USER@hostname, as Prometheus's own release tool (promu) has it.
	name := os.Getenv("USER")
	if u, err := user.Current(); name == "" && err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	b.user = name + "@" + host
	when := time.Now()
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		secs, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: %v", epoch, err)
		}
		when = time.Unix(secs, 0)
	}
	b.date = when.UTC().Format(time.RFC3339)
	if b.version == "" {
		return errors.New("no -version, and git describe gave none")
	}
	if !safeVersion.MatchString(b.version) {
		return fmt.Errorf("version %q: only letters, digits and ._+- allowed", b.version)
	}
	for name, v := range map[string]*string{"revision": &b.revision, "branch": &b.branch, "build user": &b.user} {
		if *v == "" || strings.HasPrefix(*v, "@") || strings.HasSuffix(*v, "@") {
			*v = "unknown"
		}
		if !safeValue.MatchString(*v) {
			return fmt.Errorf("%s %q: only letters, digits and ._+@:/- allowed", name, *v)
		}
	}
	return nil
}

// ldflags returns the linker flags that give the command its version
// information.
func (b *build) ldflags(command string) string {
	var x []string
	switch command {
	case "mptcp_exporter":
		const v = "github.com/prometheus/common/version."
		x = []string{v + "Version=" + b.version, v + "Revision=" + b.revision, v + "Branch=" + b.branch,
			v + "BuildUser=" + b.user, v + "BuildDate=" + b.date}
	case "mptcpcheck":
		x = []string{"main.releaseVersion=" + b.version, "main.releaseRevision=" + b.revision, "main.releaseDate=" + b.date}
	}
	// -s -w leave out the symbol table and DWARF: a third of the size.
	// The build information that the commands read stays.
	flags := "-s -w"
	for _, kv := range x {
		flags += " -X " + kv
	}
	return flags
}

// buildAll builds every command for every target and returns the files
// written, relative to b.dir.
func (b *build) buildAll(ctx context.Context, stdout io.Writer) ([]string, error) {
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(b.dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, t := range b.targets {
		for _, c := range commands {
			name := fmt.Sprintf("%s-%s-%s-%s", c, b.version, t[0], t[1])
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=auto",
				"-ldflags", b.ldflags(c), "-o", filepath.Join(dir, name), "./cmd/"+c)
			cmd.Dir = b.root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t[0], "GOARCH="+t[1])
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("%s for %s/%s: %v\n%s", c, t[0], t[1], err, out)
			}
			fmt.Fprintln(stdout, name)
			files = append(files, name)
		}
	}
	return files, nil
}

// writeSums writes dir/SHA256SUMS for files, in the format of sha256sum:
// the hexadecimal digest, two spaces, the name.
func writeSums(dir string, files []string) error {
	var sums bytes.Buffer
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums.Bytes(), 0o644)
}

// output runs a command in dir and returns its standard output, trimmed.
func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var errs bytes.Buffer
	cmd.Stderr = &errs
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errs.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
