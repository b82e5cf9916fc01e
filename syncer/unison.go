package syncer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// UnisonConfig configures a [Unison]: two replicas kept in step both
// ways, as in the article's "unison every 5 minutes".
type UnisonConfig struct {
	// Root1 is a local directory.
	Root1 string
	// Root2 is a local directory, or with SSH an absolute path on the
	// peer (unison must be installed there, same version).
	Root2 string
	// SSH, when set, puts Root2 on the peer. Its IdentityFile and
	// KnownHostsFile may not contain spaces (unison splits -sshargs on
	// whitespace).
	SSH *SSH

	// Prefer resolves conflicts: "" leaves them alone (they are reported
	// in Report.Conflicts and the run fails with ErrConflict), "newer" or
	// "older" picks by mtime, "root1" or "root2" makes that side win.
	Prefer string
	// CopyOnConflict keeps the losing version of a resolved conflict
	// beside it as "NAME (conflict on DATE)" (-copyonconflict).
	CopyOnConflict bool
	// NoFastCheck compares file contents instead of trusting size and
	// mtime (-fastcheck false). Without it a same-size change made in the
	// same second as the previous sync can go unseen.
	NoFastCheck bool
	// Ignore lists unison path specifications left out, such as
	// "Name *.tmp" or "Path cache" (-ignore).
	Ignore []string
	// StateDir holds unison's archives and is passed as $UNISON, one per
	// syncer (default: a directory under the user's cache directory
	// named after the two roots).
	StateDir string

	// RemoteStateDir, with SSH, is $UNISON for the unison server on the
	// peer (default: the peer's ~/.unison).
	RemoteStateDir string

	// LockFile is the overlap lock's file (see [Lock]).
	LockFile string
	// Program is the unison binary (default "unison" from $PATH).
	Program string
	// Runner runs unison (nil: the real one).
	Runner cmdrun.Runner
	// Logger receives a line per run at Info (nil: discard).
	Logger *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c UnisonConfig) Validate() error {
	switch {
	case c.Root1 == "" || c.Root2 == "":
		return errors.New("syncer: unison: two roots are required")
	case strings.ContainsAny(c.Root1+c.Root2, "\x00\n"):
		return errors.New("syncer: unison: roots may not hold NUL or newline")
	}
	switch c.Prefer {
	case "", "newer", "older", "root1", "root2":
	default:
		return fmt.Errorf("syncer: unison: prefer %q is not one of newer, older, root1, root2", c.Prefer)
	}
	for _, ig := range c.Ignore {
		if !strings.HasPrefix(ig, "Name ") && !strings.HasPrefix(ig, "Path ") && !strings.HasPrefix(ig, "Regex ") && !strings.HasPrefix(ig, "BelowPath ") {
			return fmt.Errorf("syncer: unison: ignore %q must start with Name, Path, BelowPath or Regex", ig)
		}
	}
	if c.SSH != nil {
		if err := c.SSH.Validate(); err != nil {
			return err
		}
		if !strings.HasPrefix(c.Root2, "/") {
			return fmt.Errorf("syncer: unison: remote root %q must be absolute", c.Root2)
		}
		for _, a := range c.SSH.Args()[1:] {
			if strings.ContainsAny(a, " \t\n") {
				return fmt.Errorf("syncer: unison: ssh argument %q holds whitespace, which unison's -sshargs cannot carry", a)
			}
		}
	}
	return nil
}

// Unison synchronises two replicas both ways with unison(1) in batch
// mode. Conflicts are never skipped silently: without a Prefer rule they
// are listed in Report.Conflicts and the run returns ErrConflict.
type Unison struct {
	cfg    UnisonConfig
	runner cmdrun.Runner
	log    *slog.Logger
	lock   Lock
}

var _ Syncer = (*Unison)(nil)

// NewUnison checks cfg and returns the syncer. It creates StateDir.
func NewUnison(cfg UnisonConfig) (*Unison, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var err error
	if cfg.Root1, err = filepath.Abs(cfg.Root1); err != nil {
		return nil, fmt.Errorf("syncer: unison root1: %w", err)
	}
	if cfg.SSH == nil {
		if cfg.Root2, err = filepath.Abs(cfg.Root2); err != nil {
			return nil, fmt.Errorf("syncer: unison root2: %w", err)
		}
	} else {
		s := *cfg.SSH
		cfg.SSH = &s
		cfg.Root2 = path.Clean(cfg.Root2)
	}
	if cfg.StateDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("syncer: unison state directory: %w", err)
		}
		sum := sha256.Sum256([]byte(cfg.Root1 + "\x00" + cfg.root2()))
		cfg.StateDir = filepath.Join(cache, "understudy", "unison-"+hex.EncodeToString(sum[:8]))
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("syncer: unison state directory: %w", err)
	}
	if cfg.Program == "" {
		cfg.Program = lookPath("unison")
	}
	return &Unison{cfg: cfg, runner: runnerOr(cfg.Runner), log: loggerOr(cfg.Logger), lock: Lock{Path: cfg.LockFile}}, nil
}

// Config returns the configuration in use (roots absolute, StateDir
// filled in).
func (u *Unison) Config() UnisonConfig { return u.cfg }

// root2 is Root2 as unison wants it: a path, or ssh://user@host:port//path.
func (c UnisonConfig) root2() string {
	if c.SSH == nil {
		return c.Root2
	}
	hostport := c.SSH.Destination()
	if c.SSH.Port != 0 {
		hostport += ":" + strconv.Itoa(c.SSH.Port)
	}
	return "ssh://" + hostport + "/" + c.Root2
}

// Args returns unison's argv (without the program).
func (u *Unison) Args() []string {
	c := u.cfg
	args := []string{c.Root1, c.root2(), "-batch", "-auto", "-times", "-ui", "text", "-log=false"}
	switch c.Prefer {
	case "newer", "older":
		args = append(args, "-prefer", c.Prefer)
	case "root1":
		args = append(args, "-prefer", c.Root1)
	case "root2":
		args = append(args, "-prefer", c.root2())
	}
	if c.CopyOnConflict {
		args = append(args, "-copyonconflict")
	}
	if c.NoFastCheck {
		args = append(args, "-fastcheck", "false")
	}
	for _, ig := range c.Ignore {
		args = append(args, "-ignore", ig)
	}
	if c.SSH != nil {
		ssh := c.SSH.Args()
		// The port travels in the root's URL; unison adds -p itself.
		var rest []string
		for i := 1; i < len(ssh); i++ {
			if ssh[i] == "-p" {
				i++
				continue
			}
			rest = append(rest, ssh[i])
		}
		args = append(args, "-sshcmd", ssh[0], "-sshargs", strings.Join(rest, " "))
		if c.RemoteStateDir != "" {
			// unison appends " -server" and ssh hands the line to the
			// peer's shell: quote each word.
			args = append(args, "-servercmd", QuoteRemote([]string{"env", "UNISON=" + c.RemoteStateDir, "unison"}))
		}
	}
	return args
}

// Sync runs unison once. Exit 1 (items skipped, conflicts among them)
// is ErrConflict, 2 (some transfers failed) ErrPartial, 3 (fatal)
// ErrFailed; each with the Report parsed from unison's output.
func (u *Unison) Sync(ctx context.Context) (Report, error) {
	start := time.Now()
	unlock, err := u.lock.TryLock()
	if err != nil {
		return Report{}, fmt.Errorf("syncer: unison %s: %w", u.name(), err)
	}
	defer unlock()
	if st, err := os.Stat(u.cfg.Root1); err != nil || !st.IsDir() {
		return Report{}, fmt.Errorf("syncer: unison %s: %w", u.cfg.Root1, ErrNoSource)
	}
	res, err := u.runner.Run(ctx, cmdrun.Cmd{Path: u.cfg.Program, Args: u.Args(), Env: []string{"UNISON=" + u.cfg.StateDir, "LC_ALL=C"}})
	rep := parseUnison(append(append([]byte(nil), res.Stdout...), res.Stderr...))
	rep.Duration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("syncer: unison %s: %w", u.name(), err)
		}
		return rep, fmt.Errorf("syncer: unison %s: %w", u.name(), unisonExit(exitCode(res, err), string(res.Stderr), len(rep.Conflicts), err))
	}
	if len(rep.Conflicts) > 0 { // exit 0 should not carry skips; never let one pass
		return rep, fmt.Errorf("syncer: unison %s: %d conflicts: %w", u.name(), len(rep.Conflicts), ErrConflict)
	}
	u.log.Info("unison done", "sync", u.name(), "files", rep.Files, "deleted", rep.Deleted, "duration", rep.Duration)
	return rep, nil
}

func (u *Unison) name() string {
	return strconv.Quote(u.cfg.Root1) + " <-> " + strconv.Quote(u.cfg.root2())
}

var (
	unisonSummary = regexp.MustCompile(`Synchronization (?:complete|incomplete) at [0-9:]+\s+\((\d+) items? transferred, (\d+) skipped, (\d+) failed\)`)
	unisonSkipped = regexp.MustCompile(`(?m)^\s+skipped: (.*) \(([^()]*)\)\s*$`)
	unisonDeleted = regexp.MustCompile(`(?m)^\[END\] Deleting `)
)

// parseUnison reads unison's text output (stdout and stderr together;
// progress lines end in \r).
func parseUnison(out []byte) Report {
	out = bytes.ReplaceAll(out, []byte("\r"), []byte("\n"))
	var rep Report
	rep.Deleted = len(unisonDeleted.FindAll(out, -1))
	if m := unisonSummary.FindSubmatch(out); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		rep.Files = max(0, n-rep.Deleted)
	}
	for _, m := range unisonSkipped.FindAllSubmatch(out, -1) {
		rep.Conflicts = append(rep.Conflicts, string(m[1]))
	}
	return rep
}
