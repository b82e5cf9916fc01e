package sshd_test

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/servers/sshd"
	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

func TestStart(t *testing.T) {
	srv := sshdtest.Start(t)
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

	// The refused connection's sshd child exits shortly after the
	// client: wait for it rather than race it.
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pids, err := srv.Sessions()
		require.NoError(t, err)
		if len(pids) == 0 {
			break
		}
		require.False(t, time.Now().After(deadline), "sessions still open: %v", pids)
		<-tick.C
	}
	n, err := srv.DropSessions()
	require.NoError(t, err)
	assert.Zero(t, n, "no session is open")
}

// A ShellRC is read by the login shell of every session (bash), from a
// HOME under the server's directory.
func TestLaunchWithShellRC(t *testing.T) {
	testenv.Require(t, "sshd", "openssh-server")
	me, err := user.Current()
	require.NoError(t, err)
	passwd, err := os.ReadFile("/etc/passwd")
	require.NoError(t, err)
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(me.Username) + `:.*/bash$`).Match(passwd) {
		t.Skipf("the login shell of %s is not bash", me.Username)
	}
	dir := t.TempDir()
	srv, err := sshd.LaunchWith(t.Context(), dir, sshd.Options{ShellRC: "export UNDERSTUDY_RC=read\n"})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	argv := srv.SSH().Command("sh", "-c", `echo "$UNDERSTUDY_RC $HOME"`)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "read "+filepath.Join(dir, "home")+"\n", string(out))
}
