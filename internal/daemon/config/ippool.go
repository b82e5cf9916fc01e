package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"time"
)

// DOReservedIPSwitcher moves a DigitalOcean reserved IP to the node's
// droplet (the node's droplet_id label).
type DOReservedIPSwitcher struct {
	// IP is the reserved IP.
	IP netip.Addr `yaml:"ip" cfg:"required"`
	// Token is the API token (read/write), given as token_file or
	// token_env.
	Token Secret `yaml:"token" cfg:"required,secret"`
	// APIURL overrides the API base URL (default: DigitalOcean's).
	APIURL string `yaml:"api_url" cfg:"url"`
	// MetadataURL is the droplet metadata service (default
	// http://169.254.169.254).
	MetadataURL string `yaml:"metadata_url" cfg:"url"`
	// NoMetadata skips the metadata check (not running on a droplet).
	NoMetadata bool `yaml:"no_metadata"`
	// Deadline bounds one switch, retries included (default 30s).
	Deadline time.Duration `yaml:"deadline"`
	// PollInterval separates polls of the assign action (default 1s).
	PollInterval time.Duration `yaml:"poll_interval"`
}

// VIP is a virtual address on an interface: the vip switcher, and the
// vip step of a group.
type VIP struct {
	// Self is the node this daemon runs on: a switch to it claims the
	// address, a switch elsewhere releases it here. Required for the vip
	// switcher; a group step takes the group's.
	Self string `yaml:"self" cfg:"name"`
	// Interface carries the address (eth0).
	Interface string `yaml:"interface" cfg:"required"`
	// Address is the address with its prefix length (192.168.69.100/24).
	Address string `yaml:"address" cfg:"required"`
	// NetNS is a network namespace name or path ("": the daemon's).
	NetNS string `yaml:"netns"`
	// ProbeTimeout is how long the ARP probe before claiming waits
	// (default 300ms); NoProbe skips it.
	ProbeTimeout time.Duration `yaml:"probe_timeout"`
	NoProbe      bool          `yaml:"no_probe"`
	// GARPCount packets per burst (default 5), GARPRepeats bursts
	// (default 2), GARPDelay between bursts (default 5s), GARPInterval
	// between the packets of a burst (default 0).
	GARPCount    int           `yaml:"garp_count"`
	GARPRepeats  int           `yaml:"garp_repeats"`
	GARPDelay    time.Duration `yaml:"garp_delay"`
	GARPInterval time.Duration `yaml:"garp_interval"`
}

// Prefix parses Address (validated at load).
func (v VIP) Prefix() netip.Prefix {
	p, _ := netip.ParsePrefix(v.Address)
	return p
}

// GroupSwitcher is a Heartbeat-style resource group: Steps are taken over
// in order by the node Self when it becomes active and released in
// reverse order when another node does.
type GroupSwitcher struct {
	// Self is the node this daemon runs on.
	Self string `yaml:"self" cfg:"required,name"`
	// Name names the group in logs (default "group").
	Name  string      `yaml:"name"`
	Steps []GroupStep `yaml:"steps" cfg:"required"`
}

// GroupStep is one resource of a group; Type says which field is set:
// vip, command, systemctl or mount.
type GroupStep struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Type is vip, command, systemctl or mount.
	Type string `yaml:"type" cfg:"required"`
	// Name appears in logs and errors (default: the type).
	Name string `yaml:"name"`

	VIP       *VIP           `yaml:"-"`
	Command   *CommandStep   `yaml:"-"`
	Systemctl *SystemctlStep `yaml:"-"`
	Mount     *MountStep     `yaml:"-"`
	DRBD      *DRBD          `yaml:"-"` // drbd.go
}

// CommandStep runs Takeover to take over and Release to release (argv).
type CommandStep struct {
	Takeover []string `yaml:"takeover" cfg:"required,argv"`
	Release  []string `yaml:"release" cfg:"argv"`
}

// SystemctlStep starts Unit on takeover and stops it on release.
type SystemctlStep struct {
	Unit string `yaml:"unit" cfg:"required"`
}

// MountStep mounts Device on Target on takeover and unmounts it on
// release.
type MountStep struct {
	Device  string `yaml:"device" cfg:"required"`
	Target  string `yaml:"target" cfg:"required"`
	FSType  string `yaml:"fstype"`
	Options string `yaml:"options"`
}

var groupStepKinds = []string{"vip", "command", "systemctl", "mount", "drbd"}

func (s *GroupStep) noun() string    { return "group step" }
func (s *GroupStep) kinds() []string { return groupStepKinds }
func (s *GroupStep) variant(kind string) any {
	switch kind {
	case "vip":
		s.VIP = &VIP{}
		return s.VIP
	case "command":
		s.Command = &CommandStep{}
		return s.Command
	case "systemctl":
		s.Systemctl = &SystemctlStep{}
		return s.Systemctl
	case "mount":
		s.Mount = &MountStep{}
		return s.Mount
	case "drbd":
		s.DRBD = &DRBD{}
		return s.DRBD
	}
	return nil
}

// ippoolVariant allocates the kind-specific struct of the floating
// address switchers (called from Switcher.variant).
func (s *Switcher) ippoolVariant(kind string) any {
	switch kind {
	case "do_reserved_ip":
		s.DOReservedIP = &DOReservedIPSwitcher{}
		return s.DOReservedIP
	case "vip":
		s.VIP = &VIP{}
		return s.VIP
	case "group":
		s.Group = &GroupSwitcher{}
		return s.Group
	}
	return nil
}

// validateIPPool checks the floating address switchers (called from
// validateSwitcher).
func (d *decoder) validateIPPool(s *Switcher, path string) {
	vip := func(v *VIP, p string) {
		if d.valid(p + ".address") {
			if pf, err := netip.ParsePrefix(v.Address); err != nil || pf.Addr().Zone() != "" {
				d.errorf(d.at(p+".address"), p+".address", "want an address with its prefix length, like 192.168.69.100/24 (got %q)", v.Address)
			}
		}
		d.positive(p+".probe_timeout", v.ProbeTimeout)
		d.positive(p+".garp_delay", v.GARPDelay)
	}
	switch {
	case s.VIP != nil:
		vip(s.VIP, path)
		if s.VIP.Self == "" {
			d.errorf(d.at(path), path, "missing required field %q", "self")
		}
	case s.Group != nil:
		for i, st := range s.Group.Steps {
			if st.VIP == nil {
				continue
			}
			p := fmt.Sprintf("%s.steps[%d]", path, i)
			vip(st.VIP, p)
			if st.VIP.Self != "" {
				d.errorf(d.at(p+".self"), p+".self", "a group step takes self from its group")
			}
		}
	case s.DOReservedIP != nil:
		d.positive(path+".deadline", s.DOReservedIP.Deadline)
		d.positive(path+".poll_interval", s.DOReservedIP.PollInterval)
		// The API token goes to api_url: never in clear over a network.
		if u := s.DOReservedIP.APIURL; u != "" && d.valid(path+".api_url") && !httpsOrLoopback(u) {
			d.errorf(d.at(path+".api_url"), path+".api_url", "must be https (plain http only to a loopback address): the API token is sent there")
		}
	}
}

// httpsOrLoopback reports whether raw is an https URL, or an http URL to
// a loopback host (a test fake, a local proxy).
func httpsOrLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}
