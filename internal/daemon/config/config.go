// Package config reads understudy's YAML configuration file.
//
// [Load] and [Parse] decode the file through yaml.Node so that every
// problem is reported with its file, line, column and field path
// ("understudy.yaml:12:5: nodes[0].checks[1]: unknown field \"timout\"").
// All problems are collected and returned together, sorted by line, as an
// errors.Join of [*Error] values. Unknown keys are refused.
//
// Secrets are never written inline: a secret field "password" is given as
// "password_file" (a path, read at load; relative paths are relative to the
// configuration file) or "password_env" (the name of an environment
// variable). Values are held in [Secret], which never prints them. A
// world-readable secret file is accepted with a warning in
// [Config.Warnings].
//
// The result is plain data with every default filled in; turning it into
// checkers, switchers and notifiers is the binary's job (cmd/understudy),
// except for [Config.FailoverPolicy], which maps the nodes, checks and
// policy settings onto a [failover.Policy].
//
// testdata/understudy.yaml is the commented reference of the format.
package config

import (
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// Defaults applied by [Load] and [Parse] when a field is absent.
const (
	DefaultInterval      = 10 * time.Second
	DefaultCheckTimeout  = 5 * time.Second
	DefaultSwitchTimeout = 30 * time.Second
	DefaultSwitchRetries = 3
	DefaultSwitchBackoff = time.Second
	DefaultNotifyTimeout = 10 * time.Second
	DefaultExecTimeout   = 30 * time.Second
	DefaultFailAfter     = 3
	DefaultRiseAfter     = 2
	DefaultWarnAfter     = 1
)

// Config is a whole configuration file.
type Config struct {
	// File is the path the configuration was read from (the name given to
	// Parse).
	File string `yaml:"-"`
	// StateFile is where the arbiter keeps its state; required by the
	// tick, status and switch commands. Relative to the file's directory.
	StateFile string `yaml:"state_file" cfg:"path"`
	// Interval is the time between two rounds of checks (default 10s).
	Interval time.Duration `yaml:"interval"`
	// CheckTimeout bounds each check (default 5s); it must be shorter
	// than Interval.
	CheckTimeout time.Duration `yaml:"check_timeout"`
	// NoReconcile stops the arbiter from reading, through the first
	// switcher that can tell (rfc2136, libdns), where traffic points
	// now, and from adopting a change made outside Understudy as the
	// active node (default: it does).
	NoReconcile bool   `yaml:"no_reconcile"`
	Log         Log    `yaml:"log"`
	Policy      Policy `yaml:"policy"`
	Switch      Switch `yaml:"switch"`
	// Nodes are the servers, preferred first unless priorities say
	// otherwise. At least one is required.
	Nodes []Node `yaml:"nodes" cfg:"required"`
	// Witness checks prove the arbiter's own connectivity.
	Witness []Check `yaml:"witness"`
	// Switchers are run in order to point traffic at a node.
	Switchers []Switcher `yaml:"switchers"`
	// Notify lists who is told about events.
	Notify []Notifier `yaml:"notify"`
	// HTTP is the optional status endpoint.
	HTTP HTTP `yaml:"http"`
	// Syncs keep directories in step with the peer (see [Sync]).
	Syncs []Sync `yaml:"syncs"`
	// Replication lists watched MySQL/MariaDB replicas (see
	// [Replication]).
	Replication []Replication `yaml:"replication"`
	// DDNS is the optional dynamic DNS updater (see libdns.go).
	DDNS DDNS `yaml:"ddns"`
	// VRRP lists native VRRP speakers run by `understudy run`, and
	// Keepalived is a generated and supervised keepalived (vrrp.go).
	VRRP       []VRRP     `yaml:"vrrp"`
	Keepalived Keepalived `yaml:"keepalived"`
	// Warnings are problems that do not stop the configuration from
	// loading (a world-readable secret file), formatted like errors.
	Warnings []string `yaml:"-"`
	// SecretEnv names the environment variables secrets were read from
	// (the *_env keys). The daemon removes them from its environment once
	// loaded, so that the commands it runs (hooks, exec checks and
	// switchers) do not inherit them.
	SecretEnv []string `yaml:"-"`
}

// Log configures the binary's slog handler.
type Log struct {
	// Format is "text" (default) or "json".
	Format string `yaml:"format" cfg:"oneof=text|json"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `yaml:"level" cfg:"oneof=debug|info|warn|error"`
}

// Policy holds the failover rules; see [failover.Policy] for their meaning.
type Policy struct {
	FailAfter int `yaml:"fail_after"` // default 3
	RiseAfter int `yaml:"rise_after"` // default 2
	WarnAfter int `yaml:"warn_after"` // default 1
	// DownWhen is "any" (default) or "all".
	DownWhen failover.DownWhen `yaml:"down_when" cfg:"oneof=any|all"`
	Grace    time.Duration     `yaml:"grace"`
	HoldDown time.Duration     `yaml:"hold_down"`
	// Failback is "auto" (default), "delayed" or "manual".
	Failback failover.FailbackMode `yaml:"failback" cfg:"oneof=auto|delayed|manual"`
	// FailbackDelay is required with failback: delayed, refused otherwise.
	FailbackDelay time.Duration `yaml:"failback_delay"`
}

// Switch configures how switchers are run.
type Switch struct {
	Timeout time.Duration `yaml:"timeout"` // per attempt, default 30s
	Retries int           `yaml:"retries"` // attempts per switcher, default 3
	Backoff time.Duration `yaml:"backoff"` // default 1s
}

// HTTP configures the status endpoint of the run command.
type HTTP struct {
	// Listen is host:port; empty disables the endpoint. The host must be
	// a loopback address (or "localhost") unless AllowRemote is set.
	// Port 0 lets the kernel pick one (the run command logs it).
	Listen      string `yaml:"listen" cfg:"hostport,anyport"`
	AllowRemote bool   `yaml:"allow_remote"`
}
