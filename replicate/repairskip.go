package replicate

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// gtidRe matches a MariaDB GTID domain-server-sequence.
var gtidRe = regexp.MustCompile(`\b(\d+)-(\d+)-(\d+)\b`)

// binlogNameRe is what a binlog file name may look like before it is
// pasted into SHOW BINLOG EVENTS (which takes no placeholders).
var binlogNameRe = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// skip skips the failing transaction: by GTID on a MariaDB replica in
// GTID mode (the failing GTID is the source's binlog event at the
// replica's executed position), else one event group with
// sql_slave_skip_counter.
func (r *Repairer) skip(ctx context.Context, a *attempt) error {
	st := a.Before
	v := st.Vars
	if !v.MariaDB || st.UsingGTID == "" || st.UsingGTID == "No" {
		if err := r.exec(ctx, a.RepairReport, r.stmt("STOP", v), "SET GLOBAL sql_slave_skip_counter = 1"); err != nil {
			return err
		}
		a.undo = append(a.undo, "SET GLOBAL sql_slave_skip_counter = 0")
		return r.exec(ctx, a.RepairReport, r.stmt("START", v))
	}
	gtid, err := r.failingGTID(ctx, st)
	if err != nil {
		return err
	}
	if err := r.exec(ctx, a.RepairReport, r.stmt("STOP", v)); err != nil {
		return err
	}
	// Read the position after STOP: it is what START would resume from.
	var cur string
	if err := r.cfg.Replica.db.QueryRowContext(ctx, "SELECT @@gtid_slave_pos").Scan(&cur); err != nil {
		return r.cfg.Replica.wrap("SELECT @@gtid_slave_pos", err)
	}
	if err := r.exec(ctx, a.RepairReport, "SET GLOBAL gtid_slave_pos = "+quoteString(replaceDomain(cur, gtid))); err != nil {
		return err
	}
	a.undo = append(a.undo, "SET GLOBAL gtid_slave_pos = "+quoteString(cur))
	return r.exec(ctx, a.RepairReport, r.stmt("START", v))
}

// failingGTID reads, on the source, the GTID event at the replica's
// executed position: the transaction the SQL thread failed to apply.
func (r *Repairer) failingGTID(ctx context.Context, st MySQLStatus) (string, error) {
	src := r.cfg.Source
	if !binlogNameRe.MatchString(st.ExecSourceLogFile) {
		return "", fmt.Errorf("replicate: %s: skip: %w: unexpected binlog file name %q", r.cfg.Replica.Name(), ErrCannotRepair, st.ExecSourceLogFile)
	}
	q := fmt.Sprintf("SHOW BINLOG EVENTS IN %s FROM %d LIMIT 1", quoteString(st.ExecSourceLogFile), st.ExecSourceLogPos)
	rows, err := queryMaps(ctx, src.db, q)
	if err != nil {
		return "", src.wrap(q, err)
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("replicate: %s: skip: %w: no event at %s:%d on %s", r.cfg.Replica.Name(), ErrCannotRepair, st.ExecSourceLogFile, st.ExecSourceLogPos, src.Name())
	}
	typ, info := rows[0]["Event_type"].String, rows[0]["Info"].String
	m := gtidRe.FindString(info)
	if !strings.EqualFold(typ, "Gtid") || m == "" {
		return "", fmt.Errorf("replicate: %s: skip: %w: the event at %s:%d on %s is %s %q, not a GTID", r.cfg.Replica.Name(), ErrCannotRepair, st.ExecSourceLogFile, st.ExecSourceLogPos, src.Name(), typ, info)
	}
	return m, nil
}

// replaceDomain sets gtid's domain in the position list pos (adding it
// when absent): "1-1-3,2-2-9" with "1-1-4" gives "1-1-4,2-2-9".
func replaceDomain(pos, gtid string) string {
	domain, _, _ := strings.Cut(gtid, "-")
	var out []string
	found := false
	for _, g := range strings.Split(pos, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if d, _, _ := strings.Cut(g, "-"); d == domain {
			g, found = gtid, true
		}
		out = append(out, g)
	}
	if !found {
		out = append(out, gtid)
	}
	return strings.Join(out, ",")
}
