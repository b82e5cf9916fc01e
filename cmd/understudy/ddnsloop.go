package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/config"
)

// ddnsLoop is the dynamic DNS updater run by the daemon every ddns.every:
// a change is logged at Info and sent to the notifiers as an
// address_changed event; a failure is logged at Warn and the next round
// tries again. It never stops the arbiter.
type ddnsLoop struct {
	updater       *dnsprovider.DDNS
	every         time.Duration
	node          string
	notifiers     []failover.Notifier
	notifyTimeout time.Duration
	log           *slog.Logger
}

// startDDNS starts the updater when ddns.every is given; wait returns
// once it stopped after ctx ended. Without ddns.every it starts nothing.
func startDDNS(ctx context.Context, cfg *config.Config, d deps) (wait func(), err error) {
	c := cfg.DDNS
	if !c.IsSet() || c.Every <= 0 {
		return func() {}, nil
	}
	u, err := buildDDNS(c, d)
	if err != nil {
		return nil, err
	}
	ns, timeout, errs := buildNotifiers(cfg, d)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	node := c.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	l := &ddnsLoop{updater: u, every: c.Every, node: node, notifiers: ns, notifyTimeout: timeout, log: d.log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx)
	}()
	return func() { <-done }, nil
}

// run updates at once, then every l.every until ctx ends.
func (l *ddnsLoop) run(ctx context.Context) {
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		l.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (l *ddnsLoop) round(ctx context.Context) {
	res, err := l.updater.Update(ctx)
	if res.Changed {
		old := addrList(res.Old)
		l.log.Info("ddns changed", "node", l.node, "old", old, "new", res.New.String())
		l.notify(ctx, failover.Event{
			Time: time.Now(), Kind: failover.EventAddressChanged, Node: l.node,
			Message: fmt.Sprintf("address of %s changed from %s to %s", l.node, old, res.New),
		})
	}
	if err != nil && ctx.Err() == nil {
		l.log.Warn("ddns update failed", "node", l.node, "err", err)
	}
}

func (l *ddnsLoop) notify(ctx context.Context, e failover.Event) {
	if len(l.notifiers) == 0 {
		return
	}
	nctx, cancel := context.WithTimeout(ctx, l.notifyTimeout)
	defer cancel()
	for _, n := range l.notifiers {
		if err := n.Notify(nctx, e); err != nil {
			l.log.Warn("ddns notification failed", "node", l.node, "err", err)
		}
	}
}
