package main

import (
	"fmt"
	"time"

	"github.com/understudy-ha/understudy/internal/daemon/bench"
)

func init() {
	extraCommands = append(extraCommands, command{
		name:    "bench",
		summary: "measure: bench failover (on a real named) | bench checks | bench sync (watcher vs lsyncd) | bench vip (VRRP/VIP moves in namespaces)",
		run:     cmdBench,
	})
}

// cmdBench runs one of the measurements of internal/daemon/bench and prints one
// line per figure on stdout (progress on stderr).
func cmdBench(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: understudy bench failover|checks|sync|vip [flags]")
		return exitUsage
	}
	switch args[0] {
	case "failover":
		fs := newFlags(e, "bench failover", "")
		runs := fs.Int("runs", 20, "failovers measured per interval")
		failAfter := fs.Int("fail-after", 3, "the policy's failure threshold")
		var intervals []time.Duration
		fs.Func("interval", "arbiter interval to measure; repeat the flag for several (default 1s and 100ms)", func(s string) error {
			d, err := time.ParseDuration(s)
			if err == nil && d <= 0 {
				err = fmt.Errorf("must be positive")
			}
			intervals = append(intervals, d)
			return err
		})
		if fs.Parse(args[1:]) != nil {
			return exitUsage
		}
		err := bench.Failover(e.ctx, e.stdout, bench.FailoverOptions{Intervals: intervals, Runs: *runs, FailAfter: *failAfter, Progress: e.stderr})
		if err != nil {
			fmt.Fprintln(e.stderr, "bench failover:", err)
			return exitFailure
		}
	case "checks":
		fs := newFlags(e, "bench checks", "")
		n := fs.Int("n", 20000, "sequential checks timed for CPU")
		d := fs.Duration("duration", 2*time.Second, "length of the throughput run")
		rss := fs.Int("rss-checks", 1000, "checks run by the arbiter for the memory figure")
		if fs.Parse(args[1:]) != nil {
			return exitUsage
		}
		if err := bench.Checks(e.ctx, e.stdout, bench.ChecksOptions{CPUChecks: *n, Duration: *d, RSSChecks: *rss}); err != nil {
			fmt.Fprintln(e.stderr, "bench checks:", err)
			return exitFailure
		}
	case "sync":
		fs := newFlags(e, "bench sync", "")
		singles := fs.Int("n", 50, "single-file changes timed per tool and transport")
		burst := fs.Int("burst", 5000, "files written at once")
		gap := fs.Duration("gap", 200*time.Millisecond, "pause between single changes")
		delay := fs.Duration("delay", 0, "the watcher's quiet time (default syncer.DefaultWatchDelay)")
		if fs.Parse(args[1:]) != nil {
			return exitUsage
		}
		if err := bench.Sync(e.ctx, e.stdout, bench.SyncOptions{Singles: *singles, Burst: *burst, Gap: *gap, WatcherDelay: *delay, Progress: e.stderr}); err != nil {
			fmt.Fprintln(e.stderr, "bench sync:", err)
			return exitFailure
		}
	case "vip":
		fs := newFlags(e, "bench vip", "")
		runs := fs.Int("runs", 10, "failovers measured per pair and interval")
		var adverts []time.Duration
		fs.Func("advert", "VRRP advert interval to measure; repeat for several (default 1s and 100ms)", func(s string) error {
			d, err := time.ParseDuration(s)
			adverts = append(adverts, d)
			return err
		})
		var pairs []string
		fs.Func("pair", "keepalived-keepalived, native-native or mixed; repeat for several (default all)", func(s string) error {
			pairs = append(pairs, s)
			return nil
		})
		if fs.Parse(args[1:]) != nil {
			return exitUsage
		}
		if err := bench.VIP(e.ctx, e.stdout, bench.VIPOptions{Runs: *runs, Adverts: adverts, Pairs: pairs, Progress: e.stderr}); err != nil {
			fmt.Fprintln(e.stderr, "bench vip:", err)
			return exitFailure
		}
	default:
		fmt.Fprintf(e.stderr, "understudy bench: unknown measurement %q (failover, checks, sync, vip)\n", args[0])
		return exitUsage
	}
	return exitOK
}
