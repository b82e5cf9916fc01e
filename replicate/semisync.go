package replicate

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SemiSync is one server's semi-synchronous replication state: built
// into MariaDB since 10.3 (rpl_semi_sync_master_*, rpl_semi_sync_slave_*),
// a plugin on MySQL (the same names, or rpl_semi_sync_source_* and
// rpl_semi_sync_replica_* from 8.0.26). On the primary, a transaction is
// acknowledged when a semi-sync replica has written it to its relay log;
// when no acknowledgement comes within rpl_semi_sync_master_timeout the
// primary commits anyway and turns itself asynchronous
// (Rpl_semi_sync_master_status OFF) until a replica catches up.
type SemiSync struct {
	// Server names the server; Time is when it was read.
	Server string
	Time   time.Time
	// Available is false when the server has no semi-sync variables (a
	// MySQL server without the plugin); every other field is then zero.
	Available bool

	// Primary (master, source) side.
	//
	// MasterEnabled is rpl_semi_sync_master_enabled: commits wait for an
	// acknowledgement.
	MasterEnabled bool
	// MasterActive is Rpl_semi_sync_master_status: ON while commits do
	// wait; OFF when semi-sync is disabled or fell back to asynchronous.
	MasterActive bool
	// Clients is Rpl_semi_sync_master_clients, the semi-sync replicas
	// connected now.
	Clients int64
	// YesTx and NoTx are Rpl_semi_sync_master_yes_tx and _no_tx: the
	// transactions committed with and without an acknowledgement since
	// the server started (or since FLUSH STATUS).
	YesTx, NoTx int64
	// WaitSessions is Rpl_semi_sync_master_wait_sessions: commits waiting
	// for an acknowledgement right now.
	WaitSessions int64
	// Timeout is rpl_semi_sync_master_timeout.
	Timeout time.Duration
	// WaitPoint is rpl_semi_sync_master_wait_point: AFTER_SYNC (lossless:
	// nothing is visible before a replica has it) or AFTER_COMMIT
	// (MariaDB's default: a commit is visible to other sessions while it
	// waits, so a crash then can lose what they saw).
	WaitPoint string

	// Replica (slave) side.
	//
	// SlaveEnabled is rpl_semi_sync_slave_enabled; SlaveActive is
	// Rpl_semi_sync_slave_status: the IO thread acknowledges.
	SlaveEnabled, SlaveActive bool
}

const (
	semiSyncVarsQuery   = "SHOW GLOBAL VARIABLES WHERE Variable_name LIKE 'rpl\\_semi\\_sync\\_%'"
	semiSyncStatusQuery = "SHOW GLOBAL STATUS WHERE Variable_name LIKE 'Rpl\\_semi\\_sync\\_%'"
)

// SemiSync reads the server's semi-synchronous replication variables
// and counters (no privilege is needed). It changes nothing.
func (m *MySQL) SemiSync(ctx context.Context) (SemiSync, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	vars, err := queryMaps(ctx, m.db, semiSyncVarsQuery)
	if err != nil {
		return SemiSync{}, m.wrap(semiSyncVarsQuery, err)
	}
	status, err := queryMaps(ctx, m.db, semiSyncStatusQuery)
	if err != nil {
		return SemiSync{}, m.wrap(semiSyncStatusQuery, err)
	}
	s, err := parseSemiSync(vars, status)
	if err != nil {
		return SemiSync{}, fmt.Errorf("replicate: %s: semi-sync: %w", m.Name(), err)
	}
	s.Server, s.Time = m.Name(), time.Now()
	return s, nil
}

// parseSemiSync reads the rows of SHOW GLOBAL VARIABLES and SHOW GLOBAL
// STATUS (Variable_name, Value), in MariaDB's and MySQL's spellings.
func parseSemiSync(vars, status []map[string]sql.NullString) (SemiSync, error) {
	get := func(rows []map[string]sql.NullString) map[string]string {
		out := map[string]string{}
		for _, r := range rows {
			name := strings.ToLower(r["Variable_name"].String)
			// MySQL 8.0.26+: source/replica for master/slave.
			name = strings.NewReplacer("_source_", "_master_", "_replica_", "_slave_").Replace(name)
			out[name] = r["Value"].String
		}
		return out
	}
	v, st := get(vars), get(status)
	var s SemiSync
	if len(v) == 0 {
		return s, nil
	}
	s.Available = true
	var bad []string
	flag := func(m map[string]string, k string) bool {
		switch strings.ToUpper(m[k]) {
		case "ON", "1":
			return true
		case "OFF", "0", "":
			return false
		}
		bad = append(bad, fmt.Sprintf("%s=%q", k, m[k]))
		return false
	}
	num := func(m map[string]string, k string) int64 {
		if m[k] == "" {
			return 0
		}
		n, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil || n < 0 {
			bad = append(bad, fmt.Sprintf("%s=%q", k, m[k]))
		}
		return n
	}
	s.MasterEnabled = flag(v, "rpl_semi_sync_master_enabled")
	s.SlaveEnabled = flag(v, "rpl_semi_sync_slave_enabled")
	s.Timeout = time.Duration(num(v, "rpl_semi_sync_master_timeout")) * time.Millisecond
	s.WaitPoint = strings.ToUpper(v["rpl_semi_sync_master_wait_point"])
	s.MasterActive = flag(st, "rpl_semi_sync_master_status")
	s.SlaveActive = flag(st, "rpl_semi_sync_slave_status")
	s.Clients = num(st, "rpl_semi_sync_master_clients")
	s.YesTx = num(st, "rpl_semi_sync_master_yes_tx")
	s.NoTx = num(st, "rpl_semi_sync_master_no_tx")
	s.WaitSessions = num(st, "rpl_semi_sync_master_wait_sessions")
	if len(bad) > 0 {
		return SemiSync{}, fmt.Errorf("%w: unexpected values %s", ErrUnknownFormat, strings.Join(bad, ", "))
	}
	return s, nil
}

// Acknowledged says whether, as this reading of a primary shows, every
// transaction it committed was acknowledged by a semi-sync replica, and
// why not: semi-sync unavailable or disabled (asynchronous), enabled but
// inactive (it fell back to asynchronous after Timeout, or no semi-sync
// replica is connected), or transactions committed without an
// acknowledgement (NoTx grew since base; with base nil, since the server
// started). When it is false, a standby promoted after this primary's
// death may be missing committed transactions: "data may be missing".
// An earlier reading of the same server as base is how a watcher that
// reads the primary periodically tells new unacknowledged commits from
// old ones; a base from before a restart of the server (counters lower
// than base's) is ignored. A reading speaks for what was committed
// before it: of the commits after the last reading of a primary that
// died, those not acknowledged never returned OK to their client while
// semi-sync was active (with wait point AFTER_SYNC they were not visible
// to other sessions either; with AFTER_COMMIT they were).
func (s SemiSync) Acknowledged(base *SemiSync) (bool, string) {
	switch {
	case !s.Available:
		return false, fmt.Sprintf("semi-sync is not available on %s: replication is asynchronous, committed transactions may be missing on the standby", s.Server)
	case !s.MasterEnabled:
		return false, fmt.Sprintf("semi-sync is off on %s (rpl_semi_sync_master_enabled=OFF): replication is asynchronous, committed transactions may be missing on the standby", s.Server)
	case !s.MasterActive:
		return false, fmt.Sprintf("semi-sync is enabled but inactive on %s (Rpl_semi_sync_master_status=OFF, %d semi-sync replica(s) connected, %d transaction(s) committed without acknowledgement): it fell back to asynchronous after rpl_semi_sync_master_timeout=%v, data may be missing on the standby",
			s.Server, s.Clients, s.NoTx, s.Timeout)
	}
	since, noTx := "since the server started", s.NoTx
	if base != nil && base.Available && base.NoTx <= s.NoTx && base.YesTx <= s.YesTx {
		since, noTx = "since "+base.Time.Format(time.RFC3339), s.NoTx-base.NoTx
	}
	if noTx > 0 {
		return false, fmt.Sprintf("%d transaction(s) committed on %s without acknowledgement %s (Rpl_semi_sync_master_no_tx): data may be missing on the standby", noTx, s.Server, since)
	}
	return true, fmt.Sprintf("semi-sync active on %s: every transaction committed %s was acknowledged (yes_tx=%d, no_tx=%d, %d replica(s))",
		s.Server, since, s.YesTx, s.NoTx, s.Clients)
}

// String renders the reading in one line.
func (s SemiSync) String() string {
	if !s.Available {
		return "semi-sync not available"
	}
	return fmt.Sprintf("semi-sync master enabled=%s status=%s clients=%d yes_tx=%d no_tx=%d timeout=%v wait_point=%s; slave enabled=%s status=%s",
		onOff(s.MasterEnabled), onOff(s.MasterActive), s.Clients, s.YesTx, s.NoTx, s.Timeout, s.WaitPoint, onOff(s.SlaveEnabled), onOff(s.SlaveActive))
}
