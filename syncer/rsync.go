package syncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// RsyncConfig configures an [Rsync]. The zero value of each optional
// field is its default.
type RsyncConfig struct {
	// Source is the directory whose contents are copied. Local paths are
	// made absolute; with SSH and Pull it is an absolute path on the peer.
	Source string
	// Dest is the directory that receives them (created if missing).
	// With SSH and not Pull it is an absolute path on the peer. Local
	// Source and Dest may not be the same or hold one another.
	Dest string
	// SSH, when set, puts Dest (push) or Source (Pull) on the peer.
	SSH *SSH
	// Pull copies from the peer to here; it needs SSH.
	Pull bool

	// Delete removes files in Dest that are not in Source (--delete).
	// Only Dest is ever touched. A whole-tree run with Delete refuses an
	// empty local Source (ErrEmptySource): an unmounted mount point or a
	// wiped disk must not wipe the standby's copy too.
	Delete bool
	// AllowEmptySource lets a whole-tree run with Delete empty Dest when
	// Source is an empty directory.
	AllowEmptySource bool
	// Checksum compares contents rather than size and mtime (--checksum).
	Checksum bool
	// Compress compresses the data on the wire (-z); useful over ssh.
	Compress bool
	// Excludes are rsync filter patterns left out of the sync (and, with
	// Delete, protected from deletion in Dest).
	Excludes []string
	// BandwidthLimit caps the transfer in KiB per second (0: no cap).
	BandwidthLimit int
	// DryRun reports what would change without changing anything (-n).
	DryRun bool
	// IOTimeout ends the run when no data moves for that long
	// (--timeout; default 0: only ssh's keep-alives, 15 s, apply).
	IOTimeout time.Duration

	// LockFile is the overlap lock's file (see [Lock]). Empty: the lock
	// only excludes runs within this process.
	LockFile string
	// OnProgress, when set, receives rsync's --info=progress2 updates
	// while a run goes on (called from the goroutine reading rsync's
	// output; keep it quick).
	OnProgress func(Progress)

	// Program is the rsync binary (default "rsync" from $PATH).
	Program string
	// Runner runs rsync (nil: the real one). Progress and statistics are
	// read from what it writes to Cmd.Stdout (as cmdrun.Exec and
	// cmdrun.Recorder do), else from Result.Stdout.
	Runner cmdrun.Runner
	// Logger receives a line per run at Info (nil: discard).
	Logger *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c RsyncConfig) Validate() error {
	switch {
	case c.Source == "":
		return errors.New("syncer: rsync: source is required")
	case c.Dest == "":
		return errors.New("syncer: rsync: dest is required")
	case c.Pull && c.SSH == nil:
		return errors.New("syncer: rsync: pull needs ssh")
	case c.BandwidthLimit < 0:
		return errors.New("syncer: rsync: negative bandwidth limit")
	case c.IOTimeout < 0:
		return errors.New("syncer: rsync: negative I/O timeout")
	}
	for _, e := range c.Excludes {
		if e == "" || strings.ContainsAny(e, "\n\x00") {
			return fmt.Errorf("syncer: rsync: invalid exclude %q", e)
		}
	}
	for _, p := range []string{c.Source, c.Dest} {
		if strings.ContainsRune(p, 0) {
			return fmt.Errorf("syncer: rsync: path %q holds a NUL byte", p)
		}
	}
	if c.SSH != nil {
		if err := c.SSH.Validate(); err != nil {
			return err
		}
		remote := c.Dest
		if c.Pull {
			remote = c.Source
		}
		if !strings.HasPrefix(remote, "/") {
			return fmt.Errorf("syncer: rsync: remote path %q must be absolute", remote)
		}
	}
	return nil
}

// Rsync copies one directory tree to another with rsync(1), locally or
// over ssh. It is safe for concurrent use; overlapping runs get ErrBusy.
type Rsync struct {
	cfg    RsyncConfig
	runner cmdrun.Runner
	log    *slog.Logger
	lock   Lock

	mu     sync.Mutex
	master *Master
}

var _ Syncer = (*Rsync)(nil)

// NewRsync checks cfg and returns the syncer.
func NewRsync(cfg RsyncConfig) (*Rsync, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var err error
	if cfg.SSH == nil || !cfg.Pull {
		if cfg.Source, err = filepath.Abs(cfg.Source); err != nil {
			return nil, fmt.Errorf("syncer: rsync source: %w", err)
		}
	}
	if cfg.SSH == nil || cfg.Pull {
		if cfg.Dest, err = filepath.Abs(cfg.Dest); err != nil {
			return nil, fmt.Errorf("syncer: rsync dest: %w", err)
		}
	}
	if cfg.SSH != nil {
		s := *cfg.SSH
		cfg.SSH = &s
		cfg.Source, cfg.Dest = path.Clean(cfg.Source), path.Clean(cfg.Dest)
	} else if err := disjoint(cfg.Source, cfg.Dest); err != nil {
		return nil, fmt.Errorf("syncer: rsync: %w", err)
	}
	if cfg.Program == "" {
		cfg.Program = lookPath("rsync")
	}
	return &Rsync{cfg: cfg, runner: runnerOr(cfg.Runner), log: loggerOr(cfg.Logger), lock: Lock{Path: cfg.LockFile}}, nil
}

// Config returns the configuration in use, with paths made absolute.
func (r *Rsync) Config() RsyncConfig { return r.cfg }

// Connect opens an ssh master connection that later runs share, until
// Close. Without SSH it does nothing. If the master dies, runs fall back
// to a connection of their own.
func (r *Rsync) Connect(ctx context.Context) error {
	if r.cfg.SSH == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.master != nil {
		select {
		case <-r.master.Done():
			r.master.Close()
			r.master = nil
		default:
			return nil
		}
	}
	m, err := r.cfg.SSH.StartMaster(ctx)
	if err != nil {
		return err
	}
	r.master = m
	return nil
}

// Close ends the master connection opened by Connect, if any.
func (r *Rsync) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.master == nil {
		return nil
	}
	err := r.master.Close()
	r.master = nil
	return err
}

func (r *Rsync) ssh() SSH {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.master != nil {
		return r.master.SSH()
	}
	return *r.cfg.SSH
}

// Sync copies the whole tree. A partial transfer (rsync exit 23 or 24),
// an ssh failure (255) or any other failure is an *ExitError returned
// with the Report of what rsync says it did.
func (r *Rsync) Sync(ctx context.Context) (Report, error) {
	return r.run(ctx, nil, nil)
}

// SyncPaths copies only the given paths, relative to Source, in one run:
// the list goes to rsync on stdin (--files-from=- --from0), so any byte
// but NUL may appear in a name. A listed directory is copied with its
// contents. A listed path missing from Source is deleted in Dest when
// Delete is set (--delete-missing-args) and ignored otherwise. Paths that
// are absolute or climb out with ".." are refused; a path through a
// symlinked directory of a local Source is cut at the symlink, which is
// copied as a symlink (rsync would follow it out of the tree).
func (r *Rsync) SyncPaths(ctx context.Context, paths []string) (Report, error) {
	if len(paths) == 0 {
		return Report{}, nil
	}
	list, err := r.listPaths(paths)
	if err != nil {
		return Report{}, err
	}
	return r.run(ctx, list, nil)
}

// listPaths checks paths with relPath and, for a local Source, cuts each
// at its first symlinked directory: rsync follows a symlink in the middle
// of a listed path, so "link/f" with link -> /etc would copy /etc/f to
// the peer (and, with Delete, delete Dest's link/f when /etc/f is
// missing). Listing the symlink itself copies it as a symlink, as a
// whole-tree run does.
func (r *Rsync) listPaths(paths []string) ([]string, error) {
	list := make([]string, 0, len(paths))
	for _, p := range paths {
		clean, err := relPath(p)
		if err != nil {
			return nil, err
		}
		if r.cfg.SSH == nil || !r.cfg.Pull {
			clean = cutAtSymlink(r.cfg.Source, clean)
		}
		list = append(list, clean)
	}
	return list, nil
}

// cutAtSymlink returns the shortest leading part of rel (relative to
// root) that is a symlink, or rel when no directory on its way is one.
func cutAtSymlink(root, rel string) string {
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(root, rel[:i])); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return rel[:i]
		}
	}
	return rel
}

// disjoint refuses two local roots that are the same directory or lie
// one inside the other: a Dest holding Source would have its copy of
// the source, and with --delete the source itself, deleted or
// overwritten; a Source holding Dest copies the copy into itself.
func disjoint(a, b string) error {
	inside := func(p, root string) bool {
		rel, err := filepath.Rel(root, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if inside(a, b) || inside(b, a) {
		return fmt.Errorf("%q and %q overlap: one holds the other", a, b)
	}
	return nil
}

// withSlash ends p with exactly one "/": rsync then copies the
// directory's contents, not the directory itself.
func withSlash(p string) string { return strings.TrimRight(p, "/") + "/" }

// relPath checks that p names something inside the root.
func relPath(p string) (string, error) {
	if p == "" || strings.ContainsRune(p, 0) || path.IsAbs(p) {
		return "", fmt.Errorf("syncer: path %q is not relative to the root", p)
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("syncer: path %q leaves the root", p)
	}
	return clean, nil
}

// Args returns the argv (without the program) of a whole-tree run, for
// logs and tests.
func (r *Rsync) Args() ([]string, error) { return r.args(false, r.cfg.OnProgress != nil, nil) }

// args builds the argv of a run: over ssh as configured, or, with via,
// to the rsync daemon that via reaches (see rsyncd.go).
func (r *Rsync) args(list, progress bool, via *daemonTarget) ([]string, error) {
	c := r.cfg
	args := []string{"--archive", "--stats", "--mkpath"}
	if c.Delete {
		args = append(args, "--delete")
	}
	if c.Checksum {
		args = append(args, "--checksum")
	}
	if c.Compress {
		args = append(args, "--compress")
	}
	if c.BandwidthLimit > 0 {
		args = append(args, "--bwlimit="+strconv.Itoa(c.BandwidthLimit))
	}
	if c.DryRun {
		args = append(args, "--dry-run")
	}
	if c.IOTimeout > 0 {
		args = append(args, "--timeout="+strconv.Itoa(max(1, int(c.IOTimeout/time.Second))))
	}
	for _, e := range c.Excludes {
		args = append(args, "--exclude="+e)
	}
	if progress {
		args = append(args, "--info=progress2")
	}
	if list {
		args = append(args, "--files-from=-", "--from0", "--recursive")
		if c.Delete {
			args = append(args, "--delete-missing-args")
		} else {
			args = append(args, "--ignore-missing-args")
		}
	}
	src, dst := withSlash(c.Source), withSlash(c.Dest)
	if via != nil {
		return append(append(args, via.args...), "--", src, via.dest(c.Dest)), nil
	}
	if c.SSH != nil {
		rsh, err := r.ssh().rsh()
		if err != nil {
			return nil, err
		}
		// --secluded-args (-s): paths travel inside the protocol, not
		// through the remote shell.
		args = append(args, "--rsh="+rsh, "--protect-args")
		if c.Pull {
			src = c.SSH.Destination() + ":" + src
		} else {
			dst = c.SSH.Destination() + ":" + dst
		}
	}
	return append(args, "--", src, dst), nil
}

func (r *Rsync) run(ctx context.Context, list []string, via *daemonTarget) (Report, error) {
	start := time.Now()
	unlock, err := r.lock.TryLock()
	if err != nil {
		return Report{}, fmt.Errorf("syncer: rsync %s: %w", r.name(), err)
	}
	defer unlock()
	if r.cfg.SSH == nil || !r.cfg.Pull {
		if st, err := os.Stat(r.cfg.Source); err != nil || !st.IsDir() {
			return Report{}, fmt.Errorf("syncer: rsync %s: %w", r.cfg.Source, ErrNoSource)
		}
		if list == nil && r.cfg.Delete && !r.cfg.AllowEmptySource {
			if empty, err := emptyDir(r.cfg.Source); err != nil || empty {
				return Report{}, fmt.Errorf("syncer: rsync %s: %w", r.cfg.Source, ErrEmptySource)
			}
		}
	}
	progress := r.cfg.OnProgress != nil
	args, err := r.args(list != nil, progress, via)
	if err != nil {
		return Report{}, err
	}
	cmd := cmdrun.Cmd{Path: r.cfg.Program, Args: args, Env: []string{"LC_ALL=C"}}
	if list != nil {
		var b bytes.Buffer
		for _, p := range list {
			b.WriteString(p)
			b.WriteByte(0)
		}
		cmd.Stdin = &b
	}
	// The statistics come last, after any amount of progress output:
	// keep the tail of stdout rather than the runner's bounded head.
	tail := &tailBuffer{max: cmdrun.MaxOutput}
	cmd.Stdout = tail
	var pw *progressWriter
	if progress {
		pw = &progressWriter{fn: r.cfg.OnProgress}
		cmd.Stdout = io.MultiWriter(tail, pw)
	}
	res, err := r.runner.Run(ctx, cmd)
	if pw != nil {
		pw.flush()
	}
	out := tail.bytes()
	if len(out) == 0 { // a Runner that does not write to Cmd.Stdout
		out = res.Stdout
	}
	rep := parseStats(out)
	rep.Duration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("syncer: rsync %s: %w", r.name(), err)
		}
		return rep, fmt.Errorf("syncer: rsync %s: %w", r.name(), rsyncExit(exitCode(res, err), string(res.Stderr), err))
	}
	if via == nil { // a run through a tunnel is a watcher's batch, which the watcher logs
		r.log.Info("rsync done", "sync", r.name(), "files", rep.Files, "bytes", rep.Bytes, "deleted", rep.Deleted, "paths", len(list), "dry_run", r.cfg.DryRun, "duration", rep.Duration)
	}
	return rep, nil
}

// name is "SRC -> DST" for messages.
func (r *Rsync) name() string {
	src, dst := r.cfg.Source, r.cfg.Dest
	if r.cfg.SSH != nil {
		if r.cfg.Pull {
			src = r.cfg.SSH.Destination() + ":" + src
		} else {
			dst = r.cfg.SSH.Destination() + ":" + dst
		}
	}
	return strconv.Quote(src) + " -> " + strconv.Quote(dst)
}

var statLine = regexp.MustCompile(`(?m)^(Number of regular files transferred|Total transferred file size|Number of deleted files): ([\d,.]+)`)

// parseStats reads rsync's --stats block.
func parseStats(out []byte) Report {
	var rep Report
	for _, m := range statLine.FindAllSubmatch(out, -1) {
		n, err := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(string(m[2])), 10, 64)
		if err != nil {
			continue
		}
		switch string(m[1]) {
		case "Number of regular files transferred":
			rep.Files = int(n)
		case "Total transferred file size":
			rep.Bytes = n
		case "Number of deleted files":
			rep.Deleted = int(n)
		}
	}
	return rep
}

// Progress is one --info=progress2 update: totals for the whole run.
type Progress struct {
	// Bytes transferred so far.
	Bytes int64
	// Percent of the total size rsync knows of so far (0–100).
	Percent int
	// Rate is rsync's rendering of the current speed ("1.23MB/s").
	Rate string
	// ETA is rsync's estimate of the time left.
	ETA time.Duration
	// Transfers is the number of files transferred so far (xfr#).
	Transfers int
	// ToCheck and Total: files still to check of those known (to-chk or
	// ir-chk; Total grows while rsync still scans).
	ToCheck, Total int
}

var progressLine = regexp.MustCompile(`^\s*([\d,.]+)\s+(\d+)%\s+(\S+)\s+(\d+):(\d\d):(\d\d)(?:\s+\(xfr#(\d+), (?:to|ir)-chk=(\d+)/(\d+)\))?`)

// ParseProgress parses one --info=progress2 line (without the \r).
func ParseProgress(line string) (Progress, bool) {
	m := progressLine.FindStringSubmatch(line)
	if m == nil {
		return Progress{}, false
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	b, err := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[1]), 10, 64)
	if err != nil {
		return Progress{}, false
	}
	p := Progress{
		Bytes:   b,
		Percent: min(100, atoi(m[2])),
		Rate:    m[3],
		ETA:     time.Duration(atoi(m[4]))*time.Hour + time.Duration(atoi(m[5]))*time.Minute + time.Duration(atoi(m[6]))*time.Second,
	}
	if m[7] != "" {
		p.Transfers, p.ToCheck, p.Total = atoi(m[7]), atoi(m[8]), atoi(m[9])
	}
	return p, true
}

// progressWriter splits rsync's output on \r and \n and reports each
// progress line.
type progressWriter struct {
	fn   func(Progress)
	line []byte
}

var _ io.Writer = (*progressWriter)(nil)

func (w *progressWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\r' || c == '\n' {
			w.flush()
			continue
		}
		if len(w.line) < 512 {
			w.line = append(w.line, c)
		}
	}
	return len(p), nil
}

func (w *progressWriter) flush() {
	if len(w.line) == 0 {
		return
	}
	if p, ok := ParseProgress(string(w.line)); ok {
		w.fn(p)
	}
	w.line = w.line[:0]
}

// emptyDir reports whether dir has no entries.
func emptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}
