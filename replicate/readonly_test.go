package replicate

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func varRows(kv ...string) []map[string]sql.NullString {
	var rows []map[string]sql.NullString
	for i := 0; i+1 < len(kv); i += 2 {
		rows = append(rows, map[string]sql.NullString{
			"Variable_name": {String: kv[i], Valid: true}, "Value": {String: kv[i+1], Valid: true}})
	}
	return rows
}

// The fencing plan per server flavour: MySQL (super_read_only, from the
// variables MySQL 8.0 reports; no MySQL server runs in the tests) and
// MariaDB 10.11 (no super_read_only).
func TestFenceStatements(t *testing.T) {
	tests := []struct {
		name        string
		rows        []map[string]sql.NullString
		on, off     []string
		fenced      bool
		describe    string
		wantErrLike error
	}{
		{name: "MySQL 8.0", rows: varRows("read_only", "OFF", "super_read_only", "OFF", "version", "8.0.36"),
			on:  []string{"SET GLOBAL read_only = 1", "SET GLOBAL super_read_only = 1"},
			off: []string{"SET GLOBAL super_read_only = 0", "SET GLOBAL read_only = 0"}, describe: "read_only=OFF super_read_only=OFF"},
		{name: "MySQL 8.0 fenced", rows: varRows("read_only", "ON", "super_read_only", "ON", "version", "8.0.36"),
			on:  []string{"SET GLOBAL read_only = 1", "SET GLOBAL super_read_only = 1"},
			off: []string{"SET GLOBAL super_read_only = 0", "SET GLOBAL read_only = 0"}, fenced: true, describe: "read_only=ON super_read_only=ON"},
		{name: "MySQL read_only only is not fenced", rows: varRows("read_only", "ON", "super_read_only", "OFF"),
			on:  []string{"SET GLOBAL read_only = 1", "SET GLOBAL super_read_only = 1"},
			off: []string{"SET GLOBAL super_read_only = 0", "SET GLOBAL read_only = 0"}, describe: "read_only=ON super_read_only=OFF"},
		{name: "MariaDB 10.11", rows: varRows("read_only", "ON", "version", "10.11.19-MariaDB-0+deb12u1"),
			on: []string{"SET GLOBAL read_only = 1"}, off: []string{"SET GLOBAL read_only = 0"}, fenced: true,
			describe: "read_only=ON (super_read_only: not supported by 10.11.19-MariaDB-0+deb12u1; accounts with READ_ONLY ADMIN or SUPER can still write)"},
		{name: "no read_only variable", rows: varRows("version", "x"), wantErrLike: ErrUnknownFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := parseReadOnlyVars(tt.rows)
			if tt.wantErrLike != nil {
				require.ErrorIs(t, err, tt.wantErrLike)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.on, fenceStatements(st, true))
			assert.Equal(t, tt.off, fenceStatements(st, false))
			assert.Equal(t, tt.fenced, st.Fenced())
			assert.Equal(t, tt.describe, st.String())
		})
	}
}

// TestSetReadOnlyReal fences a real MariaDB 10.11 and reads it back.
func TestSetReadOnlyReal(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	st, err := p.b.SetReadOnly(ctx, true)
	require.NoError(t, err)
	assert.True(t, st.ReadOnly)
	assert.False(t, st.SuperReadOnlySupported, "MariaDB has no super_read_only")
	assert.True(t, st.Fenced())
	assert.Contains(t, st.String(), "super_read_only: not supported by 10.11")
	assert.True(t, readOnly(t, p.b))
	again, err := p.b.SetReadOnly(ctx, true)
	require.NoError(t, err, "idempotent")
	assert.Equal(t, st, again)

	st, err = p.b.SetReadOnly(ctx, false)
	require.NoError(t, err)
	assert.True(t, st.Writable())
	assert.False(t, readOnly(t, p.b))

	// An account without READ_ONLY ADMIN: the error names the statement.
	p.B.Exec(t, "SET sql_log_bin=0; CREATE USER 'ro'@'127.0.0.1'; SET sql_log_bin=1")
	ro, err := NewMySQL(MySQLConfig{Address: p.B.Addr, User: "ro"})
	require.NoError(t, err)
	defer ro.Close()
	_, err = ro.SetReadOnly(ctx, true)
	require.ErrorIs(t, err, ErrNoPrivilege)
	assert.Contains(t, err.Error(), "SET GLOBAL read_only = 1")
	assert.Contains(t, err.Error(), "READ_ONLY ADMIN")
	assert.False(t, readOnly(t, p.b))
}
