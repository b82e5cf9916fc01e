package sshd_test

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/harness/sshd"
)

func TestStart(t *testing.T) {
	srv := sshd.Start(t)
	argv := srv.SSH().Command("echo", "it's here")
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "it's here\n", string(out))

	foreign, err := srv.ForeignKnownHosts(t.TempDir())
	require.NoError(t, err)
	peer := srv.SSH()
	peer.KnownHostsFile = foreign
	argv = peer.Command("true")
	out, err = exec.Command(argv[0], argv[1:]...).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "REMOTE HOST IDENTIFICATION HAS CHANGED")

	n, err := srv.DropSessions()
	require.NoError(t, err)
	assert.Zero(t, n, "no session is open")
}
