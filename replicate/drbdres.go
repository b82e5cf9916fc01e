package replicate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// Where a [DRBD] reads its status (DRBDConfig.Source).
const (
	// DRBDSourceAuto reads /proc/drbd and, when it is DRBD 9's (no
	// devices), drbdadm status.
	DRBDSourceAuto = ""
	// DRBDSourceProc reads /proc/drbd only (DRBD 0.7 and 8.x).
	DRBDSourceProc = "proc"
	// DRBDSourceDrbdadm runs drbdadm status only.
	DRBDSourceDrbdadm = "drbdadm"
)

// DRBDConfig configures a [DRBD] resource. The zero value of each field
// means its documented default.
type DRBDConfig struct {
	// Resource is the DRBD resource name, as in drbd.conf (required; not
	// "all", and not starting with "-").
	Resource string
	// Minors are the device minors of Resource, used with /proc/drbd,
	// which lists minors and not names (DRBD 8). Default: the only
	// configured device in /proc/drbd; with several, Minors is required.
	Minors []int
	// Source is DRBDSourceAuto (default), DRBDSourceProc or
	// DRBDSourceDrbdadm.
	Source string
	// Self is this node's name; needed only to use the DRBD as a
	// failover.Switcher (a switch to Self promotes, any other demotes).
	Self string
	// Force adds --force to drbdadm primary and skips the refusal to
	// promote a disk that is not up to date. Set it only by an explicit
	// decision (an initial sync, a disaster with no better copy): the
	// promoted node's data becomes the reference and overwrites the peer's.
	Force bool
	// Drbdadm is the drbdadm program (default: found in PATH at
	// construction, else "drbdadm").
	Drbdadm string
	// ProcPath is the /proc/drbd file (default "/proc/drbd").
	ProcPath string
	// Runner runs drbdadm (nil: cmdrun.Exec).
	Runner cmdrun.Runner
	// Logger receives promotions and demotions at Info (nil: discard).
	Logger *slog.Logger
}

// Validate reports whether the configuration can be used.
func (c DRBDConfig) Validate() error {
	switch {
	case c.Resource == "":
		return errors.New("replicate: drbd: no resource")
	case c.Resource == "all" || strings.HasPrefix(c.Resource, "-") || strings.ContainsAny(c.Resource, " \t\n/"):
		return fmt.Errorf("replicate: drbd: resource name %q not allowed", c.Resource)
	}
	switch c.Source {
	case DRBDSourceAuto, DRBDSourceProc, DRBDSourceDrbdadm:
	default:
		return fmt.Errorf("replicate: drbd %s: source %q is not proc or drbdadm", c.Resource, c.Source)
	}
	for _, m := range c.Minors {
		if m < 0 {
			return fmt.Errorf("replicate: drbd %s: minor %d is negative", c.Resource, m)
		}
	}
	return nil
}

// DRBD is one DRBD resource on this node. It is a [Replicator] (Status
// from /proc/drbd or drbdadm status, see [DRBDResource.Health] for what
// counts as running), a [failover.Switcher] (promote on a switch to Self,
// demote otherwise) and a resource-group step (Takeover promotes, Release
// demotes; ippool.Group accepts it as is). Promote and Demote are
// idempotent: they read the status first and do nothing when the role is
// already right, and read it again after drbdadm to verify. Status is
// safe for concurrent use; do not promote and demote concurrently.
type DRBD struct {
	cfg DRBDConfig
	log *slog.Logger
}

var (
	_ Replicator        = (*DRBD)(nil)
	_ failover.Switcher = (*DRBD)(nil)
)

// NewDRBD validates cfg and returns the resource. It runs nothing.
func NewDRBD(cfg DRBDConfig) (*DRBD, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Drbdadm == "" {
		cfg.Drbdadm = "drbdadm"
		if p, err := exec.LookPath("drbdadm"); err == nil {
			cfg.Drbdadm = p
		}
	}
	if cfg.ProcPath == "" {
		cfg.ProcPath = ProcDRBDSource
	}
	if cfg.Runner == nil {
		cfg.Runner = cmdrun.Exec{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DRBD{cfg: cfg, log: log.With("drbd", cfg.Resource)}, nil
}

// Name returns the resource name.
func (d *DRBD) Name() string { return d.cfg.Resource }

// Status reports the resource as a [Status]: Running, Lag and Err from
// [DRBDResource.Health], Detail the [DRBDResource]. A status that cannot
// be read or understood is an error naming the resource and the source.
func (d *DRBD) Status(ctx context.Context) (Status, error) {
	r, err := d.Resource(ctx)
	if err != nil {
		return Status{}, err
	}
	running, lag, problem := r.Health()
	return Status{Server: d.cfg.Resource, Running: running, Lag: lag, Err: problem, Detail: r}, nil
}

// Resource reads the resource's detailed state.
func (d *DRBD) Resource(ctx context.Context) (DRBDResource, error) {
	useProc := d.cfg.Source == DRBDSourceProc
	var procText string
	if d.cfg.Source != DRBDSourceDrbdadm {
		b, err := os.ReadFile(d.cfg.ProcPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w (%s missing)", d.cfg.Resource, ErrDRBDNotLoaded, d.cfg.ProcPath)
		case err != nil:
			return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w", d.cfg.Resource, err)
		}
		procText = string(b)
		if !useProc {
			_, major, err := ProcDRBDVersion(procText)
			if err != nil {
				return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w", d.cfg.Resource, err)
			}
			useProc = major < 9
		}
	}
	if useProc {
		st, err := ParseProcDRBD(procText)
		if err != nil {
			return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w", d.cfg.Resource, err)
		}
		return d.fromProc(st)
	}
	cmd := cmdrun.Cmd{Path: d.cfg.Drbdadm, Args: []string{"status", d.cfg.Resource}}
	res, err := d.cfg.Runner.Run(ctx, cmd)
	if err != nil {
		return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w", d.cfg.Resource, err)
	}
	st, err := ParseDrbdadmStatus("drbdadm status "+d.cfg.Resource, string(res.Stdout))
	if err != nil {
		return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w", d.cfg.Resource, err)
	}
	r, ok := st.Resource(d.cfg.Resource)
	if !ok {
		return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w in drbdadm status", d.cfg.Resource, ErrDRBDNoResource)
	}
	return r, nil
}

// fromProc gathers the resource's minors from /proc/drbd into one
// resource: volume i is Minors[i].
func (d *DRBD) fromProc(st DRBDStatus) (DRBDResource, error) {
	minors := d.cfg.Minors
	if len(minors) == 0 {
		switch len(st.Resources) {
		case 0:
			return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w: no configured device in %s", d.cfg.Resource, ErrDRBDNoResource, st.Source)
		case 1:
			minors = []int{st.Resources[0].Volumes[0].Minor}
		default:
			return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %d devices in %s, which does not name resources: configure the minors",
				d.cfg.Resource, len(st.Resources), st.Source)
		}
	}
	out := DRBDResource{Name: d.cfg.Resource, Peers: []DRBDPeer{{}}}
	roles, peerRoles, conns := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, m := range minors {
		idx := slices.IndexFunc(st.Resources, func(r DRBDResource) bool { return r.Volumes[0].Minor == m })
		if idx < 0 {
			return DRBDResource{}, fmt.Errorf("replicate: drbd %s: %w: minor %d not configured in %s", d.cfg.Resource, ErrDRBDNoResource, m, st.Source)
		}
		dev := st.Resources[idx]
		out.legacy = dev.legacy
		roles[dev.Role], peerRoles[dev.Peers[0].Role], conns[dev.Peers[0].Connection] = true, true, true
		v := dev.Volumes[0]
		v.Volume = i
		out.Volumes = append(out.Volumes, v)
		pv := dev.Peers[0].Volumes[0]
		pv.Volume = i
		out.Peers[0].Volumes = append(out.Peers[0].Volumes, pv)
		if out.Peers[0].Connection == "" || dev.Peers[0].Connection != "Connected" {
			out.Peers[0].Connection = dev.Peers[0].Connection
		}
	}
	out.Role, out.Peers[0].Role = drbdOnly(roles), drbdOnly(peerRoles)
	return out, nil
}

// drbdOnly returns the single key of m, or "Unknown" when the minors of one
// resource disagree.
func drbdOnly(m map[string]bool) string {
	if len(m) != 1 {
		return "Unknown"
	}
	for k := range m {
		return k
	}
	return "Unknown"
}

// Promote makes this node Primary for the resource with `drbdadm primary
// RES`. It does nothing when the role is already Primary. It refuses,
// with an error wrapping [ErrDRBDUnsafePromote], a local disk that is not
// UpToDate (Consistent is let through to DRBD, which decides), unless
// Force, which adds --force. It reads the status again afterwards and
// fails unless the role is then Primary.
func (d *DRBD) Promote(ctx context.Context) error {
	r, err := d.Resource(ctx)
	if err != nil {
		return fmt.Errorf("replicate: drbd %s: promote: %w", d.cfg.Resource, err)
	}
	if r.Role == "Primary" {
		d.log.Debug("already primary")
		return nil
	}
	for _, v := range r.Volumes {
		if r.upToDate(v.Disk) || v.Disk == "Consistent" {
			continue
		}
		if !d.cfg.Force {
			return fmt.Errorf("replicate: drbd %s: volume %d is %s: %w", d.cfg.Resource, v.Volume, v.Disk, ErrDRBDUnsafePromote)
		}
		d.log.Warn("forcing promotion", "volume", v.Volume, "disk", v.Disk)
	}
	args := []string{"primary"}
	if d.cfg.Force {
		args = append(args, "--force")
	}
	return d.setRole(ctx, append(args, d.cfg.Resource), "Primary")
}

// Demote makes this node Secondary with `drbdadm secondary RES`; it does
// nothing when the role is already Secondary. DRBD refuses while the
// device is open (mounted): release the file system first.
func (d *DRBD) Demote(ctx context.Context) error {
	r, err := d.Resource(ctx)
	if err != nil {
		return fmt.Errorf("replicate: drbd %s: demote: %w", d.cfg.Resource, err)
	}
	if r.Role == "Secondary" {
		d.log.Debug("already secondary")
		return nil
	}
	return d.setRole(ctx, []string{"secondary", d.cfg.Resource}, "Secondary")
}

func (d *DRBD) setRole(ctx context.Context, args []string, want string) error {
	op := strings.ToLower(want)
	if _, err := d.cfg.Runner.Run(ctx, cmdrun.Cmd{Path: d.cfg.Drbdadm, Args: args}); err != nil {
		return fmt.Errorf("replicate: drbd %s: %s: %w", d.cfg.Resource, op, err)
	}
	r, err := d.Resource(ctx)
	if err != nil {
		return fmt.Errorf("replicate: drbd %s: %s: verify: %w", d.cfg.Resource, op, err)
	}
	if r.Role != want {
		return fmt.Errorf("replicate: drbd %s: %s: drbdadm succeeded but the role is %s", d.cfg.Resource, op, r.Role)
	}
	d.log.Info("role changed", "role", want)
	return nil
}

// Takeover promotes (a resource-group step, Heartbeat's drbddisk::RES).
func (d *DRBD) Takeover(ctx context.Context) error { return d.Promote(ctx) }

// Release demotes (a resource-group step).
func (d *DRBD) Release(ctx context.Context) error { return d.Demote(ctx) }

// Switch promotes when to is Self and demotes otherwise (including the
// zero Node, which ippool.SwitcherStep uses for "give it up here"). It
// fails when Self is not configured.
func (d *DRBD) Switch(ctx context.Context, to failover.Node) error {
	if d.cfg.Self == "" {
		return fmt.Errorf("replicate: drbd %s: switch: self (this node's name) not configured", d.cfg.Resource)
	}
	if to.Name == d.cfg.Self {
		return d.Promote(ctx)
	}
	return d.Demote(ctx)
}
