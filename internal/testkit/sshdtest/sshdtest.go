// Package sshdtest starts a real OpenSSH server (internal/servers/sshd)
// for a test: in t.TempDir(), stopped with every session it forked when
// the test ends.
package sshdtest

import (
	"testing"

	"github.com/understudy-ha/understudy/internal/servers/sshd"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// Server is a running sshd.
type Server = sshd.Server

// Start starts sshd in t.TempDir() and stops it (and every session it
// forked) when the test ends. It skips the test (fails in CI) when sshd,
// ssh or ssh-keygen is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	testenv.Require(t, "sshd", "openssh-server")
	testenv.Require(t, "ssh", "openssh-client")
	testenv.Require(t, "ssh-keygen", "openssh-client")
	s, err := sshd.Launch(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd log (%s):\n%s", s.Addr, s.Log())
		}
	})
	return s
}
