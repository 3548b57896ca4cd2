package platform

import (
	"errors"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestErrNotLinux(t *testing.T) {
	if !errors.Is(ErrNotLinux, errors.ErrUnsupported) {
		t.Error("ErrNotLinux does not match errors.ErrUnsupported")
	}
	if want := "not supported on " + runtime.GOOS + ": MPTCP needs Linux"; ErrNotLinux.Error() != want {
		t.Errorf("ErrNotLinux = %q, want %q", ErrNotLinux, want)
	}
}

// The files of the module built only off Linux say "not supported here"
// with ErrNotLinux alone: none makes an error of its own that matches
// errors.ErrUnsupported. Checked on the files as darwin and windows
// build them, whatever system runs the test.
func TestOneErrorOffLinux(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, goos := range []string{"darwin", "windows"} {
		ctx := build.Default
		ctx.GOOS = goos
		linux := build.Default
		linux.GOOS = "linux"
		err := filepath.WalkDir(root, func(dir string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if name := d.Name(); dir != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			pkg, err := ctx.ImportDir(dir, 0)
			if err != nil {
				return nil // no Go files for this system
			}
			onLinux, _ := linux.ImportDir(dir, 0)
			for _, f := range pkg.GoFiles {
				if onLinux != nil && slices.Contains(onLinux.GoFiles, f) || dir == filepath.Join(root, "internal", "platform") {
					continue
				}
				checked++
				path := filepath.Join(dir, f)
				file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
				if err != nil {
					return err
				}
				rel := strings.TrimPrefix(path, root+"/")
				returnsErrors, usesErr := false, false
				ast.Inspect(file, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.SelectorExpr:
						switch n.Sel.Name {
						case "ErrUnsupported":
							t.Errorf("%s (%s): its own errors.ErrUnsupported; return platform.ErrNotLinux", rel, goos)
						case "ErrNotLinux":
							usesErr = true
						}
					case *ast.FuncType:
						for _, r := range fieldList(n.Results) {
							if id, ok := r.Type.(*ast.Ident); ok && id.Name == "error" {
								returnsErrors = true
							}
						}
					}
					return true
				})
				if returnsErrors && !usesErr {
					t.Errorf("%s (%s): returns errors off Linux, none of them platform.ErrNotLinux", rel, goos)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no file built only off Linux was found")
	}
}

func fieldList(l *ast.FieldList) []*ast.Field {
	if l == nil {
		return nil
	}
	return l.List
}
