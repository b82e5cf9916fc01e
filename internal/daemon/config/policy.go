package config

import "github.com/understudy-ha/understudy/failover"

// Checks returns every check: each node's, in order, then the witness
// checks. Their FullName is the name the Policy and the state file use.
func (c *Config) Checks() []Check {
	var out []Check
	for _, n := range c.Nodes {
		out = append(out, n.Checks...)
	}
	return append(out, c.Witness...)
}

// FailoverNodes returns the nodes as the failover package knows them.
func (c *Config) FailoverNodes() []failover.Node {
	nodes := make([]failover.Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		nodes = append(nodes, failover.Node{
			Name: n.Name, Address: n.Address, Address6: n.Address6,
			Priority: n.Priority, Labels: n.Labels,
		})
	}
	return nodes
}

// FailoverPolicy returns the Policy the configuration describes: its
// nodes, the specs of every check, and the policy settings.
func (c *Config) FailoverPolicy() failover.Policy {
	p := failover.Policy{
		Nodes:         c.FailoverNodes(),
		FailAfter:     c.Policy.FailAfter,
		RiseAfter:     c.Policy.RiseAfter,
		WarnAfter:     c.Policy.WarnAfter,
		DownWhen:      c.Policy.DownWhen,
		Grace:         c.Policy.Grace,
		HoldDown:      c.Policy.HoldDown,
		Failback:      c.Policy.Failback,
		FailbackDelay: c.Policy.FailbackDelay,
	}
	for _, ch := range c.Checks() {
		p.Checks = append(p.Checks, ch.Spec())
	}
	return p
}

// Spec returns the check as the Policy knows it.
func (c Check) Spec() failover.CheckSpec {
	return failover.CheckSpec{
		Name: c.FullName, Node: c.Node, Role: c.Role,
		FailAfter: c.FailAfter, RiseAfter: c.RiseAfter,
	}
}
