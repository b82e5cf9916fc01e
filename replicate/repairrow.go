package replicate

import (
	"context"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"
)

// Duplicate-key messages: the key value and name ("for key 'PRIMARY'";
// MySQL 8 writes 't.PRIMARY'), the table of a row event ("on table
// lab.t;"), and the default database and INSERT of a statement event.
var (
	dupEntryRe  = regexp.MustCompile(`Duplicate entry '(.*)' for key '([^']+)'`)
	rowTableRe  = regexp.MustCompile(`on table ([^\s;.]+)\.([^\s;]+);`)
	defaultDBRe = regexp.MustCompile(`Default database: '([^']*)'`)
	insertRe    = regexp.MustCompile("(?is)Query: '\\s*(?:INSERT|REPLACE)\\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\\s+)*(?:INTO\\s+)?(`[^`]+`|\\w+)(?:\\.(`[^`]+`|\\w+))?")
)

// DuplicateKey is what a 1062 message says about the conflict.
type DuplicateKey struct {
	Schema, Table string
	// Key is the index name ("PRIMARY").
	Key string
	// Value is the duplicate value as printed: key parts joined with '-'.
	Value string
}

// ParseDuplicateKey reads the table, key and value from a 1062
// replication error, row-based ("Could not execute Write_rows_v1 event on
// table lab.t; Duplicate entry '10' for key 'PRIMARY'…") or
// statement-based ("Error 'Duplicate entry '56-724' for key 'PRIMARY” on
// query. Default database: 'frenchy'. Query: 'INSERT INTO …'"). ok is
// false when the message does not say all of it.
func ParseDuplicateKey(msg string) (DuplicateKey, bool) {
	// The message quotes row values and, for a statement event, the
	// whole query, unescaped: a value that itself spells "' for key '"
	// makes the key and value ambiguous, so it is refused.
	if strings.Count(msg, "' for key '") != 1 {
		return DuplicateKey{}, false
	}
	loc := dupEntryRe.FindStringSubmatchIndex(msg)
	if loc == nil {
		return DuplicateKey{}, false
	}
	dk := DuplicateKey{Value: msg[loc[2]:loc[3]], Key: msg[loc[4]:loc[5]]}
	if i := strings.LastIndexByte(dk.Key, '.'); i >= 0 {
		dk.Key = dk.Key[i+1:]
	}
	// A row event names its table before the duplicate entry; after it
	// comes a statement event's query, whose values must not be read as
	// a table name.
	if t := rowTableRe.FindStringSubmatch(msg[:loc[0]]); t != nil {
		dk.Schema, dk.Table = t[1], t[2]
		return dk, true
	}
	q := insertRe.FindStringSubmatch(msg)
	if q == nil {
		return DuplicateKey{}, false
	}
	unquote := func(s string) string { return strings.Trim(s, "`") }
	if q[2] != "" {
		dk.Schema, dk.Table = unquote(q[1]), unquote(q[2])
	} else if d := defaultDBRe.FindStringSubmatch(msg); d != nil && d[1] != "" {
		dk.Schema, dk.Table = d[1], unquote(q[1])
	} else {
		return DuplicateKey{}, false
	}
	return dk, true
}

// replaceRow deletes, unlogged, the replica's row that holds the
// duplicate key, and starts the SQL thread, which applies the source's
// row.
func (r *Repairer) replaceRow(ctx context.Context, a *attempt) error {
	rep := a.RepairReport
	rm := r.cfg.Replica
	dk, ok := ParseDuplicateKey(rep.Before.SQLError.Message)
	if !ok {
		return fmt.Errorf("replicate: %s: replace-row: %w: cannot read table and key from %q", rm.Name(), ErrCannotRepair, rep.Before.SQLError.Message)
	}
	t := tableName{dk.Schema, dk.Table}
	const keyQ = `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX`
	cols, err := queryStrings(ctx, rm, keyQ, dk.Schema, dk.Table, dk.Key)
	if err != nil {
		return rm.wrap("key columns of "+t.String()+" (information_schema.STATISTICS)", err)
	}
	if len(cols) == 0 {
		return fmt.Errorf("replicate: %s: replace-row: %w: no key %q on %s", rm.Name(), ErrCannotRepair, dk.Key, t)
	}
	vals := []string{dk.Value}
	if len(cols) > 1 {
		vals = strings.Split(dk.Value, "-")
		if len(vals) != len(cols) {
			return fmt.Errorf("replicate: %s: replace-row: %w: value %q of key %s (%d columns) is ambiguous", rm.Name(), ErrCannotRepair, dk.Value, dk.Key, len(cols))
		}
	}
	var conds []string
	args := make([]any, len(vals))
	for i, c := range cols {
		conds = append(conds, quoteIdent(c)+" = ?")
		args[i] = vals[i]
	}
	where := strings.Join(conds, " AND ")

	// One connection: sql_log_bin is a session variable. The connection
	// is discarded afterwards, never returned to the pool with
	// sql_log_bin=0 (a failure may leave it so).
	conn, err := rm.db.Conn(ctx)
	if err != nil {
		return rm.wrap("connect", err)
	}
	defer func() {
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	sel := "SELECT * FROM " + t.quoted() + " WHERE " + where
	names, found, err := queryRows(ctx, conn, sel, args...)
	if err != nil {
		return rm.wrap(sel, err)
	}
	if len(found) != 1 {
		return fmt.Errorf("replicate: %s: replace-row: %w: %d rows of %s have %s = %q (value truncated in the message?)", rm.Name(), ErrCannotRepair, len(found), t, dk.Key, dk.Value)
	}
	rep.Conflict = &Row{Table: t.String(), Columns: names, Values: found[0]}
	del := fmt.Sprintf("DELETE FROM %s WHERE %s LIMIT 1", t.quoted(), where)
	if err := r.execOn(ctx, conn, rep, "SET SESSION sql_log_bin = 0", "SET SESSION sql_log_bin = 0"); err != nil {
		return err
	}
	show := fmt.Sprintf("%s -- %s = %q", del, dk.Key, dk.Value)
	r.log.Debug("exec", "sql", show)
	res, err := conn.ExecContext(ctx, del, args...)
	if err != nil {
		err = rm.wrap(show, err)
		rep.Failed = err.Error()
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		rep.Failed = fmt.Sprintf("%s: deleted %d rows", show, n)
		return fmt.Errorf("replicate: %s: replace-row: %s deleted %d rows, want 1", rm.Name(), show, n)
	}
	rep.Statements = append(rep.Statements, show)
	rep.Removed = rep.Conflict
	if err := r.execOn(ctx, conn, rep, "SET SESSION sql_log_bin = 1", "SET SESSION sql_log_bin = 1"); err != nil {
		return err
	}
	return r.exec(ctx, rep, r.stmt("START", rep.Before.Vars))
}
