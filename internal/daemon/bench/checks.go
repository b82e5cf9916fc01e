// Package bench holds the measurements behind `understudy bench`. Each
// figure is printed as one line of space-separated key=value pairs after
// a name, for instance
//
//	check_cpu_us kind=tcp per_check=41.3 n=20000
//
// so that runs can be compared with grep, awk or benchstat-like tools.
// Nothing here asserts a target: the numbers are reported, and the README
// says what they are compared with.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
)

// ChecksOptions tunes [Checks]. Zero values mean the defaults.
type ChecksOptions struct {
	// CPUChecks is the number of sequential checks timed for CPU (20,000).
	CPUChecks int
	// Workers run checks concurrently for the throughput figure (32).
	Workers int
	// Duration of the throughput run (2s).
	Duration time.Duration
	// RSSChecks is the number of TCP checks the arbiter runs for the RSS
	// figure (1,000), at RSSInterval (1s) for RSSRounds rounds (5).
	RSSChecks   int
	RSSInterval time.Duration
	RSSRounds   int
}

func (o *ChecksOptions) defaults() {
	if o.CPUChecks == 0 {
		o.CPUChecks = 20000
	}
	if o.Workers == 0 {
		o.Workers = 32
	}
	if o.Duration == 0 {
		o.Duration = 2 * time.Second
	}
	if o.RSSChecks == 0 {
		o.RSSChecks = 1000
	}
	if o.RSSInterval == 0 {
		o.RSSInterval = time.Second
	}
	if o.RSSRounds == 0 {
		o.RSSRounds = 5
	}
}

// Checks measures the check engine with TCP checks against a loopback
// listener in this process: the CPU time one check costs (next to a bare
// net.Dial loop measured the same way, for comparison), the sustained
// checks per second, and the resident memory of an arbiter running
// RSSChecks checks. The listener's own accept work is included in the CPU
// figures of both the check and the bare loop.
func Checks(ctx context.Context, w io.Writer, o ChecksOptions) error {
	o.defaults()
	ln, err := listen()
	if err != nil {
		return err
	}
	defer ln.Close()
	addr := ln.Addr().String()

	// Memory first, while the process holds nothing else: the peak
	// resident set of an arbiter running RSSChecks checks.
	rss, err := arbiterRSS(ctx, addr, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "rss_mb checks=%d value=%.1f interval=%s rounds=%d\n", o.RSSChecks, rss, o.RSSInterval, o.RSSRounds)

	chk, err := health.NewTCP(health.TCPConfig{Address: addr, Timeout: time.Second})
	if err != nil {
		return err
	}

	// A bare dial loop, the floor any check engine sits on.
	bare, err := cpuPer(o.CPUChecks, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return fmt.Errorf("bare dial loop: %w", err)
	}
	fmt.Fprintf(w, "check_cpu_us kind=tcp-bare-dial per_check=%.1f n=%d\n", bare, o.CPUChecks)

	per, err := cpuPer(o.CPUChecks, func() error { return chk.Check(ctx) })
	if err != nil {
		return fmt.Errorf("tcp check loop: %w", err)
	}
	fmt.Fprintf(w, "check_cpu_us kind=tcp per_check=%.1f n=%d\n", per, o.CPUChecks)

	rate, failed, err := throughput(ctx, chk, o.Workers, o.Duration)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "checks_per_s kind=tcp value=%.0f workers=%d duration=%s failed=%d\n", rate, o.Workers, o.Duration, failed)

	return nil
}

// listen starts a loopback listener that accepts and closes connections.
// The server side closes first, so TIME_WAIT lands on the listener's port
// and the client's ephemeral ports are not exhausted by a long run.
func listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			c.Close()
		}
	}()
	return ln, nil
}

// cpuPer runs f n times and returns the process CPU time per call in µs.
func cpuPer(n int, f func() error) (float64, error) {
	runtime.GC()
	before, err := cpuTime()
	if err != nil {
		return 0, err
	}
	for range n {
		if err := f(); err != nil {
			return 0, err
		}
	}
	after, err := cpuTime()
	if err != nil {
		return 0, err
	}
	return float64((after - before).Microseconds()) / float64(n), nil
}

func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func throughput(ctx context.Context, chk health.Checker, workers int, d time.Duration) (rate float64, failed int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := chk.Check(context.Background()); err != nil {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return float64(ok.Load()) / elapsed.Seconds(), bad.Load(), nil
}

// arbiterRSS runs an arbiter with o.RSSChecks TCP checks for a few rounds
// and returns the peak resident set of this process in MB.
func arbiterRSS(ctx context.Context, addr string, o ChecksOptions) (float64, error) {
	pol := failover.Policy{Nodes: []failover.Node{{Name: "a", Priority: 2}, {Name: "b", Priority: 1}}}
	checks := make([]failover.Check, o.RSSChecks)
	for i := range checks {
		c, err := health.NewTCP(health.TCPConfig{Address: addr, Timeout: o.RSSInterval / 2})
		if err != nil {
			return 0, err
		}
		node := "a"
		if i%2 == 1 {
			node = "b"
		}
		checks[i] = failover.Check{
			CheckSpec: failover.CheckSpec{Name: "tcp-" + strconv.Itoa(i), Node: node},
			Checker:   c,
			Timeout:   o.RSSInterval / 2,
		}
	}
	arb, err := failover.New(failover.Config{Policy: pol, Checks: checks, Interval: o.RSSInterval, CheckTimeout: o.RSSInterval / 2})
	if err != nil {
		return 0, err
	}
	for range o.RSSRounds {
		start := time.Now()
		if _, err := arb.Tick(ctx); err != nil {
			return 0, err
		}
		if rest := o.RSSInterval - time.Since(start); rest > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(rest):
			}
		}
	}
	return peakRSSMB()
}

// peakRSSMB reads VmHWM (peak resident set) from /proc/self/status.
func peakRSSMB() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("VmHWM not found in /proc/self/status")
}
