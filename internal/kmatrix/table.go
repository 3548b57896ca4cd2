package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printPackageTable writes how each package's tests ended on each
// kernel: passed/failed/skipped top-level tests, and how long they took.
func printPackageTable(w io.Writer, m *matrix) {
	var rows []*row
	for _, r := range m.Rows {
		if r.Result != nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntests by package, passed/failed/skipped and time:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "package"
	for _, r := range rows {
		head += "\t" + r.Name
	}
	fmt.Fprintln(tw, head)
	for _, dir := range m.Packages {
		pkg := packageName(dir)
		line := pkg
		for _, r := range rows {
			n := map[string]int{}
			for _, t := range r.Result.Tests {
				if testPackage(t.Name) == pkg {
					n[t.Status]++
				}
			}
			line += fmt.Sprintf("\t%d/%d/%d", n["PASS"], n["FAIL"], n["SKIP"])
			for _, p := range r.Result.Packages {
				if p.Name == pkg && p.Elapsed > 0 {
					line += " " + p.Elapsed.String()
				}
			}
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

// testPackage returns the package of a test as parseConsole names it:
// PACKAGE.TestX, or TestX for the root package's.
func testPackage(name string) string {
	if pkg, _, ok := strings.Cut(name, "."); ok {
		return pkg
	}
	return packageName(".")
}

// skipWhy says why the matrix allows a skip for reason on the kernel
// release whose tests run with expect, or that it does not.
func skipWhy(expect, release, reason string) string {
	if rule := skipRuleFor(expect, release, reason); rule != nil {
		return "allowed: " + rule.Why
	}
	return "NOT ALLOWED on this kernel"
}
