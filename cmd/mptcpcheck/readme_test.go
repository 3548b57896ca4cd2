package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestReadmeListsEveryJSONKey checks that every JSON key of mptcpcheck's
// outputs, the json tags of the structs in this package's code, appears
// in a table of the README's section on mptcpcheck: a key added to the
// code without documentation fails here.
func TestReadmeListsEveryJSONKey(t *testing.T) {
	keys := jsonTags(t, ".")
	if len(keys) < 40 {
		t.Fatalf("found only %d json tags in the package: %v", len(keys), keys)
	}
	documented := readmeTableKeys(t, filepath.Join("..", "..", "README.md"), "## See it work")
	var missing []string
	for k, where := range keys {
		if !documented[k] {
			missing = append(missing, k+" ("+where+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("JSON keys not in a table of the README's section on mptcpcheck:\n%s", strings.Join(missing, "\n"))
	}
}

// jsonTags returns the names in the json tags of the struct fields of
// the package's Go files (tests left out), each with where it is.
func jsonTags(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	keys := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil {
				return true
			}
			tag := reflect.StructTag(strings.Trim(field.Tag.Value, "`"))
			key, _, _ := strings.Cut(tag.Get("json"), ",")
			if key != "" && key != "-" {
				keys[key] = fset.Position(field.Pos()).String()
			}
			return true
		})
	}
	return keys
}

// readmeTableKeys returns the keys named in backquotes in the table rows
// of the README's section that starts with heading, up to the next
// section: `a`, `a.b` (both a and b) and lists of them.
func readmeTableKeys(t *testing.T, path, heading string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("%s has no section %q", path, heading)
	}
	section := text[start+1:]
	if end := strings.Index(section[len(heading):], "\n## "); end >= 0 {
		section = section[:len(heading)+end]
	}
	code := regexp.MustCompile("`([a-z0-9_.]+)`")
	keys := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(line, -1) {
			for _, k := range strings.Split(m[1], ".") {
				keys[k] = true
			}
		}
	}
	return keys
}
