package main

import (
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/replicate"
)

// buildDRBDSwitcher builds the drbd switcher: promote the resource when
// the switch goes to self, demote it otherwise.
func buildDRBDSwitcher(s config.Switcher, d deps) (failover.Switcher, error) {
	return newDRBD(*s.DRBD, s.DRBD.Self, d)
}

// newDRBD builds a DRBD resource; self is the switcher's or the group's.
func newDRBD(c config.DRBD, self string, d deps) (*replicate.DRBD, error) {
	return replicate.NewDRBD(replicate.DRBDConfig{
		Resource: c.Resource,
		Minors:   c.Minors,
		Source:   c.Source,
		Self:     self,
		Force:    c.Force,
		Drbdadm:  c.Drbdadm,
		ProcPath: c.ProcPath,
		Runner:   d.runner,
		Logger:   d.log,
	})
}

// buildDRBDCheck: the node is fit while the DRBD resource is connected,
// up to date and less than max_lag behind.
func buildDRBDCheck(ch config.Check, d deps) (health.Checker, error) {
	r, err := newDRBD(drbdOfCheck(*ch.DRBD), "", d)
	if err != nil {
		return nil, err
	}
	return replicate.NewChecker(r, ch.DRBD.MaxLag), nil
}

// drbdOfCheck reads a drbd check's resource settings as a switcher's
// ("auto" is the default source).
func drbdOfCheck(c config.DRBDCheck) config.DRBD {
	src := c.Source
	if src == "auto" {
		src = replicate.DRBDSourceAuto
	}
	return config.DRBD{Resource: c.Resource, Minors: c.Minors, Source: src, Drbdadm: c.Drbdadm, ProcPath: c.ProcPath}
}
