package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/ippool"
)

func init() {
	extraCommands = append(extraCommands, command{
		"notify", "keepalived's callback: notify master runs keepalived.notify_master toward keepalived.self", true, cmdNotify,
	})
}

// keepalivedConfig maps the keepalived section onto ippool's, with the
// callbacks into this binary: the track script runs
// `understudy -c FILE check -node SELF` and notify_master runs
// `understudy -c FILE notify master`. Both are argv (keepalived runs
// them without a shell) with absolute paths, as its script security
// requires.
func keepalivedConfig(cfg *config.Config) (ippool.KeepalivedConfig, error) {
	k := cfg.Keepalived
	kc := ippool.KeepalivedConfig{
		RouterID: k.RouterID, Instance: k.Instance, Interface: k.Interface,
		VRID: uint8(k.VRID), Priority: uint8(k.Priority), Advert: k.Advert, Version: k.Version, // ranges validated at load
		Master: k.Master, SourceIP: k.SourceIP, Peers: k.Peers, VIPs: k.Prefixes(),
		NoPreempt: k.NoPreempt, PreemptDelay: k.PreemptDelay,
		TrackScript:   k.TrackScript,
		TrackInterval: k.TrackInterval, TrackFall: k.TrackFall, TrackRise: k.TrackRise, TrackWeight: k.TrackWeight,
		TrackFile: k.TrackFile(), TrackFileWeight: k.TrackFileWeight,
		GARPRepeat: k.GARPRepeat, GARPDelay: k.GARPDelay,
	}
	if (len(k.TrackScript) == 0 && !k.NoTrackScript) || len(k.NotifyMaster) > 0 {
		self, err := selfArgv(cfg)
		if err != nil {
			return kc, err
		}
		if len(k.TrackScript) == 0 && !k.NoTrackScript {
			kc.TrackScript = append(slices.Clip(self), "check", "-node", k.Self)
		}
		if len(k.NotifyMaster) > 0 {
			kc.NotifyMaster = append(slices.Clip(self), "notify", "master")
		}
	}
	return kc, kc.Validate()
}

// selfArgv is the argv prefix that runs this binary on this
// configuration file.
func selfArgv(cfg *config.Config) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program for keepalived's callbacks: %w", err)
	}
	file, err := filepath.Abs(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("configuration path: %w", err)
	}
	return []string{exe, "-c", file}, nil
}

// validateKeepalived renders keepalived.conf and, when keepalived runs
// here (no netns) and is installed, checks it with keepalived
// --config-test. The file is written to out if given, else to a
// temporary file removed afterwards.
func validateKeepalived(ctx context.Context, cfg *config.Config, out string, d deps) error {
	kc, err := keepalivedConfig(cfg)
	if err != nil {
		return err
	}
	text, err := kc.Render()
	if err != nil {
		return err
	}
	path := out
	if path == "" {
		f, err := os.CreateTemp("", "understudy-keepalived-*.conf")
		if err != nil {
			return fmt.Errorf("render keepalived.conf: %w", err)
		}
		path = f.Name()
		f.Close()
		defer os.Remove(path)
	}
	if err := os.WriteFile(path, text, 0o600); err != nil {
		return fmt.Errorf("render keepalived.conf: %w", err)
	}
	k := cfg.Keepalived
	if k.NetNS != "" {
		return nil // the namespace may not exist where validate runs
	}
	prog := k.Program
	if prog == "" {
		if prog, err = exec.LookPath("keepalived"); err != nil {
			d.log.Info("keepalived is not installed: its configuration was rendered, not tested")
			return nil
		}
	}
	return ippool.CheckKeepalivedConfig(ctx, d.runner, prog, "", "", path)
}

// restrictToNode keeps only node's checks (no witness checks), for
// `check -node`, keepalived's track script: the node it runs on is fit
// or not whatever the other nodes' checks say.
func restrictToNode(cfg *config.Config, node string) (*config.Config, error) {
	c := *cfg
	c.Nodes = slices.Clone(cfg.Nodes)
	found := false
	for i := range c.Nodes {
		if c.Nodes[i].Name == node {
			found = true
		} else {
			c.Nodes[i].Checks = nil
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no node named %q", cfg.File, node)
	}
	c.Witness = nil
	return &c, nil
}

// cmdNotify is keepalived's notify_master: it runs the switchers of
// keepalived.notify_master toward keepalived.self, in order, each tried
// notify_tries times notify_delay apart (the article's master.sh: assign
// the reserved IP, 10 tries 3 s apart). keepalived calls it by argv, no
// shell, and may call it again: the switchers are idempotent (the
// reserved IP one asks first whether the IP is already here).
func cmdNotify(e *env, args []string) int {
	fs := newFlags(e, "notify", "master")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) != "master" {
		fs.Usage()
		return exitUsage
	}
	cfg := e.app.cfg
	k := cfg.Keepalived
	if !k.IsSet() {
		fmt.Fprintf(e.stderr, "%s: no keepalived section\n", cfg.File)
		return exitUsage
	}
	i := slices.IndexFunc(cfg.FailoverPolicy().Nodes, func(n failover.Node) bool { return n.Name == k.Self })
	if i < 0 { // the configuration refuses this
		fmt.Fprintf(e.stderr, "%s: no node named %q\n", cfg.File, k.Self)
		return exitUsage
	}
	self := cfg.FailoverPolicy().Nodes[i]
	d := deps{log: e.app.log, cfg: cfg}
	var sws []failover.Switcher
	for _, s := range k.NotifyMaster {
		sw, err := switcherBuilders[s.Type](s, d)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %s switcher: %v\n", s.Pos, s.Type, err)
			return exitUsage
		}
		sws = append(sws, sw)
	}
	log := e.app.log.With("to", self.Name)
	for j, sw := range sws {
		s := k.NotifyMaster[j]
		if err := retrySwitch(e.ctx, sw, self, s.Timeout, k.NotifyTries, k.NotifyDelay, func(try int, err error) {
			log.Warn("notify master: switch failed", "switcher", s.Type, "try", try, "of", k.NotifyTries, "error", err)
		}); err != nil {
			fmt.Fprintf(e.stderr, "understudy notify master: %s: %s switcher: %v\n", s.Pos, s.Type, err)
			return exitFailure
		}
		log.Info("notify master: switched", "switcher", s.Type)
	}
	return exitOK
}

// retrySwitch runs sw.Switch(to) up to tries times, each bounded by
// timeout, delay apart, reporting each failure but the last to failed.
func retrySwitch(ctx context.Context, sw failover.Switcher, to failover.Node, timeout time.Duration, tries int, delay time.Duration, failed func(int, error)) error {
	var err error
	for try := 1; try <= tries; try++ {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		err = sw.Switch(sctx, to)
		cancel()
		if err == nil || try == tries {
			break
		}
		failed(try, err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	return err
}
