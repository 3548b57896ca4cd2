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

// TestDocListsEveryJSONKey checks that every JSON key of mptcpcheck's
// outputs, the json tags of the structs in this package's code, appears
// in a table of the command's page, docs/mptcpcheck.md: a key added to
// the code without documentation fails here.
func TestDocListsEveryJSONKey(t *testing.T) {
	keys := jsonTags(t, ".")
	if len(keys) < 40 {
		t.Fatalf("found only %d json tags in the package: %v", len(keys), keys)
	}
	documented := docTableKeys(t, docPage)
	var missing []string
	for k, where := range keys {
		if !documented[k] {
			missing = append(missing, k+" ("+where+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("JSON keys not in a table of %s:\n%s", docPage, strings.Join(missing, "\n"))
	}
}

// docPage is the command's documentation, from this directory.
var docPage = filepath.Join("..", "..", "docs", "mptcpcheck.md")

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

// docTableKeys returns the keys named in backquotes in the table rows
// of the Markdown file at path: `a`, `a.b` (both a and b) and lists of
// them.
func docTableKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile("`([a-z0-9_.]+)`")
	keys := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
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
