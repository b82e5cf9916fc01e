package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/ippool"
)

// vrrpStopTimeout bounds a speaker's graceful stop (priority-0 advert,
// addresses removed) on shutdown.
const vrrpStopTimeout = 5 * time.Second

// errNotInDaemon: a vrrp switcher used outside `understudy run`, where
// its speaker does not run.
var errNotInDaemon = errors.New(`the VRRP speaker runs inside "understudy run": this process cannot steer it`)

// floating is what `understudy run` runs beside the arbiter to hold
// floating addresses: the native VRRP speakers of the vrrp section and
// the keepalived of the keepalived section.
type floating struct {
	vrrps map[string]*ippool.VRRP
	ka    *ippool.Keepalived

	cancel context.CancelFunc // ends the keepalived supervisor
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error // the first component that failed on its own
}

// newFloating builds the speakers and the keepalived supervisor; nothing
// runs until start.
func newFloating(cfg *config.Config, d deps) (*floating, error) {
	f := &floating{vrrps: map[string]*ippool.VRRP{}}
	var errs []error
	for _, v := range cfg.VRRP {
		sp, err := newSpeaker(v, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: vrrp %s: %w", v.Pos, v.Name, err))
			continue
		}
		f.vrrps[v.Name] = sp
	}
	if cfg.Keepalived.IsSet() {
		kc, err := keepalivedConfig(cfg)
		if err == nil {
			k := cfg.Keepalived
			f.ka, err = ippool.NewKeepalived(ippool.KeepalivedOptions{
				Config: kc, Dir: k.Dir, NetNS: k.NetNS, Binary: k.Program, Runner: d.runner, Logger: d.log,
			})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: keepalived: %w", cfg.Keepalived.Pos, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// newSpeaker builds the speaker of one vrrp entry; it logs its
// transitions at Info (ippool.VRRP does).
func newSpeaker(v config.VRRP, d deps) (*ippool.VRRP, error) {
	return ippool.NewVRRP(ippool.VRRPConfig{
		Self:         v.Self,
		Interface:    v.Interface,
		NetNS:        v.NetNS,
		VRID:         uint8(v.VRID), // 1-255, validated at load
		Priority:     uint8(v.Priority),
		Advert:       v.Advert,
		VIPs:         v.Prefixes(),
		SourceIP:     v.SourceIP,
		Peers:        v.Peers,
		NoPreempt:    v.NoPreempt,
		PreemptDelay: v.PreemptDelay,
		Logger:       d.log.With("vrrp", v.Name),
	})
}

// empty reports whether there is nothing to run.
func (f *floating) empty() bool { return f == nil || (len(f.vrrps) == 0 && f.ka == nil) }

// start runs every component in the background. The returned context is
// ctx, cancelled as well when a component fails on its own (a speaker
// whose interface is missing, a keepalived configuration keepalived
// refuses): the daemon then stops and stop returns that error.
func (f *floating) start(ctx context.Context) context.Context {
	if f.empty() {
		return ctx
	}
	runCtx, failed := context.WithCancel(ctx)
	fail := func(err error) {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
		failed()
	}
	for name, v := range f.vrrps {
		f.wg.Go(func() {
			// Run's own context is never cancelled: stop ends it with
			// Stop, the graceful way (a cancelled context would abandon
			// the addresses as a crash does).
			if err := v.Run(context.WithoutCancel(ctx)); err != nil {
				fail(fmt.Errorf("vrrp %s: %w", name, err))
			}
		})
	}
	if f.ka != nil {
		kaCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f.cancel = cancel
		f.wg.Go(func() {
			if err := f.ka.Run(kaCtx); err != nil {
				fail(fmt.Errorf("keepalived: %w", err))
			}
		})
	}
	return runCtx
}

// stop stops the speakers gracefully (each resigns and removes its
// addresses) and keepalived (SIGTERM, which does the same), waits for
// them, and returns the error of a component that had failed on its own.
func (f *floating) stop() error {
	if f.empty() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), vrrpStopTimeout)
	defer cancel()
	var errs []error
	for name, v := range f.vrrps {
		if err := v.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("vrrp %s: %w", name, err))
		}
	}
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(append([]error{f.err}, errs...)...)
}

// buildVRRPSwitcher steers the speaker of a vrrp entry. Outside the
// daemon (tick, switch, validate) the speaker does not run here: the
// switcher then fails, saying so, rather than pretend.
func buildVRRPSwitcher(s config.Switcher, d deps) (failover.Switcher, error) {
	if d.floating != nil {
		if v, ok := d.floating.vrrps[s.VRRP.VRRP]; ok {
			return v, nil
		}
	}
	return failover.SwitcherFunc(func(context.Context, failover.Node) error {
		return fmt.Errorf("vrrp %s: %w", s.VRRP.VRRP, errNotInDaemon)
	}), nil
}

// buildKeepalivedTrack steers the keepalived section's instance through
// its track file; it works from any process.
func buildKeepalivedTrack(_ config.Switcher, d deps) (failover.Switcher, error) {
	k := d.cfg.Keepalived
	return &ippool.TrackFileSwitcher{Self: k.Self, Path: k.TrackFile()}, nil
}

// validateFloating builds the VRRP speakers (which validates them) and
// renders and checks the keepalived configuration (keepalived.go), for
// `understudy validate`; kaConf, if given, receives keepalived.conf.
func validateFloating(ctx context.Context, cfg *config.Config, kaConf string, d deps) error {
	var errs []error
	for _, v := range cfg.VRRP {
		if _, err := newSpeaker(v, d); err != nil {
			errs = append(errs, fmt.Errorf("%s: vrrp %s: %w", v.Pos, v.Name, err))
		}
	}
	if cfg.Keepalived.IsSet() {
		if err := validateKeepalived(ctx, cfg, kaConf, d); err != nil {
			errs = append(errs, fmt.Errorf("%s: keepalived: %w", cfg.Keepalived.Pos, err))
		}
	} else if kaConf != "" {
		errs = append(errs, fmt.Errorf("%s: -keepalived-conf: no keepalived section", cfg.File))
	}
	return errors.Join(errs...)
}
