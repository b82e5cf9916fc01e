package ippool

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
)

// ErrKeepalivedConfig: `keepalived --config-test` rejected a generated
// configuration (or reported warnings about it); the error carries
// keepalived's messages.
var ErrKeepalivedConfig = errors.New("ippool: keepalived rejected the configuration")

// SteerTrackFile is the name of the vrrp_track_file the generated
// configuration declares when KeepalivedConfig.TrackFile is set.
const SteerTrackFile = "understudy_steer"

// KeepalivedConfig describes one keepalived VRRP instance: the
// keepalived article's vrrp_instance with its vrrp_script, unicast peers
// and notify_master, plus a track_file through which Understudy steers
// it at runtime (see [TrackFileSwitcher]).
type KeepalivedConfig struct {
	// RouterID is global_defs' router_id (default: the instance name).
	RouterID string
	// Instance names the vrrp_instance (default VI_1).
	Instance string
	// Interface carries the VIPs and adverts (required).
	Interface string
	// VRID is virtual_router_id, 1-255 (required).
	VRID uint8
	// Priority is 1-255 (default 100).
	Priority uint8
	// Advert is advert_int (default 1s). VRRPv2 needs whole seconds;
	// VRRPv3 takes 10ms to 40.95s.
	Advert time.Duration
	// Version is vrrp_version, 2 or 3 (default 3, which the native
	// speaker talks).
	Version int
	// Master starts the instance in state MASTER instead of BACKUP
	// (keepalived still waits a master-down interval first).
	Master bool
	// SourceIP is unicast_src_ip; Peers is unicast_peer. No peers means
	// multicast.
	SourceIP netip.Addr
	Peers    []netip.Addr
	// VIPs are virtual_ipaddress entries, each on Interface (required).
	VIPs []netip.Prefix
	// NoPreempt and PreemptDelay are nopreempt and preempt_delay.
	NoPreempt    bool
	PreemptDelay time.Duration
	// TrackScript is the argv of a vrrp_script (for example
	// understudy check NAME); empty means none. Arguments may not contain
	// spaces or quotes, and the program must be an absolute path.
	TrackScript []string
	// TrackInterval is the script's interval, whole seconds (default 2s).
	TrackInterval time.Duration
	// TrackFall and TrackRise are the script's fall and rise (default 1).
	TrackFall, TrackRise int
	// TrackWeight is the script's weight (0: a failing script puts the
	// instance in FAULT).
	TrackWeight int
	// TrackFile is the path of the steering file (empty: none). It holds
	// 0 (normal) or 1 (steered away); its value times TrackFileWeight is
	// added to the priority.
	TrackFile string
	// TrackFileWeight is -254..-1 (default -254: steered away means
	// priority 1).
	TrackFileWeight int
	// NotifyMaster, NotifyBackup and NotifyFault are argvs run on those
	// transitions, for example understudy calling a reserved-IP switcher.
	NotifyMaster, NotifyBackup, NotifyFault []string
	// GARPRepeat and GARPDelay are vrrp_garp_master_repeat and
	// vrrp_garp_master_delay (whole seconds); zero keeps keepalived's
	// defaults.
	GARPRepeat int
	GARPDelay  time.Duration
}

func (c *KeepalivedConfig) defaults() {
	if c.Instance == "" {
		c.Instance = "VI_1"
	}
	if c.RouterID == "" {
		c.RouterID = c.Instance
	}
	if c.Priority == 0 {
		c.Priority = 100
	}
	if c.Advert == 0 {
		c.Advert = time.Second
	}
	if c.Version == 0 {
		c.Version = 3
	}
	if c.TrackInterval == 0 {
		c.TrackInterval = 2 * time.Second
	}
	if c.TrackFall == 0 {
		c.TrackFall = 1
	}
	if c.TrackRise == 0 {
		c.TrackRise = 1
	}
	if c.TrackFileWeight == 0 {
		c.TrackFileWeight = -254
	}
}

// Validate checks the configuration (defaults applied to a copy).
func (c KeepalivedConfig) Validate() error {
	c.defaults()
	var errs []error
	word := func(what, s string) {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || strings.ContainsRune(`"'\#!{}`, r) }) {
			errs = append(errs, fmt.Errorf("%s %q: must be a non-empty word", what, s))
		}
	}
	word("instance", c.Instance)
	word("router_id", c.RouterID)
	word("interface", c.Interface)
	if c.VRID == 0 {
		errs = append(errs, errors.New("virtual_router_id must be 1-255"))
	}
	switch c.Version {
	case 2:
		if c.Advert%time.Second != 0 || c.Advert > 255*time.Second {
			errs = append(errs, fmt.Errorf("advert_int %s: VRRPv2 needs whole seconds (1-255)", c.Advert))
		}
	case 3:
		if c.Advert < 10*time.Millisecond || c.Advert > 40950*time.Millisecond || c.Advert%(10*time.Millisecond) != 0 {
			errs = append(errs, fmt.Errorf("advert_int %s: VRRPv3 takes 10ms..40.95s in steps of 10ms", c.Advert))
		}
	default:
		errs = append(errs, fmt.Errorf("vrrp_version %d: must be 2 or 3", c.Version))
	}
	if c.Master && c.NoPreempt {
		errs = append(errs, errors.New("nopreempt needs the initial state BACKUP"))
	}
	if c.PreemptDelay < 0 || c.PreemptDelay > 1000*time.Second {
		errs = append(errs, fmt.Errorf("preempt_delay %s: must be 0-1000s", c.PreemptDelay))
	}
	if len(c.VIPs) == 0 {
		errs = append(errs, errors.New("at least one virtual address is required"))
	}
	for _, p := range c.VIPs {
		if !p.IsValid() {
			errs = append(errs, errors.New("invalid virtual address"))
		}
	}
	if c.SourceIP.IsValid() != (len(c.Peers) > 0) {
		errs = append(errs, errors.New("unicast_src_ip and unicast_peer go together"))
	}
	for name, argv := range map[string][]string{"track script": c.TrackScript, "notify_master": c.NotifyMaster, "notify_backup": c.NotifyBackup, "notify_fault": c.NotifyFault} {
		if len(argv) == 0 {
			continue
		}
		if !filepath.IsAbs(argv[0]) {
			errs = append(errs, fmt.Errorf("%s: program %q must be an absolute path", name, argv[0]))
		}
		for _, a := range argv {
			word(name+" argument", a)
		}
	}
	if len(c.TrackScript) > 0 && (c.TrackInterval%time.Second != 0 || c.TrackInterval < time.Second) {
		errs = append(errs, fmt.Errorf("track script interval %s: whole seconds, at least 1s", c.TrackInterval))
	}
	if c.TrackFile != "" {
		if !filepath.IsAbs(c.TrackFile) {
			errs = append(errs, fmt.Errorf("track file %q: must be an absolute path", c.TrackFile))
		}
		word("track file", c.TrackFile)
		if c.TrackFileWeight < -254 || c.TrackFileWeight > -1 {
			errs = append(errs, fmt.Errorf("track file weight %d: must be -254..-1", c.TrackFileWeight))
		}
	}
	if c.GARPDelay%time.Second != 0 || c.GARPDelay < 0 || c.GARPRepeat < 0 {
		errs = append(errs, errors.New("garp delay must be whole seconds and garp repeat not negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ippool: keepalived config: %w", err)
	}
	return nil
}

// Render returns keepalived.conf text for c, after Validate.
func (c KeepalivedConfig) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.defaults()
	var b strings.Builder
	p := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("    ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	argv := func(a []string) string { return `"` + strings.Join(a, " ") + `"` }

	p(0, "# Generated by Understudy (ippool.KeepalivedConfig): edits are overwritten.")
	p(0, "global_defs {")
	p(1, "router_id %s", c.RouterID)
	p(1, "script_user root")
	p(1, "enable_script_security")
	p(1, "vrrp_version %d", c.Version)
	if c.GARPRepeat > 0 {
		p(1, "vrrp_garp_master_repeat %d", c.GARPRepeat)
	}
	if c.GARPDelay > 0 {
		p(1, "vrrp_garp_master_delay %s", secs(c.GARPDelay))
	}
	p(0, "}")
	if c.TrackFile != "" {
		p(0, "vrrp_track_file %s {", SteerTrackFile)
		p(1, "file %q", c.TrackFile)
		p(0, "}")
	}
	if len(c.TrackScript) > 0 {
		p(0, "vrrp_script understudy_check {")
		p(1, "script %s", argv(c.TrackScript))
		p(1, "interval %s", secs(c.TrackInterval))
		p(1, "fall %d", c.TrackFall)
		p(1, "rise %d", c.TrackRise)
		if c.TrackWeight != 0 {
			p(1, "weight %d", c.TrackWeight)
		}
		p(0, "}")
	}
	p(0, "vrrp_instance %s {", c.Instance)
	if c.Master {
		p(1, "state MASTER")
	} else {
		p(1, "state BACKUP")
	}
	p(1, "interface %s", c.Interface)
	p(1, "virtual_router_id %d", c.VRID)
	p(1, "priority %d", c.Priority)
	p(1, "advert_int %s", secs(c.Advert))
	if c.NoPreempt {
		p(1, "nopreempt")
	}
	if c.PreemptDelay > 0 {
		p(1, "preempt_delay %s", secs(c.PreemptDelay))
	}
	if len(c.Peers) > 0 {
		p(1, "unicast_src_ip %s", c.SourceIP)
		p(1, "unicast_peer {")
		for _, a := range c.Peers {
			p(2, "%s", a)
		}
		p(1, "}")
	}
	p(1, "virtual_ipaddress {")
	for _, v := range c.VIPs {
		p(2, "%s dev %s", v, c.Interface)
	}
	p(1, "}")
	if len(c.TrackScript) > 0 {
		p(1, "track_script {")
		p(2, "understudy_check")
		p(1, "}")
	}
	if c.TrackFile != "" {
		p(1, "track_file {")
		p(2, "%s weight %d", SteerTrackFile, c.TrackFileWeight)
		p(1, "}")
	}
	for _, n := range []struct {
		kw   string
		argv []string
	}{{"notify_master", c.NotifyMaster}, {"notify_backup", c.NotifyBackup}, {"notify_fault", c.NotifyFault}} {
		if len(n.argv) > 0 {
			p(1, "%s %s", n.kw, argv(n.argv))
		}
	}
	p(0, "}")
	return []byte(b.String()), nil
}

// CheckKeepalivedConfig runs `keepalived --config-test -f path`, inside
// network namespace netns when it is not "" (through `ip netns exec`,
// since keepalived looks the interface up). keepalived exits non-zero on
// errors and on warnings; either is an error wrapping
// ErrKeepalivedConfig with keepalived's messages. keepalived and ip are
// the paths of the programs ("" looks them up); runner nil runs them.
func CheckKeepalivedConfig(ctx context.Context, runner cmdrun.Runner, keepalived, ip, netns, path string) error {
	argv, err := keepalivedArgv(keepalived, ip, netns, "--config-test", "-f", path)
	if err != nil {
		return err
	}
	if runner == nil {
		runner = cmdrun.Exec{}
	}
	res, err := runner.Run(ctx, cmdrun.Cmd{Path: argv[0], Args: argv[1:]})
	if err != nil {
		var ce *cmdrun.Error
		if errors.As(err, &ce) && ce.ExitCode > 0 {
			msg := strings.TrimSpace(string(res.Stderr) + string(res.Stdout))
			return fmt.Errorf("%w: %s: %s", ErrKeepalivedConfig, path, msg)
		}
		return fmt.Errorf("ippool: keepalived --config-test %s: %w", path, err)
	}
	return nil
}

// keepalivedArgv returns argv running keepalived with args, inside netns
// if set.
func keepalivedArgv(keepalived, ip, netns string, args ...string) ([]string, error) {
	var err error
	if keepalived == "" {
		if keepalived, err = lookPath("keepalived"); err != nil {
			return nil, err
		}
	}
	argv := append([]string{keepalived}, args...)
	if netns == "" {
		return argv, nil
	}
	if ip == "" {
		if ip, err = lookPath("ip"); err != nil {
			return nil, err
		}
	}
	return append([]string{ip, "netns", "exec", netns}, argv...), nil
}
