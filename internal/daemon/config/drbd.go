package config

import (
	"fmt"
	"strings"
	"time"
)

// DRBD is a DRBD resource promoted on takeover and demoted on release
// (Heartbeat's drbddisk::RES): the drbd step of a group, and the drbd
// switcher (promote when the switch goes to Self, demote otherwise).
type DRBD struct {
	// Self is this node's name: required for the drbd switcher; a group
	// step takes the group's.
	Self string `yaml:"self" cfg:"name"`
	// Resource is the resource name in drbd.conf.
	Resource string `yaml:"resource" cfg:"required"`
	// Minors are the resource's device minors, read in /proc/drbd with
	// DRBD 8 (default: the only configured device).
	Minors []int `yaml:"minors"`
	// Source is proc or drbdadm (default: /proc/drbd, then drbdadm
	// status when the module is DRBD 9).
	Source string `yaml:"source" cfg:"oneof=proc|drbdadm"`
	// Force promotes a disk that is not up to date (drbdadm primary
	// --force): its data overwrites the peer's. Off by default.
	Force bool `yaml:"force"`
	// Drbdadm is the drbdadm program (default: found in PATH).
	Drbdadm string `yaml:"drbdadm" cfg:"path"`
	// ProcPath is the /proc/drbd file (default /proc/drbd).
	ProcPath string `yaml:"proc_path" cfg:"path"`
}

// validateDRBD checks the drbd switcher and the drbd steps of a group
// (called from validateSwitcher).
func (d *decoder) validateDRBD(s *Switcher, path string) {
	one := func(v *DRBD, p string) {
		d.drbdResource(v.Resource, p+".resource")
		for i, m := range v.Minors {
			if m < 0 {
				d.errorf(d.at(p+".minors"), fmt.Sprintf("%s.minors[%d]", p, i), "minor %d is negative", m)
			}
		}
	}
	switch {
	case s.DRBD != nil:
		one(s.DRBD, path)
		if s.DRBD.Self == "" {
			d.errorf(d.at(path), path, "missing required field %q", "self")
		}
	case s.Group != nil:
		for i, st := range s.Group.Steps {
			if st.DRBD == nil {
				continue
			}
			p := fmt.Sprintf("%s.steps[%d]", path, i)
			one(st.DRBD, p)
			if st.DRBD.Self != "" {
				d.errorf(d.at(p+".self"), p+".self", "a group step takes self from its group")
			}
		}
	}
}

// DRBDCheck is a check of type drbd: the node is fit only while the DRBD
// resource, read on the host the arbiter runs on, is connected, its
// disks hold current data and it is less than MaxLag behind (a resync
// target is behind; replicate.NewChecker over replicate.NewDRBD).
type DRBDCheck struct {
	// Resource is the resource name in drbd.conf.
	Resource string `yaml:"resource" cfg:"required"`
	// Minors are the resource's device minors, read in /proc/drbd with
	// DRBD 8 (default: the only configured device).
	Minors []int `yaml:"minors"`
	// Source is auto (default: /proc/drbd, then drbdadm status when the
	// module is DRBD 9), proc or drbdadm.
	Source string `yaml:"source" cfg:"oneof=auto|proc|drbdadm"`
	// ProcPath is the /proc/drbd file (default /proc/drbd).
	ProcPath string `yaml:"proc_path" cfg:"path"`
	// Drbdadm is the drbdadm program (default: found in PATH).
	Drbdadm string `yaml:"drbdadm" cfg:"path"`
	// MaxLag is the largest accepted lag (default 30s).
	MaxLag time.Duration `yaml:"max_lag"`
}

// validateDRBDCheck checks a check of type drbd (called from
// validateChecks).
func (d *decoder) validateDRBDCheck(c *DRBDCheck, p string) {
	d.drbdResource(c.Resource, p+".resource")
	for i, m := range c.Minors {
		if m < 0 {
			d.errorf(d.at(p+".minors"), fmt.Sprintf("%s.minors[%d]", p, i), "minor %d is negative", m)
		}
	}
	d.notNegative(p+".max_lag", c.MaxLag)
}

// drbdResource refuses names drbdadm would take for something else.
func (d *decoder) drbdResource(name, path string) {
	if d.valid(path) && (name == "all" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, " \t\n/")) {
		d.errorf(d.at(path), path, "resource name %q not allowed (one resource, not all)", name)
	}
}
