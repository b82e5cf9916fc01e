package ippool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovertest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/ippool"
)

// journal records what recording steps did, in order.
type journal struct {
	mu  sync.Mutex
	ops []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ops = append(j.ops, s)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.ops...)
}

// step returns a recording step; failTakeover/failRelease make it fail.
func (j *journal) step(name string, failTakeover, failRelease bool) ippool.GroupStep {
	return ippool.GroupStep{Name: name, Step: ippool.StepFuncs{
		TakeoverFunc: func(context.Context) error {
			j.add("up " + name)
			if failTakeover {
				return fmt.Errorf("%s would not start", name)
			}
			return nil
		},
		ReleaseFunc: func(context.Context) error {
			j.add("down " + name)
			if failRelease {
				return fmt.Errorf("%s would not stop", name)
			}
			return nil
		},
	}}
}

func TestGroupOrderAndRollback(t *testing.T) {
	names := []string{"IPaddr", "drbddisk", "Filesystem", "apache", "MailTo"}
	cases := []struct {
		name         string
		to           string
		failTakeover string
		failRelease  string
		rollbackFail string
		want         []string
		wantStep     string
	}{
		{name: "takeover in order", to: "debian1",
			want: []string{"up IPaddr", "up drbddisk", "up Filesystem", "up apache", "up MailTo"}},
		{name: "release in reverse", to: "debian2",
			want: []string{"down MailTo", "down apache", "down Filesystem", "down drbddisk", "down IPaddr"}},
		{name: "failed step rolls back what was done", to: "debian1", failTakeover: "Filesystem", wantStep: "Filesystem",
			want: []string{"up IPaddr", "up drbddisk", "up Filesystem", "down drbddisk", "down IPaddr"}},
		{name: "first step failing rolls back nothing", to: "debian1", failTakeover: "IPaddr", wantStep: "IPaddr",
			want: []string{"up IPaddr"}},
		{name: "rollback goes on past a failed release", to: "debian1", failTakeover: "apache", rollbackFail: "drbddisk", wantStep: "apache",
			want: []string{"up IPaddr", "up drbddisk", "up Filesystem", "up apache", "down Filesystem", "down drbddisk", "down IPaddr"}},
		{name: "release stops at the first failure", to: "debian2", failRelease: "Filesystem", wantStep: "Filesystem",
			want: []string{"down MailTo", "down apache", "down Filesystem"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var j journal
			var steps []ippool.GroupStep
			for _, n := range names {
				steps = append(steps, j.step(n, n == c.failTakeover, n == c.failRelease || n == c.rollbackFail))
			}
			var seen []string
			g, err := ippool.NewGroup(ippool.GroupConfig{Name: "web", Self: "debian1", Steps: steps,
				OnStep: func(step, op string, err error) { seen = append(seen, op+" "+step) }})
			require.NoError(t, err)

			err = g.Switch(t.Context(), failover.Node{Name: c.to})
			assert.Equal(t, c.want, j.list())
			assert.Len(t, seen, len(c.want))
			if c.wantStep == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ippool.ErrStepFailed)
			var se *ippool.StepError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, c.wantStep, se.Step)
			assert.Equal(t, "web", se.Group)
			if c.rollbackFail != "" {
				require.Error(t, se.RollbackErr)
				assert.Contains(t, se.RollbackErr.Error(), c.rollbackFail)
			} else {
				assert.NoError(t, se.RollbackErr)
			}
		})
	}
}

func TestGroupValidation(t *testing.T) {
	_, err := ippool.NewGroup(ippool.GroupConfig{})
	require.Error(t, err)
	_, err = ippool.NewGroup(ippool.GroupConfig{Self: "a", Steps: []ippool.GroupStep{{Name: "x"}}})
	require.Error(t, err)
}

func TestSwitcherStep(t *testing.T) {
	// A DRBD promoter from replicate will be a node-local Switcher: to
	// this node means promote, to anyone else means demote.
	var sw failovertest.Switcher
	self := failover.Node{Name: "debian1"}
	s := ippool.SwitcherStep(&sw, self)
	require.NoError(t, s.Takeover(t.Context()))
	require.NoError(t, s.Release(t.Context()))
	assert.Equal(t, []string{"debian1", ""}, sw.Targets())
	sw.FailAlways(errors.New("drbdadm: Device is held open"))
	require.Error(t, s.Takeover(t.Context()))
}

func TestCommandAndSystemctlSteps(t *testing.T) {
	rec := &cmdrun.Recorder{}
	s := ippool.Systemctl("apache2.service", rec)
	require.NoError(t, s.Takeover(t.Context()))
	require.NoError(t, s.Release(t.Context()))
	assert.Equal(t, [][]string{
		{"systemctl", "start", "--", "apache2.service"},
		{"systemctl", "stop", "--", "apache2.service"},
	}, rec.Argvs())

	failing := &cmdrun.Recorder{Respond: func(cmdrun.Cmd) (cmdrun.Result, error) {
		return cmdrun.Result{ExitCode: 1}, &cmdrun.Error{Cmd: "x", ExitCode: 1, Err: errors.New("exit status 1")}
	}}
	err := (&ippool.Command{TakeoverArgv: []string{"/etc/init.d/apache", "start"}, Runner: failing}).Takeover(t.Context())
	var ce *cmdrun.Error
	require.ErrorAs(t, err, &ce)
	require.NoError(t, (&ippool.Command{}).Release(t.Context()), "an empty argv does nothing")
}

func TestMountStepArgvAndIdempotence(t *testing.T) {
	dir := t.TempDir()
	info := filepath.Join(dir, "mountinfo")
	// The mount table says /mnt/repl is not mounted.
	require.NoError(t, os.WriteFile(info, []byte("22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"), 0o644))
	rec := &cmdrun.Recorder{}
	m := &ippool.Mount{Device: "/dev/drbd0", Target: "/mnt/repl", FSType: "ext3", Options: "noatime", Runner: rec, MountInfo: info}
	require.NoError(t, m.Takeover(t.Context()))
	require.NoError(t, m.Release(t.Context()), "not mounted: nothing to unmount")
	require.Len(t, rec.Argvs(), 1)
	assert.Equal(t, []string{"-t", "ext3", "-o", "noatime", "--", "/dev/drbd0", "/mnt/repl"}, rec.Argvs()[0][1:])
	assert.True(t, strings.HasSuffix(rec.Argvs()[0][0], "mount"))

	// Now it is mounted (a space in the path is escaped as \040).
	m.Target = "/mnt/my repl"
	require.NoError(t, os.WriteFile(info, []byte("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n40 22 147:0 / /mnt/my\\040repl rw - ext3 /dev/drbd0 rw\n"), 0o644))
	require.NoError(t, m.Takeover(t.Context()), "already mounted: no second mount")
	require.NoError(t, m.Release(t.Context()))
	require.Len(t, rec.Argvs(), 2)
	assert.Equal(t, []string{"--", "/mnt/my repl"}, rec.Argvs()[1][1:])
}

// TestMountStepReal mounts a tmpfs for real (root) and takes it down.
func TestMountStepReal(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.Require(t, "mount", "mount")
	target := t.TempDir()
	m := &ippool.Mount{Device: "tmpfs", FSType: "tmpfs", Target: target, Options: "size=1m"}
	t.Cleanup(func() { _ = m.Release(context.Background()) })
	require.NoError(t, m.Takeover(t.Context()))
	mounted, err := m.Mounted()
	require.NoError(t, err)
	require.True(t, mounted)
	require.NoError(t, m.Takeover(t.Context()), "idempotent")
	require.NoError(t, m.Release(t.Context()))
	mounted, err = m.Mounted()
	require.NoError(t, err)
	assert.False(t, mounted)
}

func TestNotifyStep(t *testing.T) {
	var n failovertest.Notifier
	s := &ippool.Notify{Notifier: &n, Self: "debian1", Group: "web"}
	require.NoError(t, s.Takeover(t.Context()))
	require.NoError(t, s.Release(t.Context()))
	ev := n.Events()
	require.Len(t, ev, 2)
	assert.Equal(t, "debian1", ev[0].To)
	assert.Equal(t, "debian1", ev[1].From)
	assert.Contains(t, ev[0].Message, "took over resource group web")

	// A failing mail server does not fail the group, unless required.
	broken := &failovertest.Notifier{Err: errors.New("smtp: connection refused")}
	require.NoError(t, (&ippool.Notify{Notifier: broken, Self: "a"}).Takeover(t.Context()))
	require.Error(t, (&ippool.Notify{Notifier: broken, Self: "a", Required: true}).Takeover(t.Context()))
}

// TestGroupWithRealVIP takes over a group whose first step is a real VIP
// in a namespace and whose later step fails: the VIP must be gone again.
func TestGroupWithRealVIP(t *testing.T) {
	lab := newLab(t)
	v := newVIP(t, lab, 0, "a", lab.Host(100))
	var j journal
	g, err := ippool.NewGroup(ippool.GroupConfig{Self: "a", Steps: []ippool.GroupStep{
		{Name: "vip", Step: v}, j.step("apache", true, false),
	}})
	require.NoError(t, err)
	require.ErrorIs(t, g.Switch(t.Context(), failover.Node{Name: "a"}), ippool.ErrStepFailed)
	held, err := v.Held(t.Context())
	require.NoError(t, err)
	assert.False(t, held, "rollback left the VIP behind")
}
