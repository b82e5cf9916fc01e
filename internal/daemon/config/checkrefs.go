package config

import (
	"fmt"
	"time"
)

// ReplicationCheck is a check of type replication: the node is fit only
// while the replica of the named entry of "replication:" runs and is less
// than MaxLag behind (replicate.NewChecker).
type ReplicationCheck struct {
	// Replication names an entry of the replication section.
	Replication string `yaml:"replication" cfg:"required,name"`
	// MaxLag is the largest accepted lag (default: the entry's max_lag).
	MaxLag time.Duration `yaml:"max_lag"`
}

// SyncCheck is a check of type sync: the node is fit only while the last
// successful run of the named entry of "syncs:" is younger than MaxAge.
// Runs are remembered next to the state file (state_file is required),
// so that `understudy sync NAME` from cron is seen by `understudy tick`.
type SyncCheck struct {
	// Sync names an entry of the syncs section.
	Sync string `yaml:"sync" cfg:"required,name"`
	// MaxAge is the largest accepted age of the last success (default:
	// the entry's max_age; one of the two is required).
	MaxAge time.Duration `yaml:"max_age"`
}

// refVariant allocates the check kinds that refer to other sections.
func (c *Check) refVariant(kind string) any {
	switch kind {
	case "replication":
		c.Replication = &ReplicationCheck{}
		return c.Replication
	case "sync":
		c.Sync = &SyncCheck{}
		return c.Sync
	}
	return nil
}

// validateCheckRefs resolves the names that replication and sync checks
// refer to, and fills in their defaults from the entries. It runs after
// validateSyncs and validateReplications (which default max_lag).
func (d *decoder) validateCheckRefs(c *Config) {
	reps := map[string]*Replication{}
	for i := range c.Replication {
		reps[c.Replication[i].Name] = &c.Replication[i]
	}
	syncs := map[string]*Sync{}
	for i := range c.Syncs {
		syncs[c.Syncs[i].Name] = &c.Syncs[i]
	}
	refs := func(checks []Check, path string) {
		for i := range checks {
			ch := &checks[i]
			p := fmt.Sprintf("%s[%d]", path, i)
			if r := ch.Replication; r != nil {
				d.notNegative(p+".max_lag", r.MaxLag)
				entry, ok := reps[r.Replication]
				switch {
				case !d.valid(p + ".replication"):
				case !ok:
					d.errorf(d.at(p+".replication"), p+".replication", "no replication entry named %q%s", r.Replication, known(c.Replication, func(r Replication) string { return r.Name }))
				case r.MaxLag == 0:
					r.MaxLag = entry.MaxLag
				}
			}
			if s := ch.Sync; s != nil {
				d.notNegative(p+".max_age", s.MaxAge)
				entry, ok := syncs[s.Sync]
				switch {
				case !d.valid(p + ".sync"):
				case !ok:
					d.errorf(d.at(p+".sync"), p+".sync", "no sync named %q%s", s.Sync, known(c.Syncs, func(s Sync) string { return s.Name }))
				case s.MaxAge == 0 && entry.MaxAge == 0:
					d.errorf(d.at(p), p, "missing max_age (here or on the sync %q)", s.Sync)
				case s.MaxAge == 0:
					s.MaxAge = entry.MaxAge
				}
				if c.StateFile == "" && !d.bad["state_file"] {
					d.errorf(d.at(p+".type"), p+".type", "a sync check needs state_file: the last success is remembered next to it, for tick and check")
				}
			}
		}
	}
	for i := range c.Nodes {
		refs(c.Nodes[i].Checks, fmt.Sprintf("nodes[%d].checks", i))
	}
	refs(c.Witness, "witness")
}

// known lists the names that exist, for an unknown-name message.
func known[T any](items []T, name func(T) string) string {
	if len(items) == 0 {
		return " (none are configured)"
	}
	s := " (known:"
	for i, it := range items {
		if i > 0 {
			s += ","
		}
		s += " " + name(it)
	}
	return s + ")"
}
