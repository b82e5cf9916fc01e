package config

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// validate checks what the field decoders cannot see alone: timings
// against each other, uniqueness, and rules that join several fields.
func (d *decoder) validate(c *Config) {
	interval := c.Interval
	if d.valid("interval") && interval <= 0 {
		d.errorf(d.at("interval"), "interval", "must be positive")
	}
	if !d.given("interval") {
		interval = DefaultInterval
	}
	checkTimeout := c.CheckTimeout
	if d.valid("check_timeout") && checkTimeout <= 0 {
		d.errorf(d.at("check_timeout"), "check_timeout", "must be positive")
	}
	if !d.given("check_timeout") {
		checkTimeout = DefaultCheckTimeout
	}
	if checkTimeout > 0 && interval > 0 && checkTimeout >= interval && !d.bad["interval"] && !d.bad["check_timeout"] {
		where := "check_timeout"
		if !d.given(where) {
			where = "interval"
		}
		d.errorf(d.at(where), where, "check_timeout (%s) must be shorter than interval (%s)", checkTimeout, interval)
	}

	d.validatePolicy(&c.Policy)
	d.validateSyncs(c.Syncs)
	d.validateReplications(c.Replication)
	d.validateCheckRefs(c)
	d.positive("switch.timeout", c.Switch.Timeout)
	if d.valid("switch.retries") && c.Switch.Retries < 1 {
		d.errorf(d.at("switch.retries"), "switch.retries", "must be at least 1 (it counts attempts)")
	}
	d.notNegative("switch.backoff", c.Switch.Backoff)
	d.positive("ddns.every", c.DDNS.Every)

	if d.given("nodes") && len(c.Nodes) == 0 {
		d.errorf(d.at("nodes"), "nodes", "at least one node is required")
	}
	names := map[string]string{}
	addrs := map[netip.Addr]string{}
	withPriority := 0
	for i := range c.Nodes {
		n := &c.Nodes[i]
		path := fmt.Sprintf("nodes[%d]", i)
		if prev, dup := names[n.Name]; dup && n.Name != "" {
			d.errorf(d.at(path+".name"), path+".name", "duplicate node name %q (first at %s)", n.Name, prev)
		} else {
			names[n.Name] = path
		}
		if prev, dup := addrs[n.Address]; dup && n.Address.IsValid() {
			d.errorf(d.at(path+".address"), path+".address", "address %s is already used by %s", n.Address, prev)
		} else {
			addrs[n.Address] = path
		}
		if n.Address6.IsValid() && !(n.Address6.Is6() && !n.Address6.Is4In6()) {
			d.errorf(d.at(path+".address6"), path+".address6", "%s is not an IPv6 address", n.Address6)
		}
		if d.given(path + ".priority") {
			withPriority++
		}
		d.validateChecks(n.Checks, path+".checks", n.Name, interval, checkTimeout)
	}
	if withPriority > 0 && withPriority < len(c.Nodes) {
		d.errorf(d.at("nodes"), "nodes", "give priority on every node or on none (%d of %d have one)", withPriority, len(c.Nodes))
	}
	d.validateChecks(c.Witness, "witness", "", interval, checkTimeout)

	for i := range c.Switchers {
		d.validateSwitcher(&c.Switchers[i], fmt.Sprintf("switchers[%d]", i))
	}
	d.validateVRRP(c)
	for i := range c.Notify {
		d.validateNotifier(&c.Notify[i], fmt.Sprintf("notify[%d]", i))
	}
	if c.HTTP.Listen != "" && !c.HTTP.AllowRemote {
		host, _, err := net.SplitHostPort(c.HTTP.Listen)
		if err == nil && !isLoopback(host) {
			d.errorf(d.at("http.listen"), "http.listen", "%s is not a loopback address; the status endpoint has no authentication (set allow_remote: true to listen there anyway)", c.HTTP.Listen)
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func (d *decoder) validatePolicy(p *Policy) {
	for _, f := range []struct {
		key string
		v   int
	}{{"fail_after", p.FailAfter}, {"rise_after", p.RiseAfter}, {"warn_after", p.WarnAfter}} {
		path := "policy." + f.key
		if d.valid(path) && f.v < 1 {
			d.errorf(d.at(path), path, "must be at least 1")
		}
	}
	d.notNegative("policy.grace", p.Grace)
	d.notNegative("policy.hold_down", p.HoldDown)
	d.notNegative("policy.failback_delay", p.FailbackDelay)
	switch {
	case p.Failback == failover.FailbackDelayed && p.FailbackDelay <= 0:
		d.errorf(d.at("policy.failback"), "policy.failback", "failback: delayed needs a positive failback_delay")
	case p.Failback != failover.FailbackDelayed && p.FailbackDelay > 0:
		d.errorf(d.at("policy.failback_delay"), "policy.failback_delay", "failback_delay is only used with failback: delayed")
	}
}

func (d *decoder) validateChecks(checks []Check, path, node string, interval, checkTimeout time.Duration) {
	names := map[string]string{}
	for i := range checks {
		c := &checks[i]
		cpath := fmt.Sprintf("%s[%d]", path, i)
		if prev, dup := names[c.Name]; dup && c.Name != "" {
			d.errorf(d.at(cpath+".name"), cpath+".name", "duplicate check name %q (first at %s)", c.Name, prev)
		} else {
			names[c.Name] = cpath
		}
		switch {
		case node == "" && c.Role != "" && c.Role != failover.RoleWitness:
			d.errorf(d.at(cpath+".role"), cpath+".role", "witness checks have role witness, not %s", c.Role)
		case node != "" && c.Role == failover.RoleWitness:
			d.errorf(d.at(cpath+".role"), cpath+".role", "role witness is for checks under witness:, not a node's checks")
		}
		timeout := c.Timeout
		if d.given(cpath + ".timeout") {
			d.positive(cpath+".timeout", timeout)
		} else {
			timeout = checkTimeout
		}
		if d.valid(cpath+".timeout") && timeout > 0 && interval > 0 && timeout >= interval {
			d.errorf(d.at(cpath+".timeout"), cpath+".timeout", "timeout (%s) must be shorter than interval (%s)", timeout, interval)
		}
		for key, v := range map[string]int{"fail_after": c.FailAfter, "rise_after": c.RiseAfter} {
			if v < 0 {
				d.errorf(d.at(cpath+"."+key), cpath+"."+key, "must not be negative")
			}
		}
		if c.DRBD != nil {
			d.validateDRBDCheck(c.DRBD, cpath)
		}
		if c.HTTP != nil {
			for j, code := range c.HTTP.ExpectStatus {
				if code < 100 || code > 599 {
					p := fmt.Sprintf("%s.expect_status[%d]", cpath, j)
					d.errorf(d.at(p), p, "%d is not an HTTP status code", code)
				}
			}
		}
	}
}

func (d *decoder) validateSwitcher(s *Switcher, path string) {
	d.positive(path+".timeout", s.Timeout)
	var ttl time.Duration
	switch {
	case s.RFC2136 != nil:
		ttl = s.RFC2136.TTL
		if d.given(path+".servers") && len(s.RFC2136.Servers) == 0 {
			d.errorf(d.at(path+".servers"), path+".servers", "at least one server is required")
		}
	case s.ZoneFile != nil:
		ttl = s.ZoneFile.TTL
	case s.Libdns != nil:
		ttl = s.Libdns.TTL
	}
	d.validateIPPool(s, path)
	d.validateDRBD(s, path)
	if d.valid(path + ".ttl") {
		if ttl < time.Second || ttl%time.Second != 0 || ttl > 1<<31*time.Second {
			d.errorf(d.at(path+".ttl"), path+".ttl", "ttl must be a whole number of seconds, at least 1s (got %s)", ttl)
		}
	}
}

func (d *decoder) validateNotifier(n *Notifier, path string) {
	d.positive(path+".timeout", n.Timeout)
	if m := n.Mail; m != nil {
		if m.Password.IsSet() && m.Username == "" {
			d.errorf(d.at(path), path, "a mail password needs a username")
		}
	}
}

func (d *decoder) positive(path string, v time.Duration) {
	if d.valid(path) && v <= 0 {
		d.errorf(d.at(path), path, "must be positive")
	}
}

func (d *decoder) notNegative(path string, v time.Duration) {
	if d.valid(path) && v < 0 {
		d.errorf(d.at(path), path, "must not be negative")
	}
}

// defaults fills in every value the file left out.
func (d *decoder) defaults(c *Config) {
	c.Interval = or(c.Interval, DefaultInterval)
	c.CheckTimeout = or(c.CheckTimeout, DefaultCheckTimeout)
	c.Log.Format = or(c.Log.Format, "text")
	c.Log.Level = or(c.Log.Level, "info")
	p := &c.Policy
	p.FailAfter = or(p.FailAfter, DefaultFailAfter)
	p.RiseAfter = or(p.RiseAfter, DefaultRiseAfter)
	p.WarnAfter = or(p.WarnAfter, DefaultWarnAfter)
	p.DownWhen = or(p.DownWhen, failover.DownAny)
	p.Failback = or(p.Failback, failover.FailbackAuto)
	c.Switch.Timeout = or(c.Switch.Timeout, DefaultSwitchTimeout)
	if !d.given("switch.retries") {
		c.Switch.Retries = DefaultSwitchRetries
	}
	c.Switch.Backoff = or(c.Switch.Backoff, DefaultSwitchBackoff)
	syncDefaults(c.Syncs)

	for i := range c.Nodes {
		n := &c.Nodes[i]
		if !d.given(fmt.Sprintf("nodes[%d].priority", i)) {
			n.Priority = len(c.Nodes) - i
		}
		for j := range n.Checks {
			ch := &n.Checks[j]
			ch.Node = n.Name
			ch.FullName = n.Name + "/" + ch.Name
			ch.Role = or(ch.Role, failover.RoleCritical)
			checkDefaults(ch, c.CheckTimeout)
		}
	}
	for i := range c.Witness {
		ch := &c.Witness[i]
		ch.FullName = ch.Name
		ch.Role = failover.RoleWitness
		checkDefaults(ch, c.CheckTimeout)
	}
	for i := range c.Switchers {
		s := &c.Switchers[i]
		s.Timeout = or(s.Timeout, c.Switch.Timeout)
	}
	for i := range c.Notify {
		n := &c.Notify[i]
		n.Timeout = or(n.Timeout, DefaultNotifyTimeout)
		if n.Mail != nil {
			n.Mail.StartTLS = or(n.Mail.StartTLS, "auto")
		}
		if n.Exec != nil && !d.given(fmt.Sprintf("notify[%d].timeout", i)) {
			n.Timeout = DefaultExecTimeout
		}
	}
}

func checkDefaults(ch *Check, timeout time.Duration) {
	ch.Timeout = or(ch.Timeout, timeout)
	if h := ch.HTTP; h != nil {
		h.Method = or(h.Method, "GET")
	}
	if ch.DNS != nil {
		ch.DNS.QType = or(ch.DNS.QType, "A")
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
