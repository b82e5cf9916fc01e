package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/servers/sshd"
	"github.com/understudy-ha/understudy/internal/testkit/sshdtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

// The peer's Maildir: two messages delivered on cybelle (the host name is
// in their names) and Dovecot's index, which is not mail and stays.
var peerMail = map[string]string{
	"new/1700000000.M1P11.cybelle":      "From: a\n\nhello",
	"cur/1699999999.M2P22.cybelle:2,S":  "From: b\n\nseen",
	"dovecot-uidlist":                   "3 V1 N3",
	"new/1700000001.M3P33.other-host":   "From: c\n\nrelayed",
	"cur/1699999998.M4P44.cybelle:2,RS": "From: d\n\nreplied",
}

// TestArticle runs the script once against a real sshd on loopback, with
// the host key pinned, as cron would at 3 a.m.
func TestArticle(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	srv := sshdtest.Start(t)

	t.Run("pull mail, delete it on the peer, push the sites", func(t *testing.T) {
		s := newSetup(t, srv)
		rep, err := run(t, s)
		require.NoError(t, err)
		assert.Equal(t, peerMail, readTree(t, s.Mail.Here), "every mail arrived")
		assert.Equal(t, map[string]string{"dovecot-uidlist": "3 V1 N3", "new/1700000001.M3P33.other-host": "From: c\n\nrelayed"},
			readTree(t, s.Mail.Peer), "the pulled *cybelle* files are deleted on the peer, and only them")
		for _, d := range s.Sites {
			assert.Equal(t, readTree(t, d.Here), readTree(t, d.Peer), "site %s pushed", d.Here)
		}
		assert.Equal(t, len(peerMail)+2, rep.Files)
	})

	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, s *setup)
		want    error
		code    int // rsync's exit code, when want is nil
	}{
		{"peer mail dir missing", func(t *testing.T, s *setup) {
			require.NoError(t, os.RemoveAll(s.Mail.Peer))
		}, syncer.ErrPartial, 0}, // rsync exit 23
		{"local mail dir unwritable", func(t *testing.T, s *setup) {
			blocker := filepath.Dir(s.Mail.Here)
			require.NoError(t, os.MkdirAll(filepath.Dir(blocker), 0o755))
			require.NoError(t, os.WriteFile(blocker, []byte("a file where a directory should be"), 0o644))
		}, nil, 11}, // rsync: error in file I/O
		{"unknown host key", func(t *testing.T, s *setup) {
			foreign, err := srv.ForeignKnownHosts(t.TempDir())
			require.NoError(t, err)
			s.Peer.KnownHostsFile = foreign
		}, syncer.ErrHostKey, 0},
		{"another run holds the lock", func(t *testing.T, s *setup) {
			unlock, err := (&syncer.Lock{Path: s.Lock}).TryLock()
			require.NoError(t, err)
			t.Cleanup(unlock)
		}, syncer.ErrBusy, 0},
	} {
		t.Run("failure leaves the peer alone: "+tc.name, func(t *testing.T) {
			s := newSetup(t, srv)
			tc.breakIt(t, &s)
			before := readTree(t, s.Mail.Peer)
			_, err := run(t, s)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			} else {
				var ee *syncer.ExitError
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, tc.code, ee.Code)
			}
			assert.Equal(t, before, readTree(t, s.Mail.Peer), "the peer's mail was touched")
			for _, d := range s.Sites {
				assert.NoDirExists(t, d.Peer, "a site was pushed after a failed step")
			}
		})
	}
}

// newSetup is the article's setup with both hosts' directories under one
// temporary directory: "here" is this server, "peer" is cybelle behind
// sshd.
func newSetup(t *testing.T, srv *sshd.Server) setup {
	t.Helper()
	base := t.TempDir()
	writeTree(t, filepath.Join(base, "peer", "var", "mail"), peerMail)
	s := articleSetup()
	s.Peer = srv.SSH()
	s.Mail = dirs{Here: filepath.Join(base, "here", "var", "mail"), Peer: filepath.Join(base, "peer", "var", "mail")}
	s.Sites = nil
	for _, name := range []string{"www", "projects"} {
		here := filepath.Join(base, "here", name)
		writeTree(t, here, map[string]string{"index.html": "<h1>" + name + "</h1>"})
		s.Sites = append(s.Sites, dirs{Here: here, Peer: filepath.Join(base, "peer", name)})
	}
	s.Lock = filepath.Join(base, "rsync-cron.lock")
	return s
}

// run is one cron run of the script.
func run(t *testing.T, s setup) (syncer.Report, error) {
	t.Helper()
	job, err := newJob(s, nil)
	require.NoError(t, err)
	return job.Sync(t.Context())
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// readTree maps every regular file under root (relative name) to its
// content; a missing root reads as empty.
func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		out[rel] = string(b)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return out
	}
	require.NoError(t, err)
	return out
}
