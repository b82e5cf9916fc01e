package main

import (
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/config"
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
