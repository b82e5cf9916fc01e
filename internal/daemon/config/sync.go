package config

import (
	"fmt"
	"path"
	"time"
)

// Defaults of a sync entry.
const (
	DefaultSyncTool  = "rsync"
	DefaultSyncDelay = time.Second // lsyncd's own default (15 s) is too slow for failover
	// DefaultWatcherDelay is the native watcher's quiet time before a
	// batch (syncer.DefaultWatchDelay).
	DefaultWatcherDelay = 5 * time.Millisecond
	// DefaultWatcherMaxDelay caps its batching window
	// (syncer.DefaultWatchMaxDelay).
	DefaultWatcherMaxDelay = 50 * time.Millisecond
)

// Sync is one entry of "syncs": a directory kept in step with a peer by
// rsync (push or pull, on a schedule or on demand), unison (both ways),
// lsyncd (continuous push) or the native watcher (continuous push,
// inotify batches shipped by rsync over one kept-open ssh connection).
// `understudy sync NAME` runs one now.
type Sync struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Name is unique among syncs; letters, digits, '.', '_' and '-'.
	Name string `yaml:"name" cfg:"required,name"`
	// Tool is "rsync" (default), "unison", "lsyncd" or "watcher".
	Tool string `yaml:"tool" cfg:"oneof=rsync|unison|lsyncd|watcher"`
	// Local is the directory on this node (relative to the file).
	Local string `yaml:"local" cfg:"required,path"`
	// Remote is the directory on the peer (absolute), or without
	// ssh.host a second local directory.
	Remote string `yaml:"remote" cfg:"required"`
	// Direction is "push" (default: local → remote) or "pull" (rsync
	// only, needs ssh). Unison always syncs both ways.
	Direction string `yaml:"direction" cfg:"oneof=push|pull"`
	// SSH reaches the peer; an empty host means Remote is local.
	SSH SyncSSH `yaml:"ssh"`

	Delete bool `yaml:"delete"` // mirror deletions (rsync, lsyncd)
	// AllowEmptySource lets a sync with delete run from an empty local
	// directory (default: refused, so that an unmounted mount point does
	// not empty the peer's copy).
	AllowEmptySource bool     `yaml:"allow_empty_source"`
	Checksum         bool     `yaml:"checksum"` // compare contents (rsync)
	Compress         bool     `yaml:"compress"` // compress on the wire
	Excludes         []string `yaml:"excludes"` // rsync/lsyncd filter patterns
	// BandwidthLimit caps rsync in KiB/s (0: no cap).
	BandwidthLimit int `yaml:"bwlimit"`
	// Prefer settles unison conflicts: newer, older, local or remote;
	// empty leaves them unresolved and reported.
	Prefer string `yaml:"prefer" cfg:"oneof=newer|older|local|remote"`

	// Every runs the sync on a schedule (rsync, unison); 0: only on
	// demand. For the watcher it is the period of its full pass (default
	// 5m), which catches what events missed.
	Every time.Duration `yaml:"every"`
	// Jitter is the largest random delay added to each run (< every).
	Jitter time.Duration `yaml:"jitter"`
	// Delay is lsyncd's event collection delay (default 1s), or the
	// watcher's quiet time after a change before it ships a batch
	// (default 5ms).
	Delay time.Duration `yaml:"delay"`
	// MaxDelay caps the watcher's batching window under a steady stream
	// of changes (default 50ms).
	MaxDelay time.Duration `yaml:"max_delay"`
	// MaxAge is the default max_age of the checks of type sync that name
	// this entry: the node is fit to take over while the last success is
	// younger (0: each such check gives its own).
	MaxAge time.Duration `yaml:"max_age"`
	// LockFile is the overlap lock (flock), shared with other processes.
	LockFile string `yaml:"lock_file" cfg:"path"`
	// StateDir holds unison's archives or lsyncd's files.
	StateDir string `yaml:"state_dir" cfg:"path"`
	// After is a command run on the peer over ssh after each successful
	// sync (argv, quoted for the remote shell word by word).
	After []string `yaml:"after"`
}

// SyncSSH is how a sync reaches its peer. Host keys are always checked.
type SyncSSH struct {
	User string `yaml:"user"`
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// IdentityFile is the private key (relative to the file).
	IdentityFile string `yaml:"identity_file" cfg:"path"`
	// KnownHostsFile pins the peer's host key (relative to the file).
	KnownHostsFile string `yaml:"known_hosts_file" cfg:"path"`
}

func (d *decoder) validateSyncs(syncs []Sync) {
	seen := map[string]bool{}
	for i := range syncs {
		s := &syncs[i]
		p := fmt.Sprintf("syncs[%d]", i)
		if seen[s.Name] {
			d.errorf(d.at(p+".name"), p+".name", "sync %q given twice", s.Name)
		}
		seen[s.Name] = true
		tool := or(s.Tool, DefaultSyncTool)
		remote := s.SSH.Host != ""
		if remote && s.Remote != "" && !path.IsAbs(s.Remote) {
			d.errorf(d.at(p+".remote"), p+".remote", "must be an absolute path on the peer")
		}
		if d.valid(p+".ssh.port") && (s.SSH.Port < 1 || s.SSH.Port > 65535) {
			d.errorf(d.at(p+".ssh.port"), p+".ssh.port", "must be in 1..65535")
		}
		if s.Direction == "pull" && (tool != "rsync" || !remote) {
			d.errorf(d.at(p+".direction"), p+".direction", "pull needs tool rsync and ssh.host")
		}
		if s.Prefer != "" && tool != "unison" {
			d.errorf(d.at(p+".prefer"), p+".prefer", "only unison resolves conflicts")
		}
		if tool == "lsyncd" && d.given(p+".every") {
			d.errorf(d.at(p+".every"), p+".every", "lsyncd runs continuously; every is for rsync and unison")
		}
		if tool != "lsyncd" && tool != "watcher" && d.given(p+".delay") {
			d.errorf(d.at(p+".delay"), p+".delay", "delay is for lsyncd and watcher")
		}
		if tool != "watcher" && d.given(p+".max_delay") {
			d.errorf(d.at(p+".max_delay"), p+".max_delay", "max_delay is for watcher")
		}
		if tool == "watcher" && d.given(p+".jitter") {
			d.errorf(d.at(p+".jitter"), p+".jitter", "the watcher runs continuously; jitter is for rsync and unison")
		}
		if tool == "watcher" && len(s.After) > 0 {
			d.errorf(d.at(p+".after"), p+".after", "after is for scheduled syncs, not the watcher's batches")
		}
		if tool == "watcher" && s.MaxDelay > 0 && s.MaxDelay < s.Delay {
			d.errorf(d.at(p+".max_delay"), p+".max_delay", "must not be shorter than delay (%s)", s.Delay)
		}
		if len(s.After) > 0 && !remote {
			d.errorf(d.at(p+".after"), p+".after", "after runs on the peer: it needs ssh.host")
		}
		if d.given(p+".after") && len(s.After) == 0 {
			d.errorf(d.at(p+".after"), p+".after", "must not be empty")
		}
		if s.BandwidthLimit < 0 {
			d.errorf(d.at(p+".bwlimit"), p+".bwlimit", "must not be negative")
		}
		d.notNegative(p+".every", s.Every)
		d.notNegative(p+".jitter", s.Jitter)
		d.notNegative(p+".delay", s.Delay)
		d.notNegative(p+".max_delay", s.MaxDelay)
		d.notNegative(p+".max_age", s.MaxAge)
		if s.Jitter > 0 && s.Jitter >= s.Every {
			d.errorf(d.at(p+".jitter"), p+".jitter", "must be shorter than every (%s)", s.Every)
		}
	}
}

func syncDefaults(syncs []Sync) {
	for i := range syncs {
		s := &syncs[i]
		s.Tool = or(s.Tool, DefaultSyncTool)
		s.Direction = or(s.Direction, "push")
		switch s.Tool {
		case "lsyncd":
			s.Delay = or(s.Delay, DefaultSyncDelay)
		case "watcher":
			s.Delay = or(s.Delay, DefaultWatcherDelay)
			s.MaxDelay = or(s.MaxDelay, DefaultWatcherMaxDelay)
		}
	}
}
