package replicate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseGrants(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		allow []string // "PRIV ON scope"
		deny  []string
	}{
		{name: "MariaDB root", lines: []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION", "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"},
			allow: []string{"READ_ONLY ADMIN ON *.*", "DELETE ON `lab`.`t`", "ALL PRIVILEGES ON `lab`.*"}},
		{name: "MariaDB limited with a default role", lines: []string{
			"GRANT `ops` TO `w`@`127.0.0.1`", "GRANT USAGE ON *.* TO `w`@`127.0.0.1`",
			"GRANT RELOAD, SLAVE MONITOR ON *.* TO `ops`", "GRANT SELECT ON `lab`.* TO `ops`",
			"GRANT SELECT (`v`), DELETE ON `shop`.`orders` TO `w`@`127.0.0.1`", "SET DEFAULT ROLE `ops` FOR `w`@`127.0.0.1`"},
			allow: []string{"RELOAD ON *.*", "SLAVE MONITOR ON *.*", "REPLICA MONITOR ON *.*", "SELECT ON `lab`.`t`", "DELETE ON `shop`.`orders`"},
			deny:  []string{"SUPER ON *.*", "SELECT ON `shop`.`orders`", "DELETE ON `lab`.`t`", "ALL PRIVILEGES ON `lab`.*", "SELECT ON `other`.`t`"}},
		{name: "MariaDB old spelling", lines: []string{"GRANT REPLICATION CLIENT ON *.* TO 'm'@'%'"},
			allow: []string{"BINLOG MONITOR ON *.*"}},
		{name: "MySQL 8 dynamic privileges", lines: []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `repl`@`%`",
			"GRANT REPLICATION_SLAVE_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `repl`@`%`",
			"GRANT ALL PRIVILEGES ON `shop`.* TO `repl`@`%`"},
			allow: []string{"REPLICATION_SLAVE_ADMIN ON *.*", "SYSTEM_VARIABLES_ADMIN ON *.*", "REPLICATION CLIENT ON *.*", "ALL PRIVILEGES ON `shop`.*", "DELETE ON `shop`.`t`"},
			deny:  []string{"SUPER ON *.*", "RELOAD ON *.*", "DELETE ON `lab`.`t`"}},
		{name: "unquoted names", lines: []string{"GRANT SELECT ON lab.t TO u@h"}, allow: []string{"SELECT ON `lab`.`t`"}, deny: []string{"SELECT ON `lab`.`u`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := parseGrants(tt.lines)
			for _, a := range tt.allow {
				priv, scope, _ := strings.Cut(a, " ON ")
				assert.True(t, g.allows([]string{priv}, scope), "%s should be allowed: %v", a, g)
			}
			for _, d := range tt.deny {
				priv, scope, _ := strings.Cut(d, " ON ")
				assert.False(t, g.allows([]string{priv}, scope), "%s should be denied: %v", d, g)
			}
		})
	}
}

// TestCheckPrivilegesReal asks a real MariaDB 10.11 pair what a limited
// account lacks for every operation, grants exactly what the report
// suggests, and finds it complete: the suggested grants then let the
// repairs run.
func TestCheckPrivilegesReal(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	all := []Strategy{StrategyRestart, StrategySkip, StrategyReplaceRow, StrategyReseed}
	cfg := PrivilegeConfig{Tables: []string{"lab.t"}, Schemas: []string{"lab"}, Repairs: all}

	rep, err := CheckPrivileges(ctx, p.b, p.a, cfg)
	require.NoError(t, err)
	assert.Empty(t, rep.Missing(), "root may do everything")
	assert.Equal(t, "root@127.0.0.1", rep.Accounts["replica"])

	watch := limitedMySQL(t, p.B, "watch", "SLAVE MONITOR ON *.*", "SELECT ON lab.*")
	rep, err = CheckPrivileges(ctx, watch, p.a, cfg)
	require.NoError(t, err)
	missing := map[string]PrivilegeCheck{}
	for _, c := range rep.Missing() {
		assert.Equal(t, "replica", c.Role, "%+v", c)
		missing[c.Operation+": "+c.Statement] = c
	}
	t.Log(strings.Join(mapKeys(missing), "\n"))
	for key, grant := range map[string]string{
		"fence: SET GLOBAL read_only":                                              "GRANT READ_ONLY ADMIN ON *.* TO 'watch'@'127.0.0.1'",
		"repairs: STOP SLAVE, START SLAVE":                                         "GRANT REPLICATION SLAVE ADMIN ON *.* TO 'watch'@'127.0.0.1'",
		"repair restart: FLUSH LOCAL PRIVILEGES":                                   "GRANT RELOAD ON *.* TO 'watch'@'127.0.0.1'",
		"repair restart: RESET SLAVE":                                              "GRANT RELOAD ON *.* TO 'watch'@'127.0.0.1'",
		"repair skip: SET GLOBAL gtid_slave_pos (GTID mode)":                       "GRANT REPLICATION SLAVE ADMIN ON *.* TO 'watch'@'127.0.0.1'",
		"repair replace-row: SET SESSION sql_log_bin":                              "GRANT BINLOG ADMIN ON *.* TO 'watch'@'127.0.0.1'",
		"repair replace-row: DELETE on lab.t":                                      "GRANT DELETE ON `lab`.`t` TO 'watch'@'127.0.0.1'",
		"repair reseed: load of the dump into lab":                                 "GRANT ALL PRIVILEGES ON `lab`.* TO 'watch'@'127.0.0.1'",
		"repair reseed: SET SESSION sql_log_bin":                                   "GRANT BINLOG ADMIN ON *.* TO 'watch'@'127.0.0.1'",
		"repair reseed: CHANGE MASTER TO, SET GLOBAL gtid_slave_pos (in the dump)": "GRANT REPLICATION SLAVE ADMIN ON *.* TO 'watch'@'127.0.0.1'",
	} {
		c, ok := missing[key]
		if assert.True(t, ok, "missing %q not reported", key) {
			assert.Equal(t, grant, c.Grant, key)
			assert.Equal(t, PrivilegeMissing, c.State)
		}
		delete(missing, key)
	}
	assert.Empty(t, missing, "reported missing but not expected")
	for _, c := range rep.Checks {
		if c.Operation == "status" || c.Operation == "data check" {
			assert.Equal(t, PrivilegeOK, c.State, "%+v", c)
		}
		if c.Statement == "SET GLOBAL read_only" && c.Role == "replica" {
			assert.Equal(t, "probe", c.Method)
			assert.Contains(t, c.Detail, "READ_ONLY ADMIN")
		}
	}

	// Grant what the report suggests; then nothing is missing, and the
	// account really can repair.
	seen := map[string]bool{}
	var grants []string
	for _, c := range rep.Missing() {
		if !seen[c.Grant] {
			seen[c.Grant], grants = true, append(grants, c.Grant)
		}
	}
	p.B.Exec(t, "SET sql_log_bin=0; "+strings.Join(grants, "; ")+"; SET sql_log_bin=1")
	// Global privileges apply to new sessions: a new pool.
	watch, err = NewMySQL(MySQLConfig{Address: p.B.Addr, User: "watch", Password: "pw-watch"})
	require.NoError(t, err)
	defer watch.Close()
	rep, err = CheckPrivileges(ctx, watch, p.a, cfg)
	require.NoError(t, err)
	assert.Empty(t, rep.Missing())

	p.break1062(t, "lab.t", 10)
	r, err := NewRepairer(RepairConfig{Source: p.a, Replica: watch, Check: DataCheckConfig{Tables: []string{"lab.t"}}})
	require.NoError(t, err)
	fixed, err := r.Repair(ctx, StrategyReplaceRow)
	require.NoError(t, err)
	assert.True(t, fixed.Converged, fixed.String())

	t.Run("read_only replica", func(t *testing.T) {
		// A fenced standby: DELETE needs READ_ONLY ADMIN as well.
		p.B.Exec(t, "SET GLOBAL read_only = 1")
		t.Cleanup(func() { p.B.Exec(t, "SET GLOBAL read_only = 0") })
		p.B.Exec(t, "SET sql_log_bin=0; REVOKE READ_ONLY ADMIN ON *.* FROM 'watch'@'127.0.0.1'; SET sql_log_bin=1")
		watch, err := NewMySQL(MySQLConfig{Address: p.B.Addr, User: "watch", Password: "pw-watch"})
		require.NoError(t, err)
		defer watch.Close()
		rep, err := CheckPrivileges(ctx, watch, nil, PrivilegeConfig{Tables: []string{"lab.t"}, Repairs: []Strategy{StrategyReplaceRow}})
		require.NoError(t, err)
		var got []string
		for _, c := range rep.Missing() {
			got = append(got, fmt.Sprintf("%s: %s -> %s", c.Operation, c.Statement, c.Grant))
		}
		assert.ElementsMatch(t, []string{
			"fence: SET GLOBAL read_only -> GRANT READ_ONLY ADMIN ON *.* TO 'watch'@'127.0.0.1'",
			"repair replace-row: DELETE on lab.t while read_only is on -> GRANT READ_ONLY ADMIN ON *.* TO 'watch'@'127.0.0.1'",
		}, got)
	})
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
