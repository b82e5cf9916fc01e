package replicate

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrFenceUnverified: read_only (or super_read_only) was set, but
// reading it back showed another value.
var ErrFenceUnverified = errors.New("replicate: read_only not as set")

// ReadOnlyState is a server's write protection as it reports it.
type ReadOnlyState struct {
	// Server names the server.
	Server string
	// ReadOnly is @@read_only: ordinary accounts cannot write. Accounts
	// with READ_ONLY ADMIN (MariaDB 10.5.2 and later, included in ALL
	// PRIVILEGES) or SUPER (MySQL) still can.
	ReadOnly bool
	// SuperReadOnlySupported is false when the server has no
	// super_read_only variable (MariaDB, all versions so far); then
	// SuperReadOnly is false and privileged accounts can still write on
	// a read_only server.
	SuperReadOnlySupported bool
	// SuperReadOnly is @@super_read_only (MySQL 5.7.8 and later): no
	// account writes, SUPER included (replication threads still apply).
	SuperReadOnly bool
	// Version is @@version.
	Version string
}

// String renders the state in one line, saying what the server lacks.
func (s ReadOnlyState) String() string {
	line := fmt.Sprintf("read_only=%s", onOff(s.ReadOnly))
	if s.SuperReadOnlySupported {
		return line + " super_read_only=" + onOff(s.SuperReadOnly)
	}
	return line + " (super_read_only: not supported by " + cmp.Or(s.Version, "this server") + "; accounts with READ_ONLY ADMIN or SUPER can still write)"
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// Fenced reports whether the server refuses writes as far as it can:
// read_only, and super_read_only where the server has it.
func (s ReadOnlyState) Fenced() bool {
	return s.ReadOnly && (!s.SuperReadOnlySupported || s.SuperReadOnly)
}

// Writable reports whether both read_only and super_read_only are off.
func (s ReadOnlyState) Writable() bool { return !s.ReadOnly && !s.SuperReadOnly }

const readOnlyQuery = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only', 'version')"

// ReadOnlyState reads @@read_only and, where the server has it,
// @@super_read_only.
func (m *MySQL) ReadOnlyState(ctx context.Context) (ReadOnlyState, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	rows, err := queryMaps(ctx, m.db, readOnlyQuery)
	if err != nil {
		return ReadOnlyState{}, m.wrap(readOnlyQuery, err)
	}
	st, err := parseReadOnlyVars(rows)
	if err != nil {
		return ReadOnlyState{}, fmt.Errorf("replicate: %s: %s: %w", m.Name(), readOnlyQuery, err)
	}
	st.Server = m.Name()
	return st, nil
}

// parseReadOnlyVars reads the rows of readOnlyQuery (Variable_name,
// Value).
func parseReadOnlyVars(rows []map[string]sql.NullString) (ReadOnlyState, error) {
	var st ReadOnlyState
	seen := false
	for _, r := range rows {
		val := strings.ToUpper(r["Value"].String)
		on := val == "ON" || val == "1"
		switch strings.ToLower(r["Variable_name"].String) {
		case "read_only":
			st.ReadOnly, seen = on, true
		case "super_read_only":
			st.SuperReadOnlySupported, st.SuperReadOnly = true, on
		case "version":
			st.Version = r["Value"].String
		}
	}
	if !seen {
		return st, fmt.Errorf("%w: no read_only variable", ErrUnknownFormat)
	}
	return st, nil
}

// fenceStatements returns the statements that make a server in state st
// read-only (on) or writable: read_only first and super_read_only second
// when turning on, the reverse when turning off (MySQL sets read_only
// with super_read_only and clears super_read_only with read_only, so
// each order leaves no window with only one of them).
func fenceStatements(st ReadOnlyState, on bool) []string {
	if on {
		s := []string{"SET GLOBAL read_only = 1"}
		if st.SuperReadOnlySupported {
			s = append(s, "SET GLOBAL super_read_only = 1")
		}
		return s
	}
	var s []string
	if st.SuperReadOnlySupported {
		s = append(s, "SET GLOBAL super_read_only = 0")
	}
	return append(s, "SET GLOBAL read_only = 0")
}

// SetReadOnly fences the server (on: read_only and, where the server has
// it, super_read_only) or makes it writable (both off), then reads the
// variables back. It returns the state read back; an error names the
// statement refused, or wraps [ErrFenceUnverified] when the server
// reports another state than the one set. It is idempotent. On MariaDB,
// which has no super_read_only, the state says so: accounts with
// READ_ONLY ADMIN or SUPER can still write on a fenced server.
func (m *MySQL) SetReadOnly(ctx context.Context, on bool) (ReadOnlyState, error) {
	st, err := m.ReadOnlyState(ctx)
	if err != nil {
		return st, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	for _, q := range fenceStatements(st, on) {
		if _, err := m.db.ExecContext(ctx, q); err != nil {
			return st, m.wrap(q, err)
		}
	}
	after, err := m.ReadOnlyState(ctx)
	if err != nil {
		return after, err
	}
	if on && !after.Fenced() || !on && !after.Writable() {
		want := "writable"
		if on {
			want = "read-only"
		}
		return after, fmt.Errorf("replicate: %s: %w: made %s, read back %s", m.Name(), ErrFenceUnverified, want, after)
	}
	return after, nil
}
