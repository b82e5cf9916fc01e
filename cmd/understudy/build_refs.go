package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/replicate"
	"github.com/understudy-ha/understudy/syncer"
)

// Checks that refer to other sections of the file: type replication (an
// entry of replication:) and type sync (an entry of syncs:).

// buildReplicationCheck: the node is fit while the entry's replica runs,
// is less than max_lag behind, and (with a state file) has not moved past
// a failed transaction or failed a data check since the last that passed.
func buildReplicationCheck(ch config.Check, d deps) (health.Checker, error) {
	i := slices.IndexFunc(d.cfg.Replication, func(r config.Replication) bool { return r.Name == ch.Replication.Replication })
	if i < 0 { // the configuration refuses this; a guard for hand-built ones
		return nil, fmt.Errorf("no replication entry named %q", ch.Replication.Replication)
	}
	r := d.cfg.Replication[i]
	m, err := replicate.NewMySQL(replicate.MySQLConfig{Address: r.Replica.Address, User: r.Replica.User,
		Password: r.Replica.Password.Reveal(), Connection: r.Connection, Timeout: ch.Timeout,
		Logger: d.log.With("check", ch.FullName)})
	if err != nil {
		return nil, err
	}
	if h := replicationHistory(d.cfg); h != nil {
		// What the check sees is remembered with what `replication
		// status` sees: a replica that moved past a failed transaction
		// stays unfit until a data check passes.
		return replicate.NewChecker(m, ch.Replication.MaxLag, replicate.WithHistory(r.Name, h)), nil
	}
	return replicate.NewChecker(m, ch.Replication.MaxLag), nil
}

// buildSyncCheck: the node is fit while the last success of the sync,
// as recorded next to the state file by whichever process ran it (the
// daemon's schedule, `understudy sync` from cron), is younger than
// max_age.
func buildSyncCheck(ch config.Check, d deps) (health.Checker, error) {
	st := syncStore(d.cfg)
	if st == nil {
		return nil, fmt.Errorf("a sync check needs state_file")
	}
	return syncer.Fresh(st, ch.Sync.Sync, ch.Sync.MaxAge), nil
}

// syncStore is where the runs of the syncs are recorded: next to the
// state file, "state.json" → "state.syncs.json". nil without a state
// file.
func syncStore(cfg *config.Config) *syncer.FileStore {
	if cfg.StateFile == "" {
		return nil
	}
	base := strings.TrimSuffix(cfg.StateFile, filepath.Ext(cfg.StateFile))
	return &syncer.FileStore{Path: base + ".syncs.json"}
}
