package replicate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
)

const (
	drbdSecondaryUp = "r0 role:Secondary\n  disk:UpToDate\n  bob role:Primary\n    peer-disk:UpToDate\n"
	drbdPrimaryUp   = "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    peer-disk:UpToDate\n"
)

// fakeDrbdadm answers drbdadm status with its current state, and primary
// and secondary by changing the role in it, as the kernel would.
type fakeDrbdadm struct {
	mu    sync.Mutex
	state string
	// fail, when set, is the error of primary and secondary.
	fail error
	// stuck leaves the role unchanged although the command succeeds.
	stuck bool
}

func (f *fakeDrbdadm) respond(c cmdrun.Cmd) (cmdrun.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Args[0] {
	case "status":
		return cmdrun.Result{Stdout: []byte(f.state)}, nil
	case "primary", "secondary":
		if f.fail != nil {
			return cmdrun.Result{ExitCode: 11}, f.fail
		}
		if !f.stuck {
			want := "role:Primary"
			if c.Args[0] == "secondary" {
				want = "role:Secondary"
			}
			first, rest, _ := strings.Cut(f.state, "\n")
			first = strings.Replace(strings.Replace(first, "role:Primary", want, 1), "role:Secondary", want, 1)
			f.state = first + "\n" + rest
		}
		return cmdrun.Result{}, nil
	}
	return cmdrun.Result{ExitCode: 20}, errors.New("unknown command")
}

func newFakeDRBD(t *testing.T, state string, cfg DRBDConfig) (*DRBD, *fakeDrbdadm, *cmdrun.Recorder) {
	t.Helper()
	fake := &fakeDrbdadm{state: state}
	rec := &cmdrun.Recorder{Respond: fake.respond}
	cfg.Resource, cfg.Source, cfg.Drbdadm, cfg.Runner = "r0", DRBDSourceDrbdadm, "/sbin/drbdadm", rec
	d, err := NewDRBD(cfg)
	require.NoError(t, err)
	return d, fake, rec
}

func argvs(s ...string) [][]string {
	out := make([][]string, len(s))
	for i, a := range s {
		out[i] = strings.Fields(a)
	}
	return out
}

func TestDRBDPromote(t *testing.T) {
	tests := []struct {
		name  string
		state string
		force bool
		want  [][]string
		err   error
	}{
		{name: "secondary up to date", state: drbdSecondaryUp,
			want: argvs("/sbin/drbdadm status r0", "/sbin/drbdadm primary r0", "/sbin/drbdadm status r0")},
		{name: "already primary", state: drbdPrimaryUp,
			want: argvs("/sbin/drbdadm status r0")},
		{name: "peer gone, disk up to date", state: "r0 role:Secondary\n  disk:UpToDate\n  bob connection:Connecting\n",
			want: argvs("/sbin/drbdadm status r0", "/sbin/drbdadm primary r0", "/sbin/drbdadm status r0")},
		{name: "inconsistent refused", state: "r0 role:Secondary\n  disk:Inconsistent\n  bob role:Primary\n    replication:SyncTarget peer-disk:UpToDate done:3.00\n",
			want: argvs("/sbin/drbdadm status r0"), err: ErrDRBDUnsafePromote},
		{name: "outdated refused", state: "r0 role:Secondary\n  disk:Outdated\n  bob connection:Connecting\n",
			want: argvs("/sbin/drbdadm status r0"), err: ErrDRBDUnsafePromote},
		{name: "diskless refused", state: "r0 role:Secondary\n  disk:Diskless\n  bob role:Primary\n    peer-disk:UpToDate\n",
			want: argvs("/sbin/drbdadm status r0"), err: ErrDRBDUnsafePromote},
		{name: "one of two volumes inconsistent refused", state: "r0 role:Secondary\n  volume:0 disk:UpToDate\n  volume:1 disk:Inconsistent\n  bob connection:Connecting\n",
			want: argvs("/sbin/drbdadm status r0"), err: ErrDRBDUnsafePromote},
		{name: "inconsistent forced", state: "r0 role:Secondary\n  disk:Inconsistent\n  bob role:Secondary\n    peer-disk:Inconsistent\n", force: true,
			want: argvs("/sbin/drbdadm status r0", "/sbin/drbdadm primary --force r0", "/sbin/drbdadm status r0")},
		{name: "unreadable status", state: "garbage\n",
			want: argvs("/sbin/drbdadm status r0"), err: ErrDRBDFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, fake, rec := newFakeDRBD(t, tt.state, DRBDConfig{Force: tt.force})
			err := d.Promote(context.Background())
			assert.Equal(t, tt.want, rec.Argvs())
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Contains(t, err.Error(), "r0")
				assert.Equal(t, tt.state, fake.state, "state changed by a refused promotion")
				return
			}
			require.NoError(t, err)
			r, err := d.Resource(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "Primary", r.Role)
		})
	}
}

func TestDRBDPromoteFailures(t *testing.T) {
	t.Run("drbdadm refuses", func(t *testing.T) {
		d, fake, _ := newFakeDRBD(t, drbdSecondaryUp, DRBDConfig{})
		fake.fail = &cmdrun.Error{Cmd: "drbdadm primary r0", ExitCode: 11, Stderr: "r0: State change failed: (-1) Multiple primaries not allowed by config", Err: errors.New("exit status 11")}
		err := d.Promote(context.Background())
		var ce *cmdrun.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 11, ce.ExitCode)
		assert.Contains(t, err.Error(), "replicate: drbd r0: primary")
	})
	t.Run("role unchanged", func(t *testing.T) {
		d, fake, _ := newFakeDRBD(t, drbdSecondaryUp, DRBDConfig{})
		fake.stuck = true
		err := d.Promote(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the role is Secondary")
	})
}

func TestDRBDDemote(t *testing.T) {
	t.Run("primary", func(t *testing.T) {
		d, fake, rec := newFakeDRBD(t, drbdPrimaryUp, DRBDConfig{})
		require.NoError(t, d.Demote(context.Background()))
		assert.Equal(t, argvs("/sbin/drbdadm status r0", "/sbin/drbdadm secondary r0", "/sbin/drbdadm status r0"), rec.Argvs())
		assert.True(t, strings.HasPrefix(fake.state, "r0 role:Secondary"))
	})
	t.Run("already secondary", func(t *testing.T) {
		d, _, rec := newFakeDRBD(t, drbdSecondaryUp, DRBDConfig{})
		require.NoError(t, d.Demote(context.Background()))
		assert.Equal(t, argvs("/sbin/drbdadm status r0"), rec.Argvs())
	})
	t.Run("device in use", func(t *testing.T) {
		d, fake, _ := newFakeDRBD(t, drbdPrimaryUp, DRBDConfig{})
		fake.fail = &cmdrun.Error{Cmd: "drbdadm secondary r0", ExitCode: 11, Stderr: "r0: State change failed: (-12) Device is held open by someone", Err: errors.New("exit status 11")}
		err := d.Demote(context.Background())
		var ce *cmdrun.Error
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, err.Error(), "held open")
	})
}

func TestDRBDSwitch(t *testing.T) {
	d, fake, rec := newFakeDRBD(t, drbdSecondaryUp, DRBDConfig{Self: "alice"})
	ctx := context.Background()
	require.NoError(t, d.Switch(ctx, failover.Node{Name: "alice"}))
	assert.True(t, strings.HasPrefix(fake.state, "r0 role:Primary"))
	require.NoError(t, d.Switch(ctx, failover.Node{Name: "alice"}), "idempotent")
	require.NoError(t, d.Switch(ctx, failover.Node{}), "the zero node releases")
	assert.True(t, strings.HasPrefix(fake.state, "r0 role:Secondary"))
	require.NoError(t, d.Switch(ctx, failover.Node{Name: "bob"}))
	assert.Equal(t, argvs(
		"/sbin/drbdadm status r0", "/sbin/drbdadm primary r0", "/sbin/drbdadm status r0",
		"/sbin/drbdadm status r0",
		"/sbin/drbdadm status r0", "/sbin/drbdadm secondary r0", "/sbin/drbdadm status r0",
		"/sbin/drbdadm status r0",
	), rec.Argvs())

	noSelf, _, rec2 := newFakeDRBD(t, drbdSecondaryUp, DRBDConfig{})
	err := noSelf.Switch(ctx, failover.Node{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "self")
	assert.Empty(t, rec2.Argvs())
}

func TestDRBDConfigValidate(t *testing.T) {
	for _, cfg := range []DRBDConfig{
		{}, {Resource: "all"}, {Resource: "--force"}, {Resource: "r 0"}, {Resource: "r0", Source: "sysfs"}, {Resource: "r0", Minors: []int{-1}},
	} {
		_, err := NewDRBD(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}

func writeProc(t *testing.T, fixture string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "drbd")
	require.NoError(t, os.WriteFile(p, []byte(drbdFixture(t, fixture)), 0o644))
	return p
}

func TestDRBDStatusFromProc(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		fixture string
		minors  []int
		running bool
		lag     time.Duration
		errIs   error
		errHas  string
	}{
		{name: "connected", fixture: "proc-84-connected.txt", running: true},
		{name: "sync target", fixture: "proc-84-synctarget.txt", running: true, lag: 4*time.Minute + 40*time.Second},
		{name: "standalone", fixture: "proc-84-standalone.txt", lag: -1},
		{name: "article, both inconsistent", fixture: "proc-07-article-inconsistent.txt", lag: -1},
		{name: "two minors chosen", fixture: "proc-83-two-minors.txt", minors: []int{0, 1}, running: true},
		{name: "two minors, none chosen", fixture: "proc-83-two-minors.txt", errHas: "configure the minors"},
		{name: "unconfigured minor", fixture: "proc-83-two-minors.txt", minors: []int{2}, errIs: ErrDRBDNoResource},
		{name: "drbd 9 in proc mode", fixture: "proc-9.txt", errIs: ErrDRBDFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &cmdrun.Recorder{}
			d, err := NewDRBD(DRBDConfig{Resource: "repl", Source: DRBDSourceProc, Minors: tt.minors, ProcPath: writeProc(t, tt.fixture), Runner: rec})
			require.NoError(t, err)
			st, err := d.Status(ctx)
			assert.Empty(t, rec.Argvs(), "proc mode runs nothing")
			if tt.errIs != nil || tt.errHas != "" {
				require.Error(t, err)
				if tt.errIs != nil {
					assert.ErrorIs(t, err, tt.errIs)
				}
				assert.Contains(t, err.Error(), "drbd repl")
				assert.Contains(t, err.Error(), tt.errHas)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "repl", st.Server)
			assert.Equal(t, tt.running, st.Running, st.Err)
			assert.Equal(t, tt.lag, st.Lag)
			assert.Equal(t, tt.running, st.Err == "", st.Err)
			r, ok := st.Detail.(DRBDResource)
			require.True(t, ok)
			assert.Equal(t, "repl", r.Name)
			assert.Len(t, r.Volumes, max(1, len(tt.minors)))
		})
	}

	t.Run("module not loaded", func(t *testing.T) {
		d, err := NewDRBD(DRBDConfig{Resource: "repl", ProcPath: filepath.Join(t.TempDir(), "missing")})
		require.NoError(t, err)
		_, err = d.Status(ctx)
		require.ErrorIs(t, err, ErrDRBDNotLoaded)
		assert.Contains(t, err.Error(), "drbd repl")
	})
	t.Run("auto: drbd 9 proc leads to drbdadm status", func(t *testing.T) {
		rec := &cmdrun.Recorder{Respond: (&fakeDrbdadm{state: drbdSecondaryUp}).respond}
		d, err := NewDRBD(DRBDConfig{Resource: "r0", Drbdadm: "drbdadm", ProcPath: writeProc(t, "proc-9.txt"), Runner: rec})
		require.NoError(t, err)
		st, err := d.Status(ctx)
		require.NoError(t, err)
		assert.True(t, st.Running)
		assert.Equal(t, argvs("drbdadm status r0"), rec.Argvs())
	})
	t.Run("auto: drbd 8 proc is read directly", func(t *testing.T) {
		rec := &cmdrun.Recorder{}
		d, err := NewDRBD(DRBDConfig{Resource: "r0", ProcPath: writeProc(t, "proc-84-connected.txt"), Runner: rec})
		require.NoError(t, err)
		st, err := d.Status(ctx)
		require.NoError(t, err)
		assert.True(t, st.Running)
		assert.Empty(t, rec.Argvs())
	})
}

func TestDRBDStatusFromDrbdadm(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown resource", func(t *testing.T) {
		rec := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
			return cmdrun.Result{ExitCode: 10}, &cmdrun.Error{Cmd: c.String(), ExitCode: 10, Stderr: "'r0' not defined in your config (for this host).", Err: errors.New("exit status 10")}
		}}
		d, err := NewDRBD(DRBDConfig{Resource: "r0", Source: DRBDSourceDrbdadm, Runner: rec})
		require.NoError(t, err)
		_, err = d.Status(ctx)
		var ce *cmdrun.Error
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, err.Error(), "drbd r0")
	})
	t.Run("other resource only", func(t *testing.T) {
		rec := &cmdrun.Recorder{Respond: (&fakeDrbdadm{state: strings.Replace(drbdSecondaryUp, "r0", "r1", 1)}).respond}
		d, err := NewDRBD(DRBDConfig{Resource: "r0", Source: DRBDSourceDrbdadm, Runner: rec})
		require.NoError(t, err)
		_, err = d.Status(ctx)
		require.ErrorIs(t, err, ErrDRBDNoResource)
	})
}

// The replica as a critical health check: an up-to-date connected disk
// passes; a resync target is lagging; a StandAlone resource is not
// running.
func TestDRBDChecker(t *testing.T) {
	tests := []struct {
		state string
		want  error
	}{
		{drbdSecondaryUp, nil},
		{drbdFixture(t, "status9-synctarget.txt"), ErrLagging},
		{drbdFixture(t, "status9-standalone.txt"), ErrNotRunning},
	}
	for _, tt := range tests {
		t.Run(strings.SplitN(tt.state, "\n", 3)[1], func(t *testing.T) {
			d, _, _ := newFakeDRBD(t, tt.state, DRBDConfig{})
			err := NewChecker(d, time.Minute).Check(context.Background())
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			var he *health.Error
			require.ErrorAs(t, err, &he)
			assert.Equal(t, "r0", he.Target)
		})
	}
}

// fakeDrbdadmScript writes an executable drbdadm into a temporary
// directory: it appends its argv to argv.log ("[a][b]" per call), prints
// the file "state" for status, and on primary/secondary copies
// primary.txt/secondary.txt over state (or fails like DRBD when the file
// "refuse" exists).
func fakeDrbdadmScript(t *testing.T, state string) (path, dir string) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the fake drbdadm")
	}
	dir = t.TempDir()
	script := `#!/bin/sh
dir=$(dirname "$0")
for a in "$@"; do printf '[%s]' "$a" >>"$dir/argv.log"; done
echo >>"$dir/argv.log"
case "$1" in
status) cat "$dir/state" ;;
primary|secondary)
	if [ -e "$dir/refuse" ]; then
		echo "$2: State change failed: (-2) Need access to UpToDate data" >&2
		exit 17
	fi
	cp "$dir/$1.txt" "$dir/state" ;;
*) echo "unknown command $1" >&2; exit 20 ;;
esac
`
	path = filepath.Join(dir, "drbdadm")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
	for name, text := range map[string]string{"state": state, "primary.txt": drbdPrimaryUp, "secondary.txt": drbdSecondaryUp} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	return path, dir
}

func readArgvLog(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "argv.log"))
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// The real command runner runs a real (fake) drbdadm program.
func TestDRBDWithExecutableFake(t *testing.T) {
	ctx := context.Background()
	t.Run("promote then demote", func(t *testing.T) {
		prog, dir := fakeDrbdadmScript(t, drbdSecondaryUp)
		d, err := NewDRBD(DRBDConfig{Resource: "r0", Self: "alice", Source: DRBDSourceDrbdadm, Drbdadm: prog, Runner: cmdrun.Exec{}})
		require.NoError(t, err)
		st, err := d.Status(ctx)
		require.NoError(t, err)
		assert.True(t, st.Running)
		assert.Equal(t, time.Duration(0), st.Lag)
		require.NoError(t, d.Switch(ctx, failover.Node{Name: "alice"}))
		require.NoError(t, d.Takeover(ctx))
		require.NoError(t, d.Release(ctx))
		assert.Equal(t, []string{
			"[status][r0]",
			"[status][r0]", "[primary][r0]", "[status][r0]",
			"[status][r0]",
			"[status][r0]", "[secondary][r0]", "[status][r0]",
		}, readArgvLog(t, dir))
	})
	t.Run("inconsistent disk is not promoted", func(t *testing.T) {
		prog, dir := fakeDrbdadmScript(t, drbdFixture(t, "status9-synctarget.txt"))
		d, err := NewDRBD(DRBDConfig{Resource: "r0", Source: DRBDSourceDrbdadm, Drbdadm: prog})
		require.NoError(t, err)
		require.ErrorIs(t, d.Promote(ctx), ErrDRBDUnsafePromote)
		assert.Equal(t, []string{"[status][r0]"}, readArgvLog(t, dir))
	})
	t.Run("drbdadm fails", func(t *testing.T) {
		prog, dir := fakeDrbdadmScript(t, drbdSecondaryUp)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "refuse"), nil, 0o644))
		d, err := NewDRBD(DRBDConfig{Resource: "r0", Source: DRBDSourceDrbdadm, Drbdadm: prog})
		require.NoError(t, err)
		err = d.Promote(ctx)
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 17, ee.ExitCode())
		assert.Contains(t, err.Error(), "Need access to UpToDate data")
		assert.Equal(t, []string{"[status][r0]", "[primary][r0]"}, readArgvLog(t, dir))
	})
}
