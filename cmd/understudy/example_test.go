package main

import (
	"context"
	"fmt"
	"os"
)

// The validate command prints ok for a configuration that loads and
// builds.
func Example_validate() {
	run(context.Background(), []string{"-c", "testdata/good.yaml", "validate"}, os.Stdout, os.Stdout)
	// Output:
	// ok
}

// Every problem is printed with its file:line:col and field path, and
// the exit code is 2.
func Example_validateErrors() {
	code := run(context.Background(), []string{"-c", "testdata/bad.yaml", "validate"}, os.Stdout, os.Stdout)
	fmt.Println("exit code", code)
	// Output:
	// testdata/bad.yaml:2:16: check_timeout: check_timeout (10s) must be shorter than interval (10s)
	// testdata/bad.yaml:7:59: nodes[0].checks[0]: unknown field "timout" (did you mean "timeout"?)
	// testdata/bad.yaml:8:1: unknown field "notfiy" (did you mean "notify"?)
	// exit code 2
}
