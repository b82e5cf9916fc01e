// Command unison is the habr article's two-way file sync ("Failover
// architecture of two web servers", /site/web on 10.1.0.1 and 10.2.0.2,
// unison every 5 minutes behind a touch/rm lock file) rebuilt with
// Understudy's syncer. See README.md for the mapping.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/syncer"
)

// setup is web.prf and the cron line.
type setup struct {
	Dir     string // root = /site/web
	Peer    syncer.SSH
	PeerDir string // root = ssh://root@10.2.0.2//site/web
	// Prefer settles conflicts: newer, older, root1 (here) or root2
	// (peer); empty reports them.
	Prefer string
	// StateDir holds the archives (the article's /root/.unison);
	// PeerStateDir is the peer's ("" : its ~/.unison).
	StateDir, PeerStateDir string
	LockFile               string        // /var/lock/sync.lock, as an flock
	Every                  time.Duration // */5 (0: run once, for cron)
}

// articleSetup is the article's values: /site/web on both servers, the
// peer 10.2.0.2, every 5 minutes.
func articleSetup() setup {
	return setup{
		Dir:      "/site/web",
		Peer:     syncer.SSH{User: "root", Host: "10.2.0.2", IdentityFile: "/root/.ssh/id_ed25519", KnownHostsFile: "/root/.ssh/known_hosts"},
		PeerDir:  "/site/web",
		StateDir: "/var/lib/understudy/unison-web",
		LockFile: "/run/lock/unison-web.lock",
		Every:    5 * time.Minute,
	}
}

func main() {
	s := articleSetup()
	flag.StringVar(&s.Peer.Host, "peer", s.Peer.Host, "the other server")
	dir := flag.String("dir", s.Dir, "the directory kept in step (same path on both)")
	flag.StringVar(&s.Peer.IdentityFile, "key", s.Peer.IdentityFile, "ssh private key")
	flag.StringVar(&s.Peer.KnownHostsFile, "known-hosts", s.Peer.KnownHostsFile, "file pinning the peer's host key")
	flag.StringVar(&s.Prefer, "prefer", s.Prefer, "settle conflicts: newer, older, root1 (here) or root2 (peer); empty reports them")
	flag.DurationVar(&s.Every, "every", s.Every, "period (0: run once, for cron)")
	flag.Parse()
	s.Dir, s.PeerDir = *dir, *dir
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	u, err := newUnison(s, log)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	if s.Every == 0 {
		if err := once(ctx, u, log); err != nil {
			log.Error("unison", "err", err)
			os.Exit(1)
		}
		return
	}
	err = syncer.Schedule{Name: "web", Every: s.Every, Jitter: s.Every / 10, Logger: log,
		OnEvent: func(ev syncer.Event) { reportConflicts(log, ev.Report) }}.Run(ctx, u)
	if !errors.Is(err, context.Canceled) {
		log.Error("schedule", "err", err)
		os.Exit(1)
	}
}

// newUnison is web.prf: batch, times, the two roots, and the lock file of
// the article's wrapper script.
func newUnison(s setup, log *slog.Logger) (*syncer.Unison, error) {
	return syncer.NewUnison(syncer.UnisonConfig{
		Root1:          s.Dir,
		Root2:          s.PeerDir,
		SSH:            &s.Peer,
		Prefer:         s.Prefer,
		StateDir:       s.StateDir,
		RemoteStateDir: s.PeerStateDir,
		LockFile:       s.LockFile,
		Logger:         log,
	})
}

// once is one cron run: unison, then one line per conflict left alone.
func once(ctx context.Context, u *syncer.Unison, log *slog.Logger) error {
	rep, err := u.Sync(ctx)
	reportConflicts(log, rep)
	return err
}

// reportConflicts logs each path changed on both sides, which unison's
// batch mode skips without a word.
func reportConflicts(log *slog.Logger, rep syncer.Report) {
	for _, c := range rep.Conflicts {
		log.Warn("conflict left alone", "path", c)
	}
}
