package main

import (
	"fmt"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/ippool"
)

// buildDOReservedIP builds the DigitalOcean reserved IP switcher.
func buildDOReservedIP(s config.Switcher, d deps) (failover.Switcher, error) {
	c := s.DOReservedIP
	api, err := ippool.NewGodoClient(c.Token.Reveal(), c.APIURL, nil)
	if err != nil {
		return nil, err
	}
	return ippool.NewReservedIP(api, ippool.ReservedIPConfig{
		IP:           c.IP,
		MetadataURL:  c.MetadataURL,
		NoMetadata:   c.NoMetadata,
		Deadline:     c.Deadline,
		PollInterval: c.PollInterval,
		Logger:       d.log,
	})
}

// buildVIP builds the local virtual IP switcher.
func buildVIP(s config.Switcher, d deps) (failover.Switcher, error) {
	return newVIP(*s.VIP, s.VIP.Self, d)
}

func newVIP(v config.VIP, self string, d deps) (*ippool.VIP, error) {
	return ippool.NewVIP(ippool.VIPConfig{
		Self:         self,
		Interface:    v.Interface,
		Address:      v.Prefix(),
		NetNS:        v.NetNS,
		ProbeTimeout: v.ProbeTimeout,
		NoProbe:      v.NoProbe,
		Announce:     ippool.Burst{Count: v.GARPCount, Repeats: v.GARPRepeats, Delay: v.GARPDelay, Interval: v.GARPInterval},
		Logger:       d.log,
	})
}

// buildGroup builds a resource group from its steps.
func buildGroup(s config.Switcher, d deps) (failover.Switcher, error) {
	g := s.Group
	var steps []ippool.GroupStep
	for i, st := range g.Steps {
		name := st.Name
		if name == "" {
			name = st.Type
		}
		var step ippool.Step
		switch {
		case st.VIP != nil:
			v, err := newVIP(*st.VIP, g.Self, d)
			if err != nil {
				return nil, fmt.Errorf("step %d (%s): %w", i, name, err)
			}
			step = v
		case st.Command != nil:
			step = &ippool.Command{TakeoverArgv: st.Command.Takeover, ReleaseArgv: st.Command.Release, Runner: d.runner}
		case st.Systemctl != nil:
			step = ippool.Systemctl(st.Systemctl.Unit, d.runner)
		case st.DRBD != nil:
			r, err := newDRBD(*st.DRBD, g.Self, d)
			if err != nil {
				return nil, fmt.Errorf("step %d (%s): %w", i, name, err)
			}
			step = r
		case st.Mount != nil:
			step = &ippool.Mount{Device: st.Mount.Device, Target: st.Mount.Target, FSType: st.Mount.FSType, Options: st.Mount.Options, Runner: d.runner}
		default:
			return nil, fmt.Errorf("step %d (%s): unknown type %q", i, name, st.Type)
		}
		steps = append(steps, ippool.GroupStep{Name: name, Step: step})
	}
	return ippool.NewGroup(ippool.GroupConfig{Name: g.Name, Self: g.Self, Steps: steps, Logger: d.log})
}
