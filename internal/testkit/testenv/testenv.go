// Package testenv lets integration tests ask for the real components they
// need (named, mariadbd, rsync, sshd, keepalived…).
//
// On a laptop a missing component skips the test with a message naming
// the Debian package to install. In CI (CI=true) a missing component fails
// the test: CI installs everything, so a skip there would hide a broken
// install step.
package testenv

import (
	"os"
	"testing"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// InCI reports whether the tests run in CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// LookPath finds a program in $PATH or the sbin directories
// (cmdrun.LookPath).
func LookPath(name string) (string, error) { return cmdrun.LookPath(name) }

// Require returns the path of program, which Debian ships in package pkg.
// If it is missing the test is skipped, or failed in CI.
func Require(t testing.TB, program, pkg string) string {
	t.Helper()
	p, err := LookPath(program)
	if err != nil {
		Missing(t, program+" (Debian package "+pkg+")")
	}
	return p
}

// RequireRoot skips (or fails in CI) a test that needs root, for
// instance to create network namespaces.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root privileges (CAP_NET_ADMIN)")
	}
}

// Missing skips the test, or fails it in CI, because what is missing.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and %s is missing: install it", what)
	}
	t.Skipf("needs %s; install it to run this test", what)
}

// Eventually polls cond every few milliseconds until it holds, and fails
// the test (naming what it waited for) if it does not within the given
// time. Tests use it to wait for an outcome of real processes (a record
// that named answers, a file that arrives on a replica) instead of
// sleeping for a guessed time.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		<-tick.C
	}
}
