package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"time"
)

// Defaults of the vrrp and keepalived sections.
const (
	DefaultVRRPPriority  = 100
	DefaultVRRPAdvert    = time.Second
	DefaultNotifyTries   = 10              // the article's master.sh: 10 tries …
	DefaultNotifyDelay   = 3 * time.Second // … 3 s apart
	DefaultTrackInterval = 2 * time.Second // the article's vrrp_script interval
)

// VRRP is one entry of "vrrp:": a native VRRPv3 speaker (ippool.VRRP)
// that `understudy run` runs beside the arbiter. The master holds
// VirtualAddresses; on shutdown the speaker resigns with a priority-0
// advert and removes them. A switcher of type vrrp naming the entry lets
// the arbiter move the addresses (demote here, restore to move back).
type VRRP struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Name is unique among vrrp entries; vrrp switchers refer to it.
	Name string `yaml:"name" cfg:"required,name"`
	// Self is the node this daemon runs on (a name under nodes).
	Self string `yaml:"self" cfg:"required,name"`
	// Interface carries the addresses and the adverts.
	Interface string `yaml:"interface" cfg:"required"`
	// NetNS is a network namespace name or path ("": the daemon's).
	NetNS string `yaml:"netns"`
	// VRID is the virtual router ID, 1-255 (keepalived's
	// virtual_router_id).
	VRID int `yaml:"vrid" cfg:"required"`
	// Priority is 1-255 (default 100); 255 is the address owner.
	Priority int `yaml:"priority"`
	// Advert is the advertisement interval, 10ms to 40.95s in steps of
	// 10ms (default 1s).
	Advert time.Duration `yaml:"advert"`
	// VirtualAddresses are IPv4 addresses with their prefix lengths
	// (192.168.69.100/24).
	VirtualAddresses []string `yaml:"virtual_addresses" cfg:"required"`
	// SourceIP is the address adverts are sent from (default: the first
	// IPv4 address on Interface).
	SourceIP netip.Addr `yaml:"source_ip"`
	// Peers receive the adverts by unicast and are the only accepted
	// senders; none means multicast to 224.0.0.18.
	Peers []netip.Addr `yaml:"peers"`
	// NoPreempt keeps a backup from taking over from a lower-priority
	// master (keepalived's nopreempt); PreemptDelay delays preemption.
	NoPreempt    bool          `yaml:"nopreempt"`
	PreemptDelay time.Duration `yaml:"preempt_delay"`
}

// Prefixes parses VirtualAddresses (validated at load).
func (v VRRP) Prefixes() []netip.Prefix {
	return prefixes(v.VirtualAddresses)
}

// Keepalived is the "keepalived:" section: one keepalived VRRP instance
// whose keepalived.conf Understudy generates (ippool.KeepalivedConfig),
// checks with keepalived --config-test and supervises during `understudy
// run`. Its vrrp_script runs `understudy check -node SELF` (this binary,
// this file) unless TrackScript says otherwise, and its notify_master
// runs `understudy notify master`, which carries out NotifyMaster toward
// Self. A switcher of type keepalived_track steers the instance through
// its track file.
type Keepalived struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Self is the node this daemon runs on (a name under nodes).
	Self string `yaml:"self" cfg:"required,name"`
	// Dir holds keepalived.conf, the pid files and the track file
	// "steer" (relative to the file).
	Dir string `yaml:"dir" cfg:"required,path"`
	// Program is the keepalived binary (default: found in PATH).
	Program string `yaml:"program" cfg:"path"`
	// NetNS runs keepalived inside this network namespace ("": here).
	NetNS string `yaml:"netns"`
	// Instance names the vrrp_instance (default VI_1); RouterID is
	// router_id (default: the instance).
	Instance string `yaml:"instance"`
	RouterID string `yaml:"router_id"`
	// Interface, VRID, Priority (default 100), Advert (default 1s) and
	// Version (2 or 3, default 3) are the instance's interface,
	// virtual_router_id, priority, advert_int and vrrp_version.
	Interface string        `yaml:"interface" cfg:"required"`
	VRID      int           `yaml:"vrid" cfg:"required"`
	Priority  int           `yaml:"priority"`
	Advert    time.Duration `yaml:"advert"`
	Version   int           `yaml:"version"`
	// Master starts in state MASTER (default BACKUP).
	Master bool `yaml:"master"`
	// VirtualAddresses are virtual_ipaddress entries (192.168.69.100/24).
	VirtualAddresses []string `yaml:"virtual_addresses" cfg:"required"`
	// SourceIP and Peers are unicast_src_ip and unicast_peer (given
	// together; none means multicast).
	SourceIP netip.Addr   `yaml:"source_ip"`
	Peers    []netip.Addr `yaml:"peers"`
	// NoPreempt and PreemptDelay are nopreempt and preempt_delay.
	NoPreempt    bool          `yaml:"nopreempt"`
	PreemptDelay time.Duration `yaml:"preempt_delay"`
	// TrackScript is the vrrp_script argv (absolute program, no spaces
	// or quotes); default: this binary with -c FILE check -node SELF.
	// NoTrackScript leaves the script out.
	TrackScript   []string `yaml:"track_script" cfg:"argv"`
	NoTrackScript bool     `yaml:"no_track_script"`
	// TrackInterval (whole seconds, default 2s), TrackFall and TrackRise
	// (default 1) and TrackWeight (0: a failing script means FAULT) shape
	// the script.
	TrackInterval time.Duration `yaml:"track_interval"`
	TrackFall     int           `yaml:"track_fall"`
	TrackRise     int           `yaml:"track_rise"`
	TrackWeight   int           `yaml:"track_weight"`
	// TrackFileWeight is the track file's weight, -254..-1 (default
	// -254: steered away means priority 1).
	TrackFileWeight int `yaml:"track_file_weight"`
	// NotifyMaster are switchers (any type but vrrp and
	// keepalived_track) that `understudy notify master`, keepalived's
	// notify_master, runs toward Self, each tried NotifyTries times
	// (default 10) NotifyDelay apart (default 3s). Empty: no
	// notify_master.
	NotifyMaster []Switcher    `yaml:"notify_master"`
	NotifyTries  int           `yaml:"notify_tries"`
	NotifyDelay  time.Duration `yaml:"notify_delay"`
	// GARPRepeat and GARPDelay are vrrp_garp_master_repeat and
	// vrrp_garp_master_delay (0: keepalived's defaults).
	GARPRepeat int           `yaml:"garp_repeat"`
	GARPDelay  time.Duration `yaml:"garp_delay"`
}

// IsSet reports whether the section is present.
func (k *Keepalived) IsSet() bool { return k.Interface != "" || k.Dir != "" || k.Self != "" }

// Prefixes parses VirtualAddresses (validated at load).
func (k Keepalived) Prefixes() []netip.Prefix {
	return prefixes(k.VirtualAddresses)
}

// TrackFile is the steering file the keepalived_track switcher writes.
func (k Keepalived) TrackFile() string { return filepath.Join(k.Dir, "steer") }

func prefixes(addrs []string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// VRRPSwitcher is a switcher of type vrrp: a switch to the entry's Self
// restores its priority (a preempting backup then takes the addresses);
// a switch elsewhere lowers it to 1 and resigns if master. It acts on
// the speaker running inside `understudy run`.
type VRRPSwitcher struct {
	// VRRP names an entry of the vrrp section.
	VRRP string `yaml:"vrrp" cfg:"required,name"`
}

// KeepalivedTrackSwitcher is a switcher of type keepalived_track: it
// writes the keepalived section's track file, 0 for a switch to its
// Self, 1 (priority lowered by track_file_weight) for any other node.
type KeepalivedTrackSwitcher struct{}

// vrrpVariant allocates the switcher kinds of this file (called from
// Switcher.variant).
func (s *Switcher) vrrpVariant(kind string) any {
	switch kind {
	case "vrrp":
		s.VRRP = &VRRPSwitcher{}
		return s.VRRP
	case "keepalived_track":
		s.KeepalivedTrack = &KeepalivedTrackSwitcher{}
		return s.KeepalivedTrack
	}
	return nil
}

// validateVRRP checks the vrrp and keepalived sections and the switchers
// that refer to them (called from validate, after the nodes).
func (d *decoder) validateVRRP(c *Config) {
	nodes := func(path, name string) {
		if d.valid(path) && !slices.ContainsFunc(c.Nodes, func(n Node) bool { return n.Name == name }) {
			d.errorf(d.at(path), path, "no node named %q%s", name, known(c.Nodes, func(n Node) string { return n.Name }))
		}
	}
	octet := func(path string, v, lo int) {
		if d.valid(path) && (v < lo || v > 255) {
			d.errorf(d.at(path), path, "must be %d-255 (got %d)", lo, v)
		}
	}
	vips := func(path string, addrs []string) {
		for i, a := range addrs {
			p := fmt.Sprintf("%s[%d]", path, i)
			if pf, err := netip.ParsePrefix(a); d.valid(p) && (err != nil || !pf.Addr().Is4()) {
				d.errorf(d.at(p), p, "want an IPv4 address with its prefix length, like 192.168.69.100/24 (got %q)", a)
			}
		}
	}
	advert := func(path string, v time.Duration) {
		if d.valid(path) && (v < 10*time.Millisecond || v > 40950*time.Millisecond || v%(10*time.Millisecond) != 0) {
			d.errorf(d.at(path), path, "must be 10ms..40.95s in steps of 10ms (got %s)", v)
		}
	}
	ipv4 := func(path string, addrs ...netip.Addr) {
		for _, a := range addrs {
			if a.IsValid() && !a.Is4() {
				d.errorf(d.at(path), path, "%s is not an IPv4 address", a)
			}
		}
	}

	names := map[string]string{}
	vrids := map[string]string{} // netns/interface/vrid → path
	for i := range c.VRRP {
		v := &c.VRRP[i]
		p := fmt.Sprintf("vrrp[%d]", i)
		if prev, dup := names[v.Name]; dup && v.Name != "" {
			d.errorf(d.at(p+".name"), p+".name", "duplicate vrrp name %q (first at %s)", v.Name, prev)
		} else {
			names[v.Name] = p
		}
		nodes(p+".self", v.Self)
		octet(p+".vrid", v.VRID, 1)
		octet(p+".priority", v.Priority, 1)
		advert(p+".advert", v.Advert)
		vips(p+".virtual_addresses", v.VirtualAddresses)
		ipv4(p+".source_ip", v.SourceIP)
		ipv4(p+".peers", v.Peers...)
		d.notNegative(p+".preempt_delay", v.PreemptDelay)
		key := fmt.Sprintf("%s/%s/%d", v.NetNS, v.Interface, v.VRID)
		if prev, dup := vrids[key]; dup && d.valid(p+".vrid") {
			d.errorf(d.at(p+".vrid"), p+".vrid", "vrid %d is already used on %s by %s", v.VRID, v.Interface, prev)
		} else {
			vrids[key] = p
		}
		v.Priority = or(v.Priority, DefaultVRRPPriority)
		v.Advert = or(v.Advert, DefaultVRRPAdvert)
	}

	k := &c.Keepalived
	if d.given("keepalived") {
		p := "keepalived"
		nodes(p+".self", k.Self)
		octet(p+".vrid", k.VRID, 1)
		octet(p+".priority", k.Priority, 1)
		vips(p+".virtual_addresses", k.VirtualAddresses)
		ipv4(p+".source_ip", k.SourceIP)
		ipv4(p+".peers", k.Peers...)
		if d.valid(p+".version") && k.Version != 2 && k.Version != 3 {
			d.errorf(d.at(p+".version"), p+".version", "must be 2 or 3 (got %d)", k.Version)
		}
		if k.Version == 2 {
			if d.valid(p+".advert") && (k.Advert%time.Second != 0 || k.Advert <= 0) {
				d.errorf(d.at(p+".advert"), p+".advert", "VRRPv2 needs whole seconds (got %s)", k.Advert)
			}
		} else {
			advert(p+".advert", k.Advert)
		}
		if k.SourceIP.IsValid() != (len(k.Peers) > 0) {
			d.errorf(d.at(p+".peers"), p+".peers", "source_ip and peers go together (unicast_src_ip and unicast_peer)")
		}
		if k.Master && k.NoPreempt {
			d.errorf(d.at(p+".nopreempt"), p+".nopreempt", "nopreempt needs the initial state BACKUP (master: false)")
		}
		d.notNegative(p+".preempt_delay", k.PreemptDelay)
		if d.valid(p+".track_interval") && (k.TrackInterval < time.Second || k.TrackInterval%time.Second != 0) {
			d.errorf(d.at(p+".track_interval"), p+".track_interval", "must be whole seconds, at least 1s (got %s)", k.TrackInterval)
		}
		if len(k.TrackScript) > 0 && k.NoTrackScript {
			d.errorf(d.at(p+".no_track_script"), p+".no_track_script", "track_script and no_track_script exclude each other")
		}
		if len(k.TrackScript) > 0 && d.valid(p+".track_script") && !filepath.IsAbs(k.TrackScript[0]) {
			d.errorf(d.at(p+".track_script"), p+".track_script", "the program %q must be an absolute path (keepalived's script security)", k.TrackScript[0])
		}
		if d.valid(p+".track_file_weight") && (k.TrackFileWeight < -254 || k.TrackFileWeight > -1) {
			d.errorf(d.at(p+".track_file_weight"), p+".track_file_weight", "must be -254..-1 (got %d)", k.TrackFileWeight)
		}
		if d.valid(p+".notify_tries") && k.NotifyTries < 1 {
			d.errorf(d.at(p+".notify_tries"), p+".notify_tries", "must be at least 1 (it counts attempts)")
		}
		d.notNegative(p+".notify_delay", k.NotifyDelay)
		if d.valid(p+".garp_delay") && (k.GARPDelay < 0 || k.GARPDelay%time.Second != 0) {
			d.errorf(d.at(p+".garp_delay"), p+".garp_delay", "must be whole seconds (got %s)", k.GARPDelay)
		}
		for i := range k.NotifyMaster {
			s := &k.NotifyMaster[i]
			sp := fmt.Sprintf("%s.notify_master[%d]", p, i)
			if s.VRRP != nil || s.KeepalivedTrack != nil {
				d.errorf(d.at(sp+".type"), sp+".type", "a %s switcher cannot run from keepalived's notify_master", s.Type)
			}
			d.validateSwitcher(s, sp)
			s.Timeout = or(s.Timeout, or(c.Switch.Timeout, DefaultSwitchTimeout))
		}
		k.Priority = or(k.Priority, DefaultVRRPPriority)
		k.Advert = or(k.Advert, DefaultVRRPAdvert)
		k.Version = or(k.Version, 3)
		k.TrackInterval = or(k.TrackInterval, DefaultTrackInterval)
		k.TrackFileWeight = or(k.TrackFileWeight, -254)
		if !d.given(p + ".notify_tries") {
			k.NotifyTries = DefaultNotifyTries
		}
		if !d.given(p + ".notify_delay") {
			k.NotifyDelay = DefaultNotifyDelay
		}
	}

	for i := range c.Switchers {
		s := &c.Switchers[i]
		p := fmt.Sprintf("switchers[%d]", i)
		switch {
		case s.VRRP != nil:
			if d.valid(p+".vrrp") && names[s.VRRP.VRRP] == "" {
				d.errorf(d.at(p+".vrrp"), p+".vrrp", "no vrrp entry named %q%s", s.VRRP.VRRP, known(c.VRRP, func(v VRRP) string { return v.Name }))
			}
		case s.KeepalivedTrack != nil:
			if !d.given("keepalived") {
				d.errorf(d.at(p+".type"), p+".type", "a keepalived_track switcher needs the keepalived section")
			}
		}
	}
}
