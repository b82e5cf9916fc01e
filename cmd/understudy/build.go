package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovermetrics"
	"github.com/understudy-ha/understudy/failover/notify"
	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/internal/daemon/config"
)

// app is a loaded configuration and the logger it asks for.
type app struct {
	cfg *config.Config
	log *slog.Logger
	// events counts the events of the arbiter this process builds, for
	// GET /metrics (metrics.go).
	events *failovermetrics.Events
	// floating are the VRRP speakers and keepalived `run` runs
	// (build_vrrp.go); nil in the other commands.
	floating *floating
}

// loadApp loads the configuration, prints its warnings and builds the
// logger.
func loadApp(path string, stderr io.Writer) (*app, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	// The values are in cfg now: keep them away from every command this
	// process runs (hooks and exec checks inherit the environment).
	for _, name := range cfg.SecretEnv {
		os.Unsetenv(name)
	}
	return &app{cfg: cfg, log: newLogger(cfg.Log, stderr), events: failovermetrics.NewEvents()}, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// deps are what the builders share.
type deps struct {
	log    *slog.Logger
	runner cmdrun.Runner // nil: the real one
	// cfg is the whole configuration, for entries that refer to other
	// sections (set by buildArbiter).
	cfg *config.Config
	// onEvent, if set, is chained into the arbiter's OnEvent.
	onEvent func(failover.Event)
	// floating holds the running VRRP speakers vrrp switchers steer
	// (nil outside `run`).
	floating *floating
}

// The name → constructor tables that turn configuration entries into
// the library's types. They live with the binary, not in the library.
var (
	checkBuilders = map[string]func(config.Check, deps) (health.Checker, error){
		"tcp":     buildTCP,
		"http":    buildHTTP,
		"mysql":   buildMySQL,
		"dns":     buildDNS,
		"exec":    buildExecCheck,
		"process": buildProcess,
		// checks that refer to other sections: build_refs.go
		"replication": buildReplicationCheck,
		"sync":        buildSyncCheck,
		"drbd":        buildDRBDCheck, // build_drbd.go
	}
	switcherBuilders = map[string]func(config.Switcher, deps) (failover.Switcher, error){
		"rfc2136":  buildRFC2136,
		"zonefile": buildZoneFile,
		"exec":     buildExecSwitcher,
		"libdns":   buildLibdns,
		// floating addresses: build_ippool.go
		"do_reserved_ip": buildDOReservedIP,
		"vip":            buildVIP,
		"group":          buildGroup,
		"drbd":           buildDRBDSwitcher, // build_drbd.go
		// VRRP steering: build_vrrp.go
		"vrrp":             buildVRRPSwitcher,
		"keepalived_track": buildKeepalivedTrack,
	}
	notifierBuilders = map[string]func(config.Notifier, deps) (failover.Notifier, error){
		"mail":    buildMail,
		"webhook": buildWebhook,
		"exec":    buildHook,
	}
)

// buildArbiter turns the configuration into an Arbiter. Every component
// that fails to build is reported, each with its place in the file.
func buildArbiter(cfg *config.Config, d deps) (*failover.Arbiter, error) {
	d.cfg = cfg
	var errs []error
	fc := failover.Config{
		Policy:        cfg.FailoverPolicy(),
		StatePath:     cfg.StateFile,
		Interval:      cfg.Interval,
		CheckTimeout:  cfg.CheckTimeout,
		NoReconcile:   cfg.NoReconcile,
		SwitchTimeout: cfg.Switch.Timeout,
		SwitchRetries: cfg.Switch.Retries,
		SwitchBackoff: cfg.Switch.Backoff,
		Logger:        d.log,
	}
	fc.OnEvent = failovermetrics.Chain(fc.OnEvent, d.onEvent)
	fc.Policy.Checks = nil // New fills it from fc.Checks
	for _, ch := range cfg.Checks() {
		c, err := checkBuilders[ch.Type](ch, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s check: %w", ch.Pos, ch.Type, err))
			continue
		}
		fc.Checks = append(fc.Checks, failover.Check{CheckSpec: ch.Spec(), Checker: c, Timeout: ch.Timeout})
	}
	for _, s := range cfg.Switchers {
		fc.SwitchTimeout = max(fc.SwitchTimeout, s.Timeout)
	}
	for _, s := range cfg.Switchers {
		sw, err := switcherBuilders[s.Type](s, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s switcher: %w", s.Pos, s.Type, err))
			continue
		}
		if s.Timeout < fc.SwitchTimeout {
			sw = withTimeout(sw, s.Timeout)
		}
		fc.Switchers = append(fc.Switchers, sw)
	}
	notifiers, notifyTimeout, nerrs := buildNotifiers(cfg, d)
	fc.Notifiers, fc.NotifyTimeout = notifiers, notifyTimeout
	errs = append(errs, nerrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a, err := failover.New(fc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	return a, nil
}

// buildNotifiers builds the notifiers, each filtered to its events, and
// the bound that does not cut any of them short of its own timeout.
func buildNotifiers(cfg *config.Config, d deps) (ns []failover.Notifier, timeout time.Duration, errs []error) {
	for _, n := range cfg.Notify {
		nt, err := notifierBuilders[n.Type](n, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s notifier: %w", n.Pos, n.Type, err))
			continue
		}
		kinds := n.Events
		if len(kinds) == 0 && n.Mail != nil {
			kinds = notify.DefaultMailKinds()
		}
		if len(kinds) > 0 {
			nt = notify.Filter(nt, kinds...)
		}
		ns = append(ns, nt)
		timeout = max(timeout, n.Timeout+time.Second)
	}
	return ns, timeout, errs
}

func buildTCP(ch config.Check, _ deps) (health.Checker, error) {
	t := ch.TCP
	return health.NewTCP(health.TCPConfig{Address: t.Address, Send: t.Send, Expect: t.Expect, Timeout: ch.Timeout})
}

func buildHTTP(ch config.Check, _ deps) (health.Checker, error) {
	h := ch.HTTP
	return health.NewHTTP(health.HTTPConfig{
		URL: h.URL, Method: h.Method, Status: h.ExpectStatus,
		BodyContains: h.BodyContains, BodyRegexp: h.BodyRegexp, Headers: h.Headers,
		Timeout: ch.Timeout, FollowRedirects: h.FollowRedirects,
		CAFile: h.CAFile, CertFile: h.CertFile, KeyFile: h.KeyFile, ServerName: h.ServerName,
		InsecureSkipVerify: h.InsecureSkipVerify,
	})
}

func buildMySQL(ch config.Check, d deps) (health.Checker, error) {
	m := ch.MySQL
	return health.NewMySQL(health.MySQLConfig{
		Address: m.Address, User: m.User, Password: m.Password.Reveal(),
		Database: m.Database, Query: m.Query, Timeout: ch.Timeout, TLS: m.TLS,
		Logger: d.log.With("check", ch.FullName),
	})
}

func buildDNS(ch config.Check, _ deps) (health.Checker, error) {
	q := ch.DNS
	return health.NewDNS(health.DNSConfig{Server: q.Server, Name: q.Query, Type: q.QType, Expect: q.Expect, Net: q.Net, Timeout: ch.Timeout})
}

func buildExecCheck(ch config.Check, d deps) (health.Checker, error) {
	return health.NewExec(health.ExecConfig{Command: ch.Exec.Command, Timeout: ch.Timeout, Runner: d.runner})
}

func buildProcess(ch config.Check, _ deps) (health.Checker, error) {
	return health.NewProcess(health.ProcessConfig{Name: ch.Process.Process, MinCount: ch.Process.MinCount})
}

func buildRFC2136(s config.Switcher, d deps) (failover.Switcher, error) {
	r := s.RFC2136
	rc := dnsprovider.RFC2136Config{
		Zone: r.Zone, Name: r.Name, TTL: r.TTL, Servers: r.Servers, Net: r.Net, AAAA: r.AAAA,
		Logger: d.log,
	}
	if r.TSIGKeyFile != "" {
		key, err := dnsprovider.LoadTSIGKey(r.TSIGKeyFile)
		if err != nil {
			return nil, err
		}
		rc.Key = &key
	}
	return dnsprovider.NewRFC2136(rc)
}

func buildZoneFile(s config.Switcher, d deps) (failover.Switcher, error) {
	z := s.ZoneFile
	return dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{
		Zone: z.Zone, Name: z.Name, TTL: z.TTL, File: z.File, Rndc: z.Rndc,
		Freeze: z.Freeze, Verify: z.Verify, AAAA: z.AAAA, Runner: d.runner, Logger: d.log,
	})
}

func buildExecSwitcher(s config.Switcher, d deps) (failover.Switcher, error) {
	return newExecSwitcher(s.Exec.Command, d.runner)
}

func buildMail(n config.Notifier, d deps) (failover.Notifier, error) {
	m := n.Mail
	return notify.NewMail(notify.MailConfig{
		Server: m.Server, From: m.From, To: m.To,
		Username: m.Username, Password: m.Password.Reveal(),
		StartTLS: notify.StartTLSMode(m.StartTLS), ImplicitTLS: m.ImplicitTLS,
		Timeout: n.Timeout, SubjectPrefix: m.SubjectPrefix, Logger: d.log,
	})
}

func buildWebhook(n config.Notifier, d deps) (failover.Notifier, error) {
	w := n.Webhook
	return notify.NewWebhook(notify.WebhookConfig{
		URL: w.URL, Secret: w.Secret.Reveal(), Headers: w.Headers, Timeout: n.Timeout, Logger: d.log,
	})
}

func buildHook(n config.Notifier, d deps) (failover.Notifier, error) {
	return notify.NewHook(notify.HookConfig{Command: n.Exec.Command, Timeout: n.Timeout, Runner: d.runner, Logger: d.log})
}
