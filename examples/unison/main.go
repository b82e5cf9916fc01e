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

func main() {
	peer := flag.String("peer", "10.2.0.2", "the other server")
	dir := flag.String("dir", "/site/web", "the directory kept in step (same path on both)")
	key := flag.String("key", "/root/.ssh/id_ed25519", "ssh private key")
	known := flag.String("known-hosts", "/root/.ssh/known_hosts", "file pinning the peer's host key")
	prefer := flag.String("prefer", "", "settle conflicts: newer, older, root1 (here) or root2 (peer); empty reports them")
	every := flag.Duration("every", 5*time.Minute, "period (0: run once, for cron)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	u, err := syncer.NewUnison(syncer.UnisonConfig{
		Root1:    *dir,
		Root2:    *dir,
		SSH:      &syncer.SSH{User: "root", Host: *peer, IdentityFile: *key, KnownHostsFile: *known},
		Prefer:   *prefer,
		StateDir: "/var/lib/understudy/unison-web",
		LockFile: "/run/lock/unison-web.lock",
		Logger:   log,
	})
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	report := func(ev syncer.Event) {
		for _, c := range ev.Report.Conflicts {
			log.Warn("conflict left alone", "path", c)
		}
	}
	if *every == 0 {
		rep, err := u.Sync(ctx)
		report(syncer.Event{Report: rep})
		if err != nil {
			log.Error("unison", "err", err)
			os.Exit(1)
		}
		return
	}
	err = syncer.Schedule{Name: "web", Every: *every, Jitter: *every / 10, Logger: log, OnEvent: report}.Run(ctx, u)
	if !errors.Is(err, context.Canceled) {
		log.Error("schedule", "err", err)
		os.Exit(1)
	}
}
