package main

import (
	"fmt"
	"time"

	"github.com/understudy-ha/understudy/internal/bench"
)

func init() {
	extraCommands = append(extraCommands, command{
		name:    "bench",
		summary: "measure: bench failover (on a real named) | bench checks",
		run:     cmdBench,
	})
}

// cmdBench runs one of the measurements of internal/bench and prints one
// line per figure on stdout (progress on stderr).
func cmdBench(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: understudy bench failover|checks [flags]")
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
	default:
		fmt.Fprintf(e.stderr, "understudy bench: unknown measurement %q (failover, checks)\n", args[0])
		return exitUsage
	}
	return exitOK
}
