package replicate

import (
	"database/sql"
	"strings"
	"text/tabwriter"
)

// Row is one row of a table, its columns in the table's order.
type Row struct {
	// Table is "schema.table".
	Table string
	// Columns and Values are parallel; an invalid value is SQL NULL.
	Columns []string
	Values  []sql.NullString
}

// Value returns the value of column col as text ("NULL" for SQL NULL)
// and whether the row has that column.
func (r Row) Value(col string) (string, bool) {
	for i, c := range r.Columns {
		if c == col {
			return nullText(r.Values[i]), true
		}
	}
	return "", false
}

func nullText(v sql.NullString) string {
	if !v.Valid {
		return "NULL"
	}
	return v.String
}

// Format renders the row as two aligned lines, column names over
// values, each line starting with indent:
//
//	id  v
//	10  replica-local
func (r Row) Format(indent string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	vals := make([]string, len(r.Values))
	for i, v := range r.Values {
		// One line per row: a newline or tab inside a value would break
		// the columns.
		vals[i] = strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(nullText(v))
	}
	w.Write([]byte(indent + strings.Join(r.Columns, "\t") + "\n"))
	w.Write([]byte(indent + strings.Join(vals, "\t") + "\n"))
	w.Flush()
	return b.String()
}
