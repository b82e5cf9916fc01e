package ippool

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// Command is a Step that runs one argv to take over and another to
// release (never through a shell): Heartbeat's resource scripts, an init
// script's start and stop. An empty argv does nothing.
type Command struct {
	// TakeoverArgv and ReleaseArgv are program and arguments.
	TakeoverArgv []string
	ReleaseArgv  []string
	// Runner runs them (nil: the real one).
	Runner cmdrun.Runner
}

// Takeover runs TakeoverArgv.
func (c *Command) Takeover(ctx context.Context) error { return c.run(ctx, c.TakeoverArgv) }

// Release runs ReleaseArgv.
func (c *Command) Release(ctx context.Context) error { return c.run(ctx, c.ReleaseArgv) }

func (c *Command) run(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	r := c.Runner
	if r == nil {
		r = cmdrun.Exec{}
	}
	if _, err := r.Run(ctx, cmdrun.Cmd{Path: argv[0], Args: argv[1:]}); err != nil {
		return fmt.Errorf("ippool: %w", err)
	}
	return nil
}

// Systemctl returns a Step that starts unit on takeover and stops it on
// release, through `systemctl start|stop -- unit`. Both are idempotent in
// systemd. runner may be nil (the real one).
func Systemctl(unit string, runner cmdrun.Runner) *Command {
	return &Command{
		TakeoverArgv: []string{"systemctl", "start", "--", unit},
		ReleaseArgv:  []string{"systemctl", "stop", "--", unit},
		Runner:       runner,
	}
}

// Mount is a Step that mounts a file system on takeover and unmounts it
// on release (Heartbeat's Filesystem::/dev/drbd0::/mnt/repl::ext3), with
// the mount and umount programs. Both check /proc/self/mountinfo first,
// so they are idempotent.
type Mount struct {
	// Device is what is mounted (/dev/drbd0).
	Device string
	// Target is the mount point (/mnt/repl).
	Target string
	// FSType is the file system type (ext3); "" lets mount guess.
	FSType string
	// Options are mount -o options ("noatime").
	Options string
	// Runner runs mount and umount (nil: the real one).
	Runner cmdrun.Runner
	// MountInfo is the mount table read (default /proc/self/mountinfo).
	MountInfo string
}

// Takeover mounts Device on Target unless Target is already a mount point.
func (m *Mount) Takeover(ctx context.Context) error {
	if mounted, err := m.Mounted(); err != nil || mounted {
		return err
	}
	args := []string{}
	if m.FSType != "" {
		args = append(args, "-t", m.FSType)
	}
	if m.Options != "" {
		args = append(args, "-o", m.Options)
	}
	args = append(args, "--", m.Device, m.Target)
	return m.run(ctx, "mount", args)
}

// Release unmounts Target if it is a mount point.
func (m *Mount) Release(ctx context.Context) error {
	if mounted, err := m.Mounted(); err != nil || !mounted {
		return err
	}
	return m.run(ctx, "umount", []string{"--", m.Target})
}

// Mounted reports whether Target is a mount point.
func (m *Mount) Mounted() (bool, error) {
	path := m.MountInfo
	if path == "" {
		path = "/proc/self/mountinfo"
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("ippool: mount table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// mountinfo: id parent major:minor root mountpoint options ...
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountPath(fields[4]) == m.Target {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("ippool: mount table %s: %w", path, err)
	}
	return false, nil
}

// unescapeMountPath undoes the octal escapes of mountinfo (\040 for a
// space, \011, \012, \134).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func (m *Mount) run(ctx context.Context, prog string, args []string) error {
	r := m.Runner
	if r == nil {
		r = cmdrun.Exec{}
	}
	path := prog
	if p, err := exec.LookPath(prog); err == nil {
		path = p
	}
	if _, err := r.Run(ctx, cmdrun.Cmd{Path: path, Args: args}); err != nil {
		return fmt.Errorf("ippool: %s %s: %w", prog, m.Target, err)
	}
	return nil
}

// Notify is a Step that tells someone the group moved (Heartbeat's
// MailTo::admin@example.com): on takeover a switch_done event with To set
// to Self, on release one with From set to Self. A failed notification
// does not fail the group (a mail server must not keep a service down):
// it is logged at Warn, unless Required is set.
type Notify struct {
	Notifier failover.Notifier
	// Self is this node's name; Group names the group in the message.
	Self, Group string
	// Required makes a failed notification fail the step.
	Required bool
	// Now is the clock for event times (nil: time.Now).
	Now func() time.Time
	// Logger receives failed notifications (nil: discard).
	Logger *slog.Logger
}

// Takeover sends the takeover event.
func (n *Notify) Takeover(ctx context.Context) error {
	return n.send(ctx, failover.Event{Kind: failover.EventSwitchDone, To: n.Self, Node: n.Self,
		Message: fmt.Sprintf("%s took over resource group %s", n.Self, n.Group)})
}

// Release sends the release event.
func (n *Notify) Release(ctx context.Context) error {
	return n.send(ctx, failover.Event{Kind: failover.EventSwitchDone, From: n.Self, Node: n.Self,
		Message: fmt.Sprintf("%s released resource group %s", n.Self, n.Group)})
}

func (n *Notify) send(ctx context.Context, e failover.Event) error {
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	e.Time = now()
	err := n.Notifier.Notify(ctx, e)
	if err == nil {
		return nil
	}
	if n.Required {
		return fmt.Errorf("ippool: notify: %w", err)
	}
	log := n.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log.Warn("group notification failed", "group", n.Group, "err", err)
	return nil
}

var (
	_ Step = (*Command)(nil)
	_ Step = (*Mount)(nil)
	_ Step = (*Notify)(nil)
)
