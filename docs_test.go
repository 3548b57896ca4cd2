package mptcp

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// readmeMaxLines is the README's budget: it starts a newcomer, and the
// reference lives in docs/.
const readmeMaxLines = 300

// The README stays short enough to start a newcomer; the reference goes
// to docs/.
func TestReadmeIsShort(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n >= readmeMaxLines {
		t.Errorf("README.md has %d lines, want fewer than %d: move reference material to docs/", n, readmeMaxLines)
	}
}

// Every relative link of the Markdown pages names a file that exists
// and, with a #fragment, a heading of that file.
func TestDocLinksResolve(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "README.md", "CHANGELOG.md", "BENCHMARKS.md")
	if len(pages) < 6 {
		t.Fatalf("found only the pages %v", pages)
	}
	anchors := map[string]map[string]bool{} // by cleaned path
	anchorsOf := func(path string) (map[string]bool, error) {
		if a, ok := anchors[path]; ok {
			return a, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		anchors[path] = headingAnchors(string(b))
		return anchors[path], nil
	}
	links := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range relativeLinks(string(b)) {
			links++
			file, fragment, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
			}
			target = filepath.Clean(target)
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: %v", page, link, err)
				continue
			}
			if fragment == "" {
				continue
			}
			if filepath.Ext(target) != ".md" {
				t.Errorf("%s: link %q: a fragment of a file that is not Markdown", page, link)
				continue
			}
			a, err := anchorsOf(target)
			if err != nil {
				t.Fatal(err)
			}
			if !a[fragment] {
				t.Errorf("%s: link %q: %s has no heading with the anchor %q", page, link, target, fragment)
			}
		}
	}
	if links < 20 {
		t.Errorf("found only %d relative links in %v", links, pages)
	}
}

// The README's test command is the one CI runs: .ci/run runs it, adding
// only environment variables and a longer -timeout.
func TestReadmeTestCommandIsCIs(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	_, tests, ok := strings.Cut(string(readme), "\n## Tests\n")
	if !ok {
		t.Fatal("README.md has no section Tests")
	}
	tests, _, _ = strings.Cut(tests, "\n## ")
	var command string
	for _, line := range strings.Split(tests, "\n") {
		if strings.HasPrefix(line, "go test ") {
			command = line
			break
		}
	}
	if command == "" {
		t.Fatalf("README.md's section Tests has no go test command:\n%s", tests)
	}
	for _, line := range strings.Split(string(ci), "\n") {
		if ciCommand(line) == command {
			return
		}
	}
	t.Errorf(".ci/run does not run the README's test command %q (environment variables and -timeout aside)", command)
}

// ciCommand returns the command a line of .ci/run runs, without leading
// environment assignments and without -timeout and its value.
func ciCommand(line string) string {
	fields := strings.Fields(line)
	for len(fields) > 0 && strings.Contains(fields[0], "=") && !strings.HasPrefix(fields[0], "-") {
		fields = fields[1:]
	}
	var out []string
	for i := 0; i < len(fields); i++ {
		if fields[i] == "-timeout" {
			i++
			continue
		}
		out = append(out, fields[i])
	}
	return strings.Join(out, " ")
}

var (
	fencedBlock = regexp.MustCompile("(?ms)^```.*?^```")
	codeSpan    = regexp.MustCompile("`[^`\n]*`")
	mdLink      = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading   = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
)

// relativeLinks returns the targets of the Markdown links of text that
// point into the repository: no scheme, outside code.
func relativeLinks(text string) []string {
	text = fencedBlock.ReplaceAllString(text, "")
	text = codeSpan.ReplaceAllString(text, "code")
	var links []string
	for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
		if strings.Contains(m[1], "://") || strings.HasPrefix(m[1], "mailto:") {
			continue
		}
		links = append(links, m[1])
	}
	return links
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown text: lower case, punctuation dropped, spaces as hyphens, and
// -1, -2... after a repeated one.
func headingAnchors(text string) map[string]bool {
	text = fencedBlock.ReplaceAllString(text, "")
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, m := range mdHeading.FindAllStringSubmatch(text, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(strings.ReplaceAll(m[1], "`", "")) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			seen[a]++
			a += "-" + strconv.Itoa(n)
		} else {
			seen[a] = 1
		}
		anchors[a] = true
	}
	return anchors
}
