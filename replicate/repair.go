package replicate

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// Strategy names a repair. None runs unless asked for by name.
type Strategy string

// The strategies. What each really did to a MariaDB 10.11 master-master
// pair (ROW binlogs, GTID) is in its comment; the package tests assert it.
const (
	// StrategyReport changes nothing: it reads the status, runs the data
	// check and reports. It is the default.
	StrategyReport Strategy = "report"
	// StrategyRestart is the article's STOP SLAVE; FLUSH PRIVILEGES;
	// RESET SLAVE; START SLAVE (with FLUSH LOCAL PRIVILEGES: the article's
	// FLUSH is binlogged and replicates to the other master). With GTID the replica resumes from
	// gtid_slave_pos, fetches the same transaction and fails again: it
	// fixes nothing, and the report says so. In file/position mode on
	// MariaDB 10.11, RESET SLAVE switches the replica to GTID, which can
	// silently skip transactions; the data check shows what happened.
	StrategyRestart Strategy = "restart"
	// StrategySkip skips the failing transaction (its GTID, or one event
	// group with sql_slave_skip_counter). Replication resumes; the copies
	// have diverged, and the data check names the rows.
	StrategySkip Strategy = "skip"
	// StrategyReplaceRow handles a duplicate key (1062): it deletes the
	// conflicting row on the replica with sql_log_bin=0 (so the delete
	// does not replicate back) and restarts the SQL thread, which applies
	// the source's row. The replica's row is returned in the report.
	StrategyReplaceRow Strategy = "replace-row"
	// StrategyReseed reloads the replicated schemas from the source: a
	// GTID-consistent dump (mariadb-dump --single-transaction --gtid
	// --master-data=1) loaded on the replica with sql_log_bin=0; the dump
	// sets gtid_slave_pos. Writes on the replica that did not reach the
	// source are lost.
	StrategyReseed Strategy = "reseed"
	// StrategyIdempotent (slave_exec_mode=IDEMPOTENT) is never run; see
	// [ErrIdempotentRefused].
	StrategyIdempotent Strategy = "idempotent"
)

// Strategies lists the strategies that can run, in the order a human
// should consider them.
var Strategies = []Strategy{StrategyReport, StrategyReplaceRow, StrategyReseed, StrategySkip, StrategyRestart}

// ParseStrategy returns the strategy named s; "" is StrategyReport.
func ParseStrategy(s string) (Strategy, error) {
	if s == "" {
		return StrategyReport, nil
	}
	for _, st := range append(Strategies, StrategyIdempotent) {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("replicate: unknown repair strategy %q (known: report, replace-row, reseed, skip, restart)", s)
}

// Errors of [Repairer.Repair].
var (
	// ErrCannotRepair: the strategy does not apply to the replica's
	// current state (nothing broken, another error class, a key it cannot
	// locate, a server flavour it does not support). Nothing was changed.
	ErrCannotRepair = errors.New("replicate: strategy does not apply")
	// ErrIdempotentRefused: slave_exec_mode=IDEMPOTENT is not offered.
	// With STATEMENT or MIXED binlogs (MariaDB's default) it has no effect
	// on a duplicate key: the statement fails again. With ROW binlogs it
	// overwrites the replica's row one-sidedly, and when both sides wrote
	// the same key it swapped the values between the nodes. It also stays
	// on for every later conflict, silently. StrategyReplaceRow does the
	// one-sided fix explicitly and verifies it.
	ErrIdempotentRefused = errors.New("replicate: slave_exec_mode=IDEMPOTENT refused")
)

// DefaultCatchUpTimeout bounds the wait for the replica to catch up with
// its source after a repair.
const DefaultCatchUpTimeout = 30 * time.Second

// RepairConfig configures a [Repairer].
type RepairConfig struct {
	// Source is the server the replica replicates from (required): the
	// data check compares against it, skip reads its binlog, reseed dumps
	// it.
	Source *MySQL
	// Replica is the broken replica (required).
	Replica *MySQL
	// Check says which tables the data check after every repair compares.
	// When it has no tables, Schemas are compared; with neither, the
	// report says that convergence was not verified.
	Check DataCheckConfig
	// Schemas are the replicated schemas, dumped by StrategyReseed
	// (required for it).
	Schemas []string
	// CatchUpTimeout bounds the wait for the replica to catch up after a
	// repair (default DefaultCatchUpTimeout).
	CatchUpTimeout time.Duration
	// DumpPath and ClientPath are mariadb-dump and mariadb (default: found
	// in $PATH when NewRepairer runs; mysqldump and mysql as fallbacks).
	DumpPath, ClientPath string
	// Runner runs them (default: cmdrun.Exec).
	Runner cmdrun.Runner
	// TempDir holds the dump and the 0600 credential files while a reseed
	// runs (default: os.TempDir()).
	TempDir string
	// OnEvent, when set, receives an [Event] before and after each repair.
	OnEvent func(Event)
	// Logger receives each statement at Debug and each repair at Info
	// (default: discarded).
	Logger *slog.Logger
}

// Repairer runs explicit repairs on one replica. Calls must not overlap.
type Repairer struct {
	cfg RepairConfig
	log *slog.Logger
}

// NewRepairer validates cfg and returns a Repairer. It changes nothing.
func NewRepairer(cfg RepairConfig) (*Repairer, error) {
	if cfg.Source == nil || cfg.Replica == nil {
		return nil, errors.New("replicate: repair: source and replica are required")
	}
	if cfg.CatchUpTimeout <= 0 {
		cfg.CatchUpTimeout = DefaultCatchUpTimeout
	}
	if cfg.Runner == nil {
		cfg.Runner = cmdrun.Exec{}
	}
	if cfg.DumpPath == "" {
		cfg.DumpPath = lookPath("mariadb-dump", "mysqldump")
	}
	if cfg.ClientPath == "" {
		cfg.ClientPath = lookPath("mariadb", "mysql")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Repairer{cfg: cfg, log: log.With("replica", cfg.Replica.Name())}, nil
}

func lookPath(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// RepairReport says what a repair did and what came of it.
type RepairReport struct {
	Strategy Strategy
	// Replica and Source name the servers.
	Replica, Source string
	// Before and After are the replica's status around the repair.
	Before, After MySQLStatus
	// Statements are the SQL statements and commands that ran and
	// succeeded, in order, without secrets.
	Statements []string
	// Failed is the statement that failed, with the server's answer
	// ("" when none did); it did not take effect.
	Failed string
	// Conflict is the replica's row that StrategyReplaceRow found
	// holding the duplicate key; Removed is the same row once the DELETE
	// removed it (nil when it did not), so nothing disappears
	// unrecorded and nothing is reported removed that is still there.
	Conflict, Removed *Row
	// Restored says, after a repair that failed part-way, what was done
	// to leave the replica as it was found and the state it is in ("" when
	// nothing was needed).
	Restored string
	// Resumed is true when both threads run and the replica caught up
	// with its source after the repair.
	Resumed bool
	// Data is the data check after the repair; DataChecked is false when
	// it did not run, and DataNote then says why.
	Data        DataReport
	DataChecked bool
	DataNote    string
	// Converged is Resumed and a data check that found every table
	// equal.
	Converged bool
	// Note is the honest summary for a human.
	Note string
}

// String renders the report for a terminal or a mail.
func (r RepairReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "repair %s on %s (source %s)\n", r.Strategy, r.Replica, r.Source)
	fmt.Fprintf(&b, "  before: %s\n", statusLine(r.Before))
	for _, s := range r.Statements {
		fmt.Fprintf(&b, "  ran: %s\n", s)
	}
	if r.Failed != "" {
		fmt.Fprintf(&b, "  failed: %s\n", r.Failed)
	}
	switch {
	case r.Removed != nil:
		fmt.Fprintf(&b, "  removed from the replica, %s (unlogged):\n%s", r.Removed.Table, r.Removed.Format("    "))
	case r.Conflict != nil:
		fmt.Fprintf(&b, "  conflicting row on the replica, %s, left in place:\n%s", r.Conflict.Table, r.Conflict.Format("    "))
	}
	if r.Restored != "" {
		fmt.Fprintf(&b, "  restored: %s\n", r.Restored)
	}
	fmt.Fprintf(&b, "  after: %s\n", statusLine(r.After))
	if r.DataChecked {
		fmt.Fprintf(&b, "  data: %s\n", strings.ReplaceAll(r.Data.String(), "\n", "\n  "))
	} else {
		fmt.Fprintf(&b, "  data: %s\n", cmp.Or(r.DataNote, "not checked"))
	}
	fmt.Fprintf(&b, "  converged: %t\n", r.Converged)
	if r.Note != "" {
		fmt.Fprintf(&b, "  %s\n", r.Note)
	}
	return b.String()
}

func statusLine(s MySQLStatus) string {
	if s.Server == "" {
		return "unknown (status not read)"
	}
	line := fmt.Sprintf("io=%s sql=%t lag=%s using_gtid=%s gtid_slave_pos=%s exec=%s:%d", s.IORunning, s.SQLRunning, lagText(s.Lag),
		cmp.Or(s.UsingGTID, "-"), cmp.Or(s.Vars.GTIDSlavePos, "-"), s.ExecSourceLogFile, s.ExecSourceLogPos)
	if e := s.Err(); e != "" {
		line += " " + e
	}
	return line
}

func lagText(d time.Duration) string {
	if d < 0 {
		return "unknown"
	}
	return d.String()
}

// EventKind names a repair event.
type EventKind string

// Repair events.
const (
	EventRepairStarted EventKind = "repair_started"
	EventRepairDone    EventKind = "repair_done"
	EventRepairFailed  EventKind = "repair_failed"
)

// Event tells about a repair, for logs and notifications.
type Event struct {
	Time     time.Time
	Kind     EventKind
	Strategy Strategy
	// Server is the replica.
	Server string
	// Before and After are the replica's status around the repair (After
	// is zero in EventRepairStarted).
	Before, After Status
	Converged     bool
	Err           string
	Message       string
}

// FailoverEvent converts e for the failover package's notifiers; its
// Kind is "replication_" followed by e.Kind.
func (e Event) FailoverEvent() failover.Event {
	return failover.Event{Time: e.Time, Kind: failover.EventKind("replication_" + string(e.Kind)),
		Node: e.Server, Check: string(e.Strategy), Err: e.Err, Message: e.Message}
}

// Repair runs strategy on the replica, waits for it to catch up (or fail
// again) and for its threads to settle, runs the data check and reports.
// It returns an error wrapping [ErrCannotRepair] or
// [ErrIdempotentRefused] without changing anything when the strategy
// does not apply; any other error means the repair stopped part-way: the
// report says what ran and what failed, and the replica is left as it
// was found where that can be done (the threads that ran before are
// started again, a skip's position put back) or RepairReport.Restored
// says exactly what state it is in and how to get back.
func (r *Repairer) Repair(ctx context.Context, strategy Strategy) (RepairReport, error) {
	rep := RepairReport{Strategy: strategy, Replica: r.cfg.Replica.Name(), Source: r.cfg.Source.Name()}
	before, err := r.cfg.Replica.ReplicaStatus(ctx)
	if err != nil {
		return rep, err
	}
	rep.Before = before
	if err := r.applies(strategy, before); err != nil {
		return rep, err
	}
	if strategy == StrategySkip || strategy == StrategyReseed {
		// Both act on what the source holds: its binlog names the
		// transaction to skip, its dump replaces the replica's tables.
		if err := r.checkSource(ctx, strategy, before); err != nil {
			return rep, err
		}
	}
	r.emit(Event{Kind: EventRepairStarted, Strategy: strategy, Server: rep.Replica, Before: before.Neutral(),
		Message: fmt.Sprintf("repair %s starting on %s: %s", strategy, rep.Replica, statusLine(before))})
	r.log.Info("repair starting", "strategy", strategy, "status", statusLine(before))

	a := &attempt{RepairReport: &rep}
	err = r.run(ctx, strategy, a)
	if err == nil {
		err = r.settle(ctx, a)
	}
	if err != nil {
		rep.DataNote = "not checked: the repair stopped with an error"
		r.restore(ctx, a)
		msg := fmt.Sprintf("repair %s on %s failed: %v", strategy, rep.Replica, err)
		if rep.Restored != "" {
			msg += "; " + rep.Restored
		}
		r.emit(Event{Kind: EventRepairFailed, Strategy: strategy, Server: rep.Replica, Before: before.Neutral(), After: rep.After.Neutral(),
			Err: err.Error(), Message: msg})
		return rep, err
	}
	rep.Note = r.note(strategy, rep)
	if a.unsettled != "" {
		rep.Note += "; " + a.unsettled
	}
	r.emit(Event{Kind: EventRepairDone, Strategy: strategy, Server: rep.Replica, Before: before.Neutral(), After: rep.After.Neutral(),
		Converged: rep.Converged, Message: fmt.Sprintf("repair %s on %s: converged=%t: %s", strategy, rep.Replica, rep.Converged, rep.Note)})
	r.log.Info("repair done", "strategy", strategy, "converged", rep.Converged, "resumed", rep.Resumed)
	return rep, nil
}

func (r *Repairer) emit(e Event) {
	if r.cfg.OnEvent == nil {
		return
	}
	e.Time = time.Now()
	r.cfg.OnEvent(e)
}

// applies refuses, before anything changes, a strategy that cannot help.
func (r *Repairer) applies(strategy Strategy, st MySQLStatus) error {
	name := r.cfg.Replica.Name()
	switch strategy {
	case StrategyReport, StrategyRestart:
		return nil
	case StrategyIdempotent:
		return fmt.Errorf("replicate: %s: %w (binlog_format %s): with STATEMENT or MIXED binlogs it does not resolve a duplicate key; "+
			"with ROW it overwrites rows silently and swapped values between the nodes after a split brain; use replace-row or reseed",
			name, ErrIdempotentRefused, st.Vars.BinlogFormat)
	case StrategySkip:
		if st.SQLRunning || st.SQLError.Errno == 0 {
			return fmt.Errorf("replicate: %s: skip: %w: the SQL thread has no error to skip", name, ErrCannotRepair)
		}
		if !st.Vars.MariaDB && st.UsingGTID == "Auto_Position" {
			return fmt.Errorf("replicate: %s: skip: %w: skipping a MySQL GTID (empty transaction) is not implemented", name, ErrCannotRepair)
		}
		return nil
	case StrategyReplaceRow:
		if st.SQLRunning || st.SQLError.Class != ClassDuplicateKey {
			return fmt.Errorf("replicate: %s: replace-row: %w: it resolves a stopped SQL thread with error 1062 (now: %s)", name, ErrCannotRepair, st.Err())
		}
		return nil
	case StrategyReseed:
		if len(r.cfg.Schemas) == 0 {
			return fmt.Errorf("replicate: %s: reseed: %w: no schemas configured", name, ErrCannotRepair)
		}
		if !st.Vars.MariaDB {
			return fmt.Errorf("replicate: %s: reseed: %w: implemented for MariaDB (mariadb-dump --gtid)", name, ErrCannotRepair)
		}
		if r.cfg.DumpPath == "" || r.cfg.ClientPath == "" {
			return fmt.Errorf("replicate: %s: reseed: %w: mariadb-dump or mariadb client not found", name, ErrCannotRepair)
		}
		return nil
	}
	return fmt.Errorf("replicate: %s: %w: unknown strategy %q", name, ErrCannotRepair, strategy)
}

// checkSource refuses, before anything changes, a configured Source that
// is the replica itself or not the server the replica replicates from
// (by server_id, which survives host names and NAT).
func (r *Repairer) checkSource(ctx context.Context, strategy Strategy, st MySQLStatus) error {
	src, rpl := r.cfg.Source, r.cfg.Replica
	srcID, err := src.serverID(ctx)
	if err != nil {
		return err
	}
	rplID, err := rpl.serverID(ctx)
	if err != nil {
		return err
	}
	switch {
	case srcID == rplID:
		return fmt.Errorf("replicate: %s: %s: %w: source %s has the same server_id %d: the same server, or a broken setup",
			rpl.Name(), strategy, ErrCannotRepair, src.Name(), srcID)
	case st.SourceServerID != 0 && st.SourceServerID != srcID:
		return fmt.Errorf("replicate: %s: %s: %w: it replicates from server_id %d (%s:%d), but the configured source %s is server_id %d",
			rpl.Name(), strategy, ErrCannotRepair, st.SourceServerID, st.SourceHost, st.SourcePort, src.Name(), srcID)
	}
	return nil
}

// serverID reads @@server_id.
func (m *MySQL) serverID(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	var id int64
	if err := m.db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return 0, m.wrap("SELECT @@server_id", err)
	}
	return id, nil
}

func (r *Repairer) run(ctx context.Context, strategy Strategy, a *attempt) error {
	switch strategy {
	case StrategyReport:
		return nil
	case StrategyRestart:
		return r.restart(ctx, a)
	case StrategySkip:
		return r.skip(ctx, a)
	case StrategyReplaceRow:
		return r.replaceRow(ctx, a)
	case StrategyReseed:
		return r.reseed(ctx, a)
	}
	return fmt.Errorf("replicate: %w: %q", ErrCannotRepair, strategy)
}

// note writes the honest summary.
func (r *Repairer) note(strategy Strategy, rep RepairReport) string {
	var n string
	switch {
	case strategy == StrategyReport && !rep.Resumed:
		n = "no change made; replication is not running: " + rep.After.Err()
	case strategy == StrategyReport:
		n = "no change made; replication runs"
		if rep.DataChecked && !rep.Data.Equal() {
			n += " but the copies differ in " + strings.Join(rep.Data.Differing(), ", ")
		}
	case rep.Converged:
		n = "replication runs and the data check found the copies equal"
	case !rep.Resumed && rep.After.SQLError.Errno != 0 && rep.After.SQLError.Errno == rep.Before.SQLError.Errno:
		n = fmt.Sprintf("nothing fixed: the replica stopped again with error %d", rep.After.SQLError.Errno)
	case !rep.Resumed:
		n = "replication is not running after the repair: " + rep.After.Err()
	case !rep.DataChecked:
		n = "replication runs, but convergence was not verified: " + rep.DataNote
	default:
		n = "replication runs but the copies differ in " + strings.Join(rep.Data.Differing(), ", ")
	}
	switch strategy {
	case StrategyRestart:
		if rep.Before.UsingGTID != "" && rep.Before.UsingGTID != "No" {
			n += "; with GTID, RESET SLAVE keeps gtid_slave_pos, so START SLAVE fetches the same failing transaction again"
		} else if rep.Before.Vars.MariaDB && rep.After.UsingGTID != rep.Before.UsingGTID {
			n += fmt.Sprintf("; RESET SLAVE switched Using_Gtid from %s to %s: transactions may have been skipped silently, trust only the data check", rep.Before.UsingGTID, rep.After.UsingGTID)
		}
	case StrategySkip:
		n += "; the skipped transaction is not on the replica: fix the named rows (replace-row does not apply any more) or reseed"
	}
	return n
}

// stmt spells a replica statement for the server and the watched
// connection: "STOP SLAVE", "STOP SLAVE 'c'", "STOP REPLICA FOR CHANNEL 'c'".
func (r *Repairer) stmt(verb string, v ServerVars) string { return r.stmtThreads(verb, "", v) }

// stmtThreads is stmt for some threads only ("IO_THREAD", "SQL_THREAD";
// "" for both): "START SLAVE 'c' IO_THREAD", "START REPLICA IO_THREAD FOR
// CHANNEL 'c'".
func (r *Repairer) stmtThreads(verb, threads string, v ServerVars) string {
	s := verb + " " + replicaWord(v)
	conn := r.cfg.Replica.cfg.Connection
	if conn != "" && v.MariaDB {
		s += " " + quoteString(conn)
	}
	if threads != "" {
		s += " " + threads
	}
	if conn != "" && !v.MariaDB {
		s += " FOR CHANNEL " + quoteString(conn)
	}
	return s
}

// quoteString quotes a string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// exec runs statements on the replica in order, recording each that
// succeeded, and the one that failed in rep.Failed.
func (r *Repairer) exec(ctx context.Context, rep *RepairReport, stmts ...string) error {
	for _, s := range stmts {
		if err := r.execOn(ctx, r.cfg.Replica.db, rep, s, s); err != nil {
			return err
		}
	}
	return nil
}

// execOn runs one statement on q (the replica's pool or one of its
// connections), shown in the report as show.
func (r *Repairer) execOn(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, rep *RepairReport, show, stmt string, args ...any) error {
	r.log.Debug("exec", "sql", show)
	if _, err := q.ExecContext(ctx, stmt, args...); err != nil {
		err = r.cfg.Replica.wrap(show, err)
		rep.Failed = err.Error()
		return err
	}
	rep.Statements = append(rep.Statements, show)
	return nil
}

// restart is the article's repair.
func (r *Repairer) restart(ctx context.Context, a *attempt) error {
	v := a.Before.Vars
	// The article's FLUSH PRIVILEGES is written to the binlog and would
	// replicate to the other master; LOCAL keeps it on this server.
	if err := r.exec(ctx, a.RepairReport, r.stmt("STOP", v), "FLUSH LOCAL PRIVILEGES", r.stmt("RESET", v)); err != nil {
		return err
	}
	a.irreversible = append(a.irreversible, r.stmt("RESET", v)+" ran and cannot be undone: the relay logs were deleted and, in file/position mode, the position was reset (MariaDB 10.11 then follows gtid_slave_pos)")
	return r.exec(ctx, a.RepairReport, r.stmt("START", v))
}

// binlogPosition reads SHOW MASTER STATUS.
func (m *MySQL) binlogPosition(ctx context.Context) (string, int64, error) {
	rows, err := queryMaps(ctx, m.db, "SHOW MASTER STATUS")
	if err != nil {
		return "", 0, m.wrap("SHOW MASTER STATUS", err)
	}
	if len(rows) == 0 {
		return "", 0, fmt.Errorf("replicate: %s: binary log is off (SHOW MASTER STATUS is empty)", m.Name())
	}
	file := rows[0]["File"].String
	var pos int64
	if _, err := fmt.Sscan(rows[0]["Position"].String, &pos); err != nil {
		return "", 0, fmt.Errorf("replicate: %s: show master status: position %q: %w", m.Name(), rows[0]["Position"].String, err)
	}
	return file, pos, nil
}
