package replicate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Defaults of [DataCheckConfig].
const (
	DefaultChunkRows = 1000
	DefaultMaxRows   = 20
)

// DataCheckConfig says what [CompareTables] compares.
type DataCheckConfig struct {
	// Tables are "schema.table", or "schema" for every base table of the
	// schema on either server (required).
	Tables []string
	// ChunkRows is the number of rows per primary-key chunk used to
	// locate a difference (default DefaultChunkRows).
	ChunkRows int
	// MaxRows bounds the differing rows named per table (default
	// DefaultMaxRows).
	MaxRows int
}

// TableResult is the comparison of one table.
type TableResult struct {
	// Table is "schema.table".
	Table string
	// Equal is true when both servers hold the same rows.
	Equal bool
	// SourceChecksum and ReplicaChecksum are CHECKSUM TABLE's answers;
	// invalid when the table does not exist on that server.
	SourceChecksum, ReplicaChecksum sql.NullInt64
	// Chunks are the primary-key ranges whose checksums differ.
	Chunks []ChunkDiff
	// Rows are the differing rows (at most MaxRows), by primary key.
	Rows []RowDiff
	// Note says why differences could not be located further (no
	// single-column primary key, table missing on one side), or is empty.
	Note string
}

// ChunkDiff is a primary-key range (Low, High] whose checksums differ;
// an empty bound is open.
type ChunkDiff struct {
	Low, High               string
	SourceRows, ReplicaRows int64
}

// RowDiff is one row that differs: present on one side only, or present
// on both with different contents.
type RowDiff struct {
	// Key is the primary key value.
	Key string
	// OnSource and OnReplica say where the row exists.
	OnSource, OnReplica bool
}

func (r RowDiff) String() string {
	switch {
	case r.OnSource && r.OnReplica:
		return r.Key + " (differs)"
	case r.OnSource:
		return r.Key + " (missing on replica)"
	default:
		return r.Key + " (only on replica)"
	}
}

// DataReport is the result of [CompareTables].
type DataReport struct {
	// Source and Replica name the servers compared.
	Source, Replica string
	Tables          []TableResult
}

// Equal reports whether every compared table is equal.
func (r DataReport) Equal() bool {
	for _, t := range r.Tables {
		if !t.Equal {
			return false
		}
	}
	return true
}

// Differing lists the tables that differ.
func (r DataReport) Differing() []string {
	var out []string
	for _, t := range r.Tables {
		if !t.Equal {
			out = append(out, t.Table)
		}
	}
	return out
}

// String summarises the report in one line per differing table.
func (r DataReport) String() string {
	if r.Equal() {
		return fmt.Sprintf("%d table(s) equal on %s and %s", len(r.Tables), r.Source, r.Replica)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "differences between %s and %s:", r.Source, r.Replica)
	for _, t := range r.Tables {
		if t.Equal {
			continue
		}
		fmt.Fprintf(&b, "\n  %s:", t.Table)
		for _, row := range t.Rows {
			fmt.Fprintf(&b, " %s;", row)
		}
		if t.Note != "" {
			fmt.Fprintf(&b, " %s", t.Note)
		}
	}
	return b.String()
}

// ErrNoTables is returned by CompareTables without tables to compare.
var ErrNoTables = errors.New("replicate: data check: no tables given")

// CompareTables compares tables between source and replica: CHECKSUM
// TABLE first; for a table that differs and has a single-column primary
// key, checksums of key ranges (BIT_XOR of CRC32 of each row, as
// pt-table-checksum does) locate the differing chunks, and the rows of
// those chunks are compared to name the differing keys.
//
// It reads only. The answer is exact when no write is in flight; while
// the source takes writes, a difference may be transient and the check
// should be repeated once the replica has caught up.
func CompareTables(ctx context.Context, source, replica *MySQL, cfg DataCheckConfig) (DataReport, error) {
	if len(cfg.Tables) == 0 {
		return DataReport{}, ErrNoTables
	}
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = DefaultChunkRows
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	rep := DataReport{Source: source.Name(), Replica: replica.Name()}
	tables, empty, err := expandTables(ctx, cfg.Tables, source, replica)
	if err != nil {
		return rep, err
	}
	// A schema with no table on either server compared nothing: it must
	// not count as equal (a misspelt schema would otherwise pass).
	for _, schema := range empty {
		rep.Tables = append(rep.Tables, TableResult{Table: schema, Note: "schema missing or without tables on both servers: nothing compared"})
	}
	for _, tbl := range tables {
		res, err := compareTable(ctx, source, replica, tbl, cfg)
		if err != nil {
			return rep, fmt.Errorf("replicate: data check %s: %w", tbl, err)
		}
		rep.Tables = append(rep.Tables, res)
	}
	return rep, nil
}

type tableName struct{ schema, table string }

func (t tableName) String() string { return t.schema + "." + t.table }

func (t tableName) quoted() string { return quoteIdent(t.schema) + "." + quoteIdent(t.table) }

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// expandTables returns the tables named by specs, and the schemas that
// hold no base table on any of the servers.
func expandTables(ctx context.Context, specs []string, servers ...*MySQL) ([]tableName, []string, error) {
	var out []tableName
	var empty []string
	seen := map[tableName]bool{}
	add := func(t tableName) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, spec := range specs {
		schema, table, ok := strings.Cut(spec, ".")
		if schema == "" || ok && table == "" {
			return nil, nil, fmt.Errorf("replicate: data check: table %q is not schema.table or schema", spec)
		}
		if ok {
			add(tableName{schema, table})
			continue
		}
		var names []string
		for _, m := range servers {
			rows, err := m.db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", schema)
			if err != nil {
				return nil, nil, m.wrap("list tables of "+schema, err)
			}
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return nil, nil, m.wrap("list tables of "+schema, err)
				}
				names = append(names, n)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, nil, m.wrap("list tables of "+schema, err)
			}
		}
		if len(names) == 0 && !slices.Contains(empty, schema) {
			empty = append(empty, schema)
		}
		slices.Sort(names)
		for _, n := range slices.Compact(names) {
			add(tableName{schema, n})
		}
	}
	return out, empty, nil
}

func compareTable(ctx context.Context, source, replica *MySQL, t tableName, cfg DataCheckConfig) (TableResult, error) {
	res := TableResult{Table: t.String()}
	var err error
	if res.SourceChecksum, err = checksumTable(ctx, source, t); err != nil {
		return res, err
	}
	if res.ReplicaChecksum, err = checksumTable(ctx, replica, t); err != nil {
		return res, err
	}
	switch {
	case !res.SourceChecksum.Valid && !res.ReplicaChecksum.Valid:
		res.Note = "table missing on both servers"
		return res, nil
	case !res.SourceChecksum.Valid:
		res.Note = "table missing on the source"
		return res, nil
	case !res.ReplicaChecksum.Valid:
		res.Note = "table missing on the replica"
		return res, nil
	case res.SourceChecksum.Int64 == res.ReplicaChecksum.Int64:
		res.Equal = true
		return res, nil
	}
	shape, err := tableShape(ctx, source, t)
	if err != nil {
		return res, err
	}
	if shape.pk == "" {
		res.Note = "no single-column primary key: differing rows not located"
		return res, nil
	}
	bounds, err := chunkBounds(ctx, source, t, shape.pk, cfg.ChunkRows)
	if err != nil {
		return res, err
	}
	// Chunks are (nil, b0], (b0, b1], ..., (bn, nil).
	for i := 0; i <= len(bounds); i++ {
		var lo, hi *string
		if i > 0 {
			lo = &bounds[i-1]
		}
		if i < len(bounds) {
			hi = &bounds[i]
		}
		sc, sn, err := chunkSum(ctx, source, t, shape, lo, hi)
		if err != nil {
			return res, err
		}
		rc, rn, err := chunkSum(ctx, replica, t, shape, lo, hi)
		if err != nil {
			return res, err
		}
		if sc == rc && sn == rn {
			continue
		}
		res.Chunks = append(res.Chunks, ChunkDiff{Low: deref(lo), High: deref(hi), SourceRows: sn, ReplicaRows: rn})
		if len(res.Rows) < cfg.MaxRows {
			rows, err := diffRows(ctx, source, replica, t, shape, lo, hi)
			if err != nil {
				return res, err
			}
			res.Rows = append(res.Rows, rows...)
			if len(res.Rows) > cfg.MaxRows {
				res.Rows = res.Rows[:cfg.MaxRows]
			}
		}
	}
	if len(res.Chunks) == 0 {
		// CHECKSUM TABLE saw a difference the row hashes do not
		// (different row formats or column types): report it as is.
		res.Note = "CHECKSUM TABLE differs but every primary-key chunk matches (different table definitions?)"
	}
	return res, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func checksumTable(ctx context.Context, m *MySQL, t tableName) (sql.NullInt64, error) {
	var name string
	var sum sql.NullInt64
	if err := m.db.QueryRowContext(ctx, "CHECKSUM TABLE "+t.quoted()).Scan(&name, &sum); err != nil {
		return sum, m.wrap("checksum table "+t.String(), err)
	}
	return sum, nil
}

// shape is what the chunk queries need: the primary key column and the
// row expression.
type shape struct {
	pk      string // quoted, "" without a single-column primary key
	rowHash string // CRC32 of every column and a NULL map
}

func tableShape(ctx context.Context, m *MySQL, t tableName) (shape, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_KEY FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, t.schema, t.table)
	if err != nil {
		return shape{}, m.wrap("columns of "+t.String(), err)
	}
	defer rows.Close()
	var cols, pks []string
	for rows.Next() {
		var name, key string
		if err := rows.Scan(&name, &key); err != nil {
			return shape{}, m.wrap("columns of "+t.String(), err)
		}
		cols = append(cols, quoteIdent(name))
		if key == "PRI" {
			pks = append(pks, quoteIdent(name))
		}
	}
	if err := rows.Err(); err != nil {
		return shape{}, m.wrap("columns of "+t.String(), err)
	}
	if len(cols) == 0 {
		return shape{}, fmt.Errorf("%s has no columns on %s", t, m.Name())
	}
	var isnull []string
	for _, c := range cols {
		isnull = append(isnull, "ISNULL("+c+")")
	}
	s := shape{rowHash: fmt.Sprintf("CRC32(CONCAT_WS('#', %s, CONCAT(%s)))", strings.Join(cols, ", "), strings.Join(isnull, ", "))}
	if len(pks) == 1 {
		s.pk = pks[0]
	}
	return s, nil
}

// chunkBounds walks the primary key on the source and returns the upper
// bound of each full chunk.
func chunkBounds(ctx context.Context, m *MySQL, t tableName, pk string, size int) ([]string, error) {
	var bounds []string
	var last *string
	for {
		q := fmt.Sprintf("SELECT MAX(k) FROM (SELECT %s AS k FROM %s ORDER BY %s LIMIT %d) c", pk, t.quoted(), pk, size)
		args := []any{}
		if last != nil {
			q = fmt.Sprintf("SELECT MAX(k), COUNT(*) FROM (SELECT %s AS k FROM %s WHERE %s > ? ORDER BY %s LIMIT %d) c", pk, t.quoted(), pk, pk, size)
			args = append(args, *last)
		} else {
			q = strings.Replace(q, "SELECT MAX(k)", "SELECT MAX(k), COUNT(*)", 1)
		}
		var k sql.NullString
		var n int
		if err := m.db.QueryRowContext(ctx, q, args...).Scan(&k, &n); err != nil {
			return nil, m.wrap("chunk "+t.String(), err)
		}
		if !k.Valid || n < size {
			return bounds, nil
		}
		bounds = append(bounds, k.String)
		last = &bounds[len(bounds)-1]
	}
}

func rangeWhere(pk string, lo, hi *string) (string, []any) {
	var conds []string
	var args []any
	if lo != nil {
		conds = append(conds, pk+" > ?")
		args = append(args, *lo)
	}
	if hi != nil {
		conds = append(conds, pk+" <= ?")
		args = append(args, *hi)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func chunkSum(ctx context.Context, m *MySQL, t tableName, s shape, lo, hi *string) (int64, int64, error) {
	where, args := rangeWhere(s.pk, lo, hi)
	var sum, n int64
	q := fmt.Sprintf("SELECT COALESCE(BIT_XOR(%s), 0), COUNT(*) FROM %s%s", s.rowHash, t.quoted(), where)
	if err := m.db.QueryRowContext(ctx, q, args...).Scan(&sum, &n); err != nil {
		return 0, 0, m.wrap("chunk checksum "+t.String(), err)
	}
	return sum, n, nil
}

func rowHashes(ctx context.Context, m *MySQL, t tableName, s shape, lo, hi *string) (map[string]int64, []string, error) {
	where, args := rangeWhere(s.pk, lo, hi)
	q := fmt.Sprintf("SELECT %s, %s FROM %s%s ORDER BY %s", s.pk, s.rowHash, t.quoted(), where, s.pk)
	rows, err := m.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, m.wrap("row checksums "+t.String(), err)
	}
	defer rows.Close()
	out := map[string]int64{}
	var order []string
	for rows.Next() {
		var k string
		var h int64
		if err := rows.Scan(&k, &h); err != nil {
			return nil, nil, m.wrap("row checksums "+t.String(), err)
		}
		out[k] = h
		order = append(order, k)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, m.wrap("row checksums "+t.String(), err)
	}
	return out, order, nil
}

func diffRows(ctx context.Context, source, replica *MySQL, t tableName, s shape, lo, hi *string) ([]RowDiff, error) {
	src, srcOrder, err := rowHashes(ctx, source, t, s, lo, hi)
	if err != nil {
		return nil, err
	}
	rep, repOrder, err := rowHashes(ctx, replica, t, s, lo, hi)
	if err != nil {
		return nil, err
	}
	var out []RowDiff
	for _, k := range srcOrder {
		rh, ok := rep[k]
		if !ok || rh != src[k] {
			out = append(out, RowDiff{Key: k, OnSource: true, OnReplica: ok})
		}
	}
	for _, k := range repOrder {
		if _, ok := src[k]; !ok {
			out = append(out, RowDiff{Key: k, OnReplica: true})
		}
	}
	return out, nil
}
