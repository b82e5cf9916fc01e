package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/internal/daemon/websvc"
	"github.com/understudy-ha/understudy/internal/servers/bind"
)

// FailoverOptions tunes [Failover]. Zero values mean the defaults.
type FailoverOptions struct {
	// Intervals are the arbiter intervals measured (1s and 100ms).
	Intervals []time.Duration
	// Runs per interval (20).
	Runs int
	// FailAfter is the Policy's threshold (3).
	FailAfter int
	// Progress, when set, gets one line per run.
	Progress io.Writer
}

func (o *FailoverOptions) defaults() {
	if len(o.Intervals) == 0 {
		o.Intervals = []time.Duration{time.Second, 100 * time.Millisecond}
	}
	if o.Runs == 0 {
		o.Runs = 20
	}
	if o.FailAfter == 0 {
		o.FailAfter = 3
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Failover measures end-to-end failover time on a real named: from the
// moment the primary's HTTP service dies (its listener and connections
// closed) to the moment named answers the backup's address, polled over
// UDP every millisecond. Each run kills the service at a random phase of
// the arbiter's cycle, so detection takes between (fail_after-1) and
// fail_after intervals. Between runs the primary comes back and the
// arbiter fails back (automatic failback), which is not measured.
//
// It prints, per interval,
//
//	failover_ms interval=100ms fail_after=3 p50=… p95=… max=… n=20 target_p95=350
//
// where the target is fail_after × interval + 50 ms.
func Failover(ctx context.Context, w io.Writer, o FailoverOptions) error {
	o.defaults()
	dir, err := os.MkdirTemp("", "understudy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ns, err := bind.Launch(ctx, dir, bind.Options{Zones: []bind.Zone{{
		Name:    "bench.test",
		Updates: true,
		Content: "$TTL 10\n@ IN SOA ns1 hostmaster 1 60 30 3600 10\n  IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 127.0.0.1\n",
	}}})
	if err != nil {
		return err
	}
	defer ns.Stop()

	for _, iv := range o.Intervals {
		ms, err := failoverRuns(ctx, ns, iv, o)
		if err != nil {
			return fmt.Errorf("interval %s: %w", iv, err)
		}
		target := float64(o.FailAfter)*float64(iv.Milliseconds()) + 50
		fmt.Fprintf(w, "failover_ms interval=%s fail_after=%d p50=%.1f p95=%.1f max=%.1f n=%d target_p95=%.0f\n",
			iv, o.FailAfter, percentile(ms, 50), percentile(ms, 95), slices.Max(ms), len(ms), target)
	}
	return nil
}

func failoverRuns(ctx context.Context, ns *bind.Server, iv time.Duration, o FailoverOptions) ([]float64, error) {
	primary, err := websvc.Start("127.0.0.1:0", "ok")
	if err != nil {
		return nil, err
	}
	defer primary.Stop()
	backup, err := websvc.Start("127.0.0.2:0", "ok")
	if err != nil {
		return nil, fmt.Errorf("backup service on 127.0.0.2 (Linux answers on all of 127/8): %w", err)
	}
	defer backup.Stop()

	timeout := iv / 2
	httpCheck := func(node, addr string) (failover.Check, error) {
		c, err := health.NewHTTP(health.HTTPConfig{URL: "http://" + addr + "/", Timeout: timeout})
		return failover.Check{CheckSpec: failover.CheckSpec{Name: node + "/http", Node: node}, Checker: c, Timeout: timeout}, err
	}
	pc, err := httpCheck("primary", primary.Addr())
	if err != nil {
		return nil, err
	}
	bc, err := httpCheck("backup", backup.Addr())
	if err != nil {
		return nil, err
	}
	key := ns.TSIGKey
	sw, err := dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{
		Zone: "bench.test", Name: "www", TTL: 10 * time.Second, Servers: []string{ns.Addr}, Key: &key,
	})
	if err != nil {
		return nil, err
	}
	arb, err := failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: "primary", Address: netip.MustParseAddr("127.0.0.1"), Priority: 2},
				{Name: "backup", Address: netip.MustParseAddr("127.0.0.2"), Priority: 1},
			},
			FailAfter: o.FailAfter,
			RiseAfter: 1,
		},
		Checks:       []failover.Check{pc, bc},
		Switchers:    []failover.Switcher{sw},
		Interval:     iv,
		CheckTimeout: timeout,
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { arb.Run(runCtx) })
	defer wg.Wait()
	defer cancel()

	settle := 10*iv*time.Duration(o.FailAfter) + 5*time.Second
	var ms []float64
	for i := range o.Runs {
		// Steady state: traffic on the primary, both nodes up.
		if err := waitFor(ctx, settle, func() bool {
			s := arb.Snapshot()
			if s.Active != "primary" || len(s.Nodes) != 2 {
				return false
			}
			for _, n := range s.Nodes {
				if n.Status != failover.StatusUp {
					return false
				}
			}
			return answers(ns.Addr, "127.0.0.1")
		}); err != nil {
			return nil, fmt.Errorf("run %d: waiting for the primary to carry traffic: %w", i, err)
		}
		// Kill at a random phase of the arbiter's cycle, as a real failure
		// would: otherwise every run starts right after a round.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(rand.N(iv)):
		}
		start := time.Now()
		primary.Stop()
		if err := waitForFast(ctx, settle, func() bool { return answers(ns.Addr, "127.0.0.2") }); err != nil {
			return nil, fmt.Errorf("run %d: waiting for named to answer the backup: %w", i, err)
		}
		d := time.Since(start)
		ms = append(ms, float64(d.Microseconds())/1000)
		fmt.Fprintf(o.Progress, "run %d interval=%s failover_ms=%.1f\n", i+1, iv, ms[len(ms)-1])
		if err := primary.Start(); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// answers reports whether named answers www.bench.test A with want.
func answers(server, want string) bool {
	m := new(dns.Msg)
	m.SetQuestion("www.bench.test.", dns.TypeA)
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	r, _, err := c.Exchange(m, server)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return false
	}
	a, ok := r.Answer[0].(*dns.A)
	return ok && a.A.String() == want
}

// waitFor polls cond every 5 ms until it holds or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	return poll(ctx, d, 5*time.Millisecond, cond)
}

// waitForFast polls cond every millisecond: the resolution of the figure.
func waitForFast(ctx context.Context, d time.Duration, cond func() bool) error {
	return poll(ctx, d, time.Millisecond, cond)
}

func poll(ctx context.Context, d, every time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	t := time.NewTicker(every)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// percentile returns the p-th percentile of xs (nearest rank).
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	rank := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(rank, len(s)-1))]
}
