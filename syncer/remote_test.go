package syncer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/syncer"
)

func TestQuoteRemote(t *testing.T) {
	assert.Equal(t, `'rm' '-f' '--' 'it'\''s $(x) `+"`y`"+`'`, syncer.QuoteRemote([]string{"rm", "-f", "--", "it's $(x) `y`"}))
	assert.Equal(t, `''`, syncer.QuoteRemote([]string{""}))
}

func TestRemoteStepRealSSH(t *testing.T) {
	srv := sshdtest.Start(t)
	dir := t.TempDir()
	weird := filepath.Join(dir, "mail 'x' \"y\" $(touch pwned) ;\n-z")
	require.NoError(t, os.WriteFile(weird, []byte("m"), 0o600))
	keep := filepath.Join(dir, "keep")
	require.NoError(t, os.WriteFile(keep, []byte("k"), 0o600))

	t.Run("runs after a successful sync, argv intact", func(t *testing.T) {
		f := &fakeSyncer{}
		s := syncer.Then(f, syncer.RemoteCommand{SSH: srv.SSH(), Argv: []string{"rm", "-f", "--", weird}})
		_, err := s.Sync(t.Context())
		require.NoError(t, err)
		assert.NoFileExists(t, weird)
		assert.FileExists(t, keep)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Len(t, entries, 1, "nothing else created (no pwned file)")
	})
	t.Run("not run after a failed sync", func(t *testing.T) {
		boom := errors.New("sync failed")
		s := syncer.Then(&fakeSyncer{errs: []error{boom}}, syncer.RemoteCommand{SSH: srv.SSH(), Argv: []string{"rm", "-f", "--", keep}})
		_, err := s.Sync(t.Context())
		require.ErrorIs(t, err, boom)
		assert.NotErrorIs(t, err, syncer.ErrStep)
		assert.FileExists(t, keep)
	})
	t.Run("failing step", func(t *testing.T) {
		s := syncer.Then(&fakeSyncer{}, syncer.RemoteCommand{SSH: srv.SSH(), Argv: []string{"false"}})
		_, err := s.Sync(t.Context())
		require.ErrorIs(t, err, syncer.ErrStep)
		var ee *syncer.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, "ssh", ee.Tool)
		assert.Equal(t, 1, ee.Code)
		assert.NotErrorIs(t, err, syncer.ErrSSH)
	})
	t.Run("host key mismatch", func(t *testing.T) {
		foreign, err := srv.ForeignKnownHosts(t.TempDir())
		require.NoError(t, err)
		peer := srv.SSH()
		peer.KnownHostsFile = foreign
		err = syncer.RemoteCommand{SSH: peer, Argv: []string{"rm", "-f", "--", keep}}.Run(t.Context())
		require.ErrorIs(t, err, syncer.ErrHostKey)
		assert.FileExists(t, keep)
	})
}

func TestRemoteStepArgv(t *testing.T) {
	rec := &cmdrun.Recorder{}
	err := syncer.RemoteCommand{Runner: rec, SSH: syncer.SSH{User: "root", Host: "cybelle", Program: "ssh"},
		Argv: []string{"find", "/var/mail", "-name", "*cybelle*", "-delete"}}.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "--", "root@cybelle",
		`'find' '/var/mail' '-name' '*cybelle*' '-delete'`}}, rec.Argvs())
}
