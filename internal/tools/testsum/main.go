// Command testsum reads `go test -json` on standard input and prints one
// verdict line per test, the output of every failed test, and a closing
// line "N passed, N failed, N skipped". It exits non-zero when a test or a
// package failed, when nothing ran, and, in CI (CI=true), when a test
// skipped: CI installs every component, so a skip there hides a broken
// install step.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type key struct{ pkg, test string }

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Getenv("CI") == "true"))
}

func run(in io.Reader, out io.Writer, ci bool) int {
	outputs := map[key]*strings.Builder{}
	var passed, failed, skipped int
	var failedNames, skippedNames, failedPkgs []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Fprintln(out, string(line)) // build errors arrive as plain text
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "output":
			b := outputs[k]
			if b == nil {
				b = &strings.Builder{}
				outputs[k] = b
			}
			if b.Len() < 256<<10 {
				b.WriteString(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					failedPkgs = append(failedPkgs, e.Package)
					if b := outputs[k]; b != nil {
						fmt.Fprint(out, b.String())
					}
				}
				delete(outputs, k)
				continue
			}
			name := e.Package + " " + e.Test
			fmt.Fprintf(out, "%s %s (%.2fs)\n", strings.ToUpper(e.Action), name, e.Elapsed)
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				failedNames = append(failedNames, name)
				if b := outputs[k]; b != nil {
					fmt.Fprint(out, indent(b.String()))
				}
			case "skip":
				skipped++
				skippedNames = append(skippedNames, name)
				if b := outputs[k]; b != nil {
					fmt.Fprint(out, indent(b.String()))
				}
			}
			delete(outputs, k)
		}
	}
	sort.Strings(failedNames)
	for _, n := range failedNames {
		fmt.Fprintln(out, "failed:", n)
	}
	for _, p := range failedPkgs {
		fmt.Fprintln(out, "package failed:", p)
	}
	if ci {
		for _, n := range skippedNames {
			fmt.Fprintln(out, "skipped in CI:", n)
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case failed > 0 || len(failedPkgs) > 0:
		return 1
	case passed == 0:
		fmt.Fprintln(out, "no test ran")
		return 1
	case ci && skipped > 0:
		return 1
	}
	return 0
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
