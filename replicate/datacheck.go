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
	// Key names the primary key's columns, in index order (empty for a
	// table without a primary key).
	Key []string
	// Chunks are the primary-key ranges whose checksums differ.
	Chunks []ChunkDiff
	// Rows are the differing rows (at most MaxRows), by primary key.
	Rows []RowDiff
	// Note says why differences could not be located further (no
	// primary key, table missing on one side), or is empty.
	Note string
}

// ChunkDiff is a primary-key range (Low, High] whose checksums differ;
// an empty bound is open. A bound of a composite key is written as the
// key of a [RowDiff] is.
type ChunkDiff struct {
	Low, High               string
	SourceRows, ReplicaRows int64
}

// RowDiff is one row that differs: present on one side only, or present
// on both with different contents.
type RowDiff struct {
	// Key is the primary key value as printed: the value of a
	// single-column key ("10"), the values of a composite key in
	// parentheses ("(56, 724)"); KeyValues are the values one by one, in
	// the order of [TableResult].Key.
	Key       string
	KeyValues []string
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
		fmt.Fprintf(&b, "\n  %s", t.Table)
		if len(t.Key) > 0 && len(t.Rows) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(t.Key, ", "))
		}
		b.WriteString(":")
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
// TABLE first; for a table that differs and has a primary key (of one
// column or several), checksums of key ranges (BIT_XOR of CRC32 of each
// row, as pt-table-checksum does) locate the differing chunks, and the
// rows of those chunks are compared to name the differing keys.
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
				return nil, nil, m.wrap("list tables of "+schema+" (information_schema.TABLES)", err)
			}
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return nil, nil, m.wrap("list tables of "+schema+" (information_schema.TABLES)", err)
				}
				names = append(names, n)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, nil, m.wrap("list tables of "+schema+" (information_schema.TABLES)", err)
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
	res.Key = shape.keyNames
	if len(shape.key) == 0 {
		res.Note = "no primary key: differing rows not located"
		return res, nil
	}
	bounds, err := chunkBounds(ctx, source, t, shape, cfg.ChunkRows)
	if err != nil {
		return res, err
	}
	// Chunks are (nil, b0], (b0, b1], ..., (bn, nil).
	for i := 0; i <= len(bounds); i++ {
		var lo, hi []string
		if i > 0 {
			lo = bounds[i-1]
		}
		if i < len(bounds) {
			hi = bounds[i]
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
		res.Chunks = append(res.Chunks, ChunkDiff{Low: keyString(lo), High: keyString(hi), SourceRows: sn, ReplicaRows: rn})
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

// keyString prints a key: its value, or its values in parentheses for a
// composite key; "" for an open bound (nil).
func keyString(vals []string) string {
	switch len(vals) {
	case 0:
		return ""
	case 1:
		return vals[0]
	}
	return "(" + strings.Join(vals, ", ") + ")"
}

// keyID is an unambiguous map key for a key's values.
func keyID(vals []string) string {
	var b strings.Builder
	for _, v := range vals {
		fmt.Fprintf(&b, "%d:%s;", len(v), v)
	}
	return b.String()
}

func checksumTable(ctx context.Context, m *MySQL, t tableName) (sql.NullInt64, error) {
	var name string
	var sum sql.NullInt64
	q := "CHECKSUM TABLE " + t.quoted()
	if err := m.db.QueryRowContext(ctx, q).Scan(&name, &sum); err != nil {
		return sum, m.wrap(q, err)
	}
	return sum, nil
}

// shape is what the chunk queries need: the primary key's columns and
// the row expression.
type shape struct {
	key      []string // quoted, in index order; empty without a primary key
	keyNames []string // the same, unquoted
	rowHash  string   // CRC32 of every column and a NULL map
}

func (s shape) keyList() string { return strings.Join(s.key, ", ") }

func tableShape(ctx context.Context, m *MySQL, t tableName) (shape, error) {
	const colsQ = `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`
	cols, err := queryStrings(ctx, m, colsQ, t.schema, t.table)
	if err != nil {
		return shape{}, m.wrap("columns of "+t.String()+" (information_schema.COLUMNS)", err)
	}
	if len(cols) == 0 {
		return shape{}, fmt.Errorf("%s has no columns on %s", t, m.Name())
	}
	const keyQ = `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`
	keys, err := queryStrings(ctx, m, keyQ, t.schema, t.table)
	if err != nil {
		return shape{}, m.wrap("primary key of "+t.String()+" (information_schema.STATISTICS)", err)
	}
	var quoted, isnull []string
	for _, c := range cols {
		quoted = append(quoted, quoteIdent(c))
		isnull = append(isnull, "ISNULL("+quoteIdent(c)+")")
	}
	s := shape{keyNames: keys,
		rowHash: fmt.Sprintf("CRC32(CONCAT_WS('#', %s, CONCAT(%s)))", strings.Join(quoted, ", "), strings.Join(isnull, ", "))}
	for _, k := range keys {
		s.key = append(s.key, quoteIdent(k))
	}
	return s, nil
}

// queryStrings returns the first column of every row.
func queryStrings(ctx context.Context, m *MySQL, q string, args ...any) ([]string, error) {
	rows, err := m.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanKey reads the key columns (the first n) of the current row.
func scanKey(rows *sql.Rows, n int, rest ...any) ([]string, error) {
	vals := make([]sql.NullString, n)
	ptrs := make([]any, 0, n+len(rest))
	for i := range vals {
		ptrs = append(ptrs, &vals[i])
	}
	if err := rows.Scan(append(ptrs, rest...)...); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, v := range vals {
		out[i] = v.String // primary key columns are NOT NULL
	}
	return out, nil
}

// chunkBounds walks the primary key on the source and returns the upper
// bound (the last key) of each full chunk.
func chunkBounds(ctx context.Context, m *MySQL, t tableName, s shape, size int) ([][]string, error) {
	var bounds [][]string
	var last []string
	for {
		where, args := rangeWhere(s.key, last, nil)
		q := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s LIMIT 1 OFFSET %d", s.keyList(), t.quoted(), where, s.keyList(), size-1)
		rows, err := m.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, m.wrap(q, err)
		}
		var k []string
		if rows.Next() {
			k, err = scanKey(rows, len(s.key))
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		if err != nil {
			return nil, m.wrap(q, err)
		}
		if k == nil {
			return bounds, nil
		}
		bounds = append(bounds, k)
		last = k
	}
}

// rangeWhere selects the keys in (lo, hi] (nil bounds are open), a
// composite key compared column by column as a row constructor would
// be, written out so that the index serves it:
// (a, b) > (x, y) is a > x OR (a = x AND b > y).
func rangeWhere(key []string, lo, hi []string) (string, []any) {
	var conds []string
	var args []any
	tuple := func(vals []string, last string) {
		var ors []string
		for i := range key {
			var ands []string
			for j := 0; j < i; j++ {
				ands = append(ands, key[j]+" = ?")
				args = append(args, vals[j])
			}
			op := last[:1] // ">" or "<"
			if i == len(key)-1 {
				op = last
			}
			ands = append(ands, key[i]+" "+op+" ?")
			args = append(args, vals[i])
			ors = append(ors, strings.Join(ands, " AND "))
		}
		if len(ors) == 1 {
			conds = append(conds, ors[0])
			return
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if lo != nil {
		tuple(lo, ">")
	}
	if hi != nil {
		tuple(hi, "<=")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func chunkSum(ctx context.Context, m *MySQL, t tableName, s shape, lo, hi []string) (int64, int64, error) {
	where, args := rangeWhere(s.key, lo, hi)
	var sum, n int64
	q := fmt.Sprintf("SELECT COALESCE(BIT_XOR(%s), 0), COUNT(*) FROM %s%s", s.rowHash, t.quoted(), where)
	if err := m.db.QueryRowContext(ctx, q, args...).Scan(&sum, &n); err != nil {
		return 0, 0, m.wrap("chunk checksum of "+t.String(), err)
	}
	return sum, n, nil
}

type rowHash struct {
	key  []string
	hash int64
}

func rowHashes(ctx context.Context, m *MySQL, t tableName, s shape, lo, hi []string) (map[string]int64, []rowHash, error) {
	where, args := rangeWhere(s.key, lo, hi)
	q := fmt.Sprintf("SELECT %s, %s FROM %s%s ORDER BY %s", s.keyList(), s.rowHash, t.quoted(), where, s.keyList())
	rows, err := m.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, m.wrap("row checksums of "+t.String(), err)
	}
	defer rows.Close()
	byKey := map[string]int64{}
	var order []rowHash
	for rows.Next() {
		var h int64
		k, err := scanKey(rows, len(s.key), &h)
		if err != nil {
			return nil, nil, m.wrap("row checksums of "+t.String(), err)
		}
		byKey[keyID(k)] = h
		order = append(order, rowHash{k, h})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, m.wrap("row checksums of "+t.String(), err)
	}
	return byKey, order, nil
}

func diffRows(ctx context.Context, source, replica *MySQL, t tableName, s shape, lo, hi []string) ([]RowDiff, error) {
	src, srcOrder, err := rowHashes(ctx, source, t, s, lo, hi)
	if err != nil {
		return nil, err
	}
	rep, repOrder, err := rowHashes(ctx, replica, t, s, lo, hi)
	if err != nil {
		return nil, err
	}
	var out []RowDiff
	for _, r := range srcOrder {
		rh, ok := rep[keyID(r.key)]
		if !ok || rh != r.hash {
			out = append(out, RowDiff{Key: keyString(r.key), KeyValues: r.key, OnSource: true, OnReplica: ok})
		}
	}
	for _, r := range repOrder {
		if _, ok := src[keyID(r.key)]; !ok {
			out = append(out, RowDiff{Key: keyString(r.key), KeyValues: r.key, OnReplica: true})
		}
	}
	return out, nil
}
