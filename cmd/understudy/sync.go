package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/syncer"
)

func init() {
	extraCommands = append(extraCommands, command{
		name:        "sync",
		summary:     "run the configured syncs now, with progress: sync [-dry-run] [NAME]",
		needsConfig: true,
		run:         cmdSync,
	})
}

// cmdSync runs one sync (or all, in file order) once and prints what it
// did. On a terminal rsync's progress is a bar; otherwise a plain line at
// each tenth. lsyncd and watcher entries run as one rsync with the same
// settings.
func cmdSync(e *env, args []string) int {
	fs := newFlags(e, "sync", "[NAME]")
	dryRun := fs.Bool("dry-run", false, "show what rsync would change, change nothing")
	quiet := fs.Bool("q", false, "print nothing unless a sync fails (for cron, which mails what a job prints)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	syncs := e.app.cfg.Syncs
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	if name := fs.Arg(0); name != "" {
		i := -1
		for j, s := range syncs {
			if s.Name == name {
				i = j
			}
		}
		if i < 0 {
			fmt.Fprintf(e.stderr, "understudy: no sync named %q in %s\n", name, e.configPath)
			return exitUsage
		}
		syncs = syncs[i : i+1]
	}
	if len(syncs) == 0 {
		fmt.Fprintf(e.stderr, "understudy: %s has no syncs\n", e.configPath)
		return exitUsage
	}
	code := exitOK
	for _, s := range syncs {
		out := e.stdout
		if *quiet {
			out = io.Discard
		}
		bar := newProgressBar(out, s.Name)
		sy, err := buildSync(s, e.app.log, bar.update, *dryRun)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", s.Pos, err)
			return exitUsage
		}
		if store := syncStore(e.app.cfg); store != nil && !*dryRun {
			// Recorded for the sync checks of a later tick or check.
			sy = syncer.Track(sy, syncer.WithStore(s.Name, store))
		}
		rep, err := sy.Sync(e.ctx)
		bar.done()
		if err != nil {
			fmt.Fprintf(e.stdout, "sync %s FAILED: %v\n", s.Name, err)
			for _, c := range rep.Conflicts {
				fmt.Fprintf(e.stdout, "  conflict: %q\n", c)
			}
			code = exitFailure
			continue
		}
		fmt.Fprintf(out, "sync %s ok: files=%d bytes=%d deleted=%d conflicts=%d duration=%s\n",
			s.Name, rep.Files, rep.Bytes, rep.Deleted, len(rep.Conflicts), rep.Duration.Round(time.Millisecond))
	}
	return code
}

// buildSync turns one configuration entry into a Syncer that runs it
// once (lsyncd entries become the equivalent rsync), followed by its
// remote step.
func buildSync(s config.Sync, log *slog.Logger, progress func(syncer.Progress), dryRun bool) (syncer.Syncer, error) {
	var peer *syncer.SSH
	if s.SSH.Host != "" {
		peer = &syncer.SSH{User: s.SSH.User, Host: s.SSH.Host, Port: s.SSH.Port, IdentityFile: s.SSH.IdentityFile, KnownHostsFile: s.SSH.KnownHostsFile}
	}
	var sy syncer.Syncer
	switch s.Tool {
	case "unison":
		prefer := map[string]string{"local": "root1", "remote": "root2"}[s.Prefer]
		if prefer == "" {
			prefer = s.Prefer
		}
		u, err := syncer.NewUnison(syncer.UnisonConfig{Root1: s.Local, Root2: s.Remote, SSH: peer, Prefer: prefer,
			StateDir: s.StateDir, LockFile: s.LockFile, Logger: log})
		if err != nil {
			return nil, err
		}
		sy = u
	default: // rsync, and lsyncd or watcher entries run by hand
		cfg := syncer.RsyncConfig{Source: s.Local, Dest: s.Remote, SSH: peer, Delete: s.Delete, AllowEmptySource: s.AllowEmptySource, Checksum: s.Checksum,
			Compress: s.Compress, Excludes: s.Excludes, BandwidthLimit: s.BandwidthLimit, DryRun: dryRun,
			LockFile: s.LockFile, OnProgress: progress, Logger: log}
		if s.Direction == "pull" {
			cfg.Source, cfg.Dest, cfg.Pull = s.Remote, s.Local, true
		}
		r, err := syncer.NewRsync(cfg)
		if err != nil {
			return nil, err
		}
		sy = r
	}
	if len(s.After) > 0 && peer != nil && !dryRun {
		sy = syncer.Then(sy, syncer.RemoteCommand{SSH: *peer, Argv: s.After})
	}
	return sy, nil
}

// startSyncs runs every scheduled sync (every > 0) and every lsyncd and
// watcher entry in the background until ctx ends. Each run is recorded next to
// the state file (when there is one) for the checks of type sync, which
// read the record; an lsyncd or watcher entry named by such a check is asked for
// its state at a quarter of the smallest max_age. wait blocks until all
// of them have stopped.
func startSyncs(ctx context.Context, cfg *config.Config, log *slog.Logger) (wait func(), err error) {
	store := syncStore(cfg)
	checked := syncCheckAges(cfg)
	var wg sync.WaitGroup
	var runs []func()
	for _, s := range cfg.Syncs {
		track := func(sy syncer.Syncer) *syncer.Tracker {
			if store == nil {
				return syncer.Track(sy)
			}
			return syncer.Track(sy, syncer.WithStore(s.Name, store))
		}
		switch {
		case s.Tool == "lsyncd":
			dir := s.StateDir
			if dir == "" {
				dir = filepath.Join(os.TempDir(), "understudy-lsyncd-"+s.Name)
			}
			lc := syncer.LsyncdConfig{Source: s.Local, Target: s.Remote, Delay: s.Delay, Delete: s.Delete, Compress: s.Compress,
				Excludes: s.Excludes, Dir: dir, Logger: log}
			if s.SSH.Host != "" {
				lc.SSH = &syncer.SSH{User: s.SSH.User, Host: s.SSH.Host, Port: s.SSH.Port, IdentityFile: s.SSH.IdentityFile, KnownHostsFile: s.SSH.KnownHostsFile}
			}
			l, err := syncer.NewLsyncd(lc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.Pos, err)
			}
			runs = append(runs, func() {
				if err := l.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
					log.Error("lsyncd stopped", "sync", s.Name, "err", err)
				}
			})
			if maxAge := checked[s.Name]; maxAge > 0 { // lsyncd reports through Sync
				tracked := track(l)
				runs = append(runs, func() {
					_ = syncer.Schedule{Name: s.Name, Every: maxAge / 4, Logger: log}.Run(ctx, tracked)
				})
			}
		case s.Tool == "watcher":
			sy, err := buildSync(s, log, nil, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.Pos, err)
			}
			r, ok := sy.(*syncer.Rsync)
			if !ok {
				return nil, fmt.Errorf("%s: the watcher ships its batches with rsync alone", s.Pos)
			}
			w, err := syncer.NewWatcher(syncer.WatcherConfig{Rsync: r, Delay: s.Delay, MaxDelay: s.MaxDelay, FullEvery: s.Every, Logger: log})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.Pos, err)
			}
			runs = append(runs, func() {
				if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
					log.Error("watcher stopped", "sync", s.Name, "err", err)
				}
			})
			if maxAge := checked[s.Name]; maxAge > 0 { // the watcher reports through Sync
				tracked := track(w)
				runs = append(runs, func() {
					_ = syncer.Schedule{Name: s.Name, Every: maxAge / 4, Logger: log}.Run(ctx, tracked)
				})
			}
		case s.Every > 0:
			sy, err := buildSync(s, log, nil, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.Pos, err)
			}
			tracked := track(sy)
			sched := syncer.Schedule{Name: s.Name, Every: s.Every, Jitter: s.Jitter, Logger: log, OnEvent: func(ev syncer.Event) {
				if ev.Kind == syncer.EventDone {
					log.Info("sync done", "sync", ev.Name, "files", ev.Report.Files, "bytes", ev.Report.Bytes, "deleted", ev.Report.Deleted)
				}
			}}
			runs = append(runs, func() { _ = sched.Run(ctx, tracked) })
		}
	}
	for _, r := range runs { // only once every entry has built
		wg.Go(r)
	}
	return wg.Wait, nil
}

// syncCheckAges maps each sync named by a check of type sync to the
// smallest max_age asked of it.
func syncCheckAges(cfg *config.Config) map[string]time.Duration {
	ages := map[string]time.Duration{}
	for _, ch := range cfg.Checks() {
		if c := ch.Sync; c != nil {
			if a, ok := ages[c.Sync]; !ok || c.MaxAge < a {
				ages[c.Sync] = c.MaxAge
			}
		}
	}
	return ages
}

// progressBar shows rsync's --info=progress2 updates: a redrawn bar on a
// terminal, a plain line at each tenth otherwise.
type progressBar struct {
	w        io.Writer
	name     string
	tty      bool
	mu       sync.Mutex
	shown    bool
	lastTens int
}

func newProgressBar(w io.Writer, name string) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, name: name, tty: tty, lastTens: -1}
}

func (b *progressBar) update(p syncer.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty {
		fmt.Fprintf(b.w, "\r%s", renderBar(b.name, p, 30))
		b.shown = true
		return
	}
	if tens := p.Percent / 10; tens > b.lastTens {
		b.lastTens = tens
		fmt.Fprintf(b.w, "sync %s: %3d%% %s %s\n", b.name, p.Percent, humanBytes(p.Bytes), p.Rate)
	}
}

func (b *progressBar) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty && b.shown {
		fmt.Fprintln(b.w)
	}
}

// renderBar draws "NAME [#####-----]  50%  1.2 MiB  3.4MB/s  ETA 0:00:12".
func renderBar(name string, p syncer.Progress, width int) string {
	filled := min(width, p.Percent*width/100)
	eta := p.ETA.Round(time.Second)
	return fmt.Sprintf("%s [%s%s] %3d%% %9s %10s  ETA %d:%02d:%02d", name, strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		p.Percent, humanBytes(p.Bytes), p.Rate, int(eta.Hours()), int(eta.Minutes())%60, int(eta.Seconds())%60)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
