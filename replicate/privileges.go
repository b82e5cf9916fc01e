package replicate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// PrivilegeConfig says what [CheckPrivileges] checks the accounts for:
// reading the status and fencing always, the data check when Tables (or
// Schemas) are given, and each repair in Repairs.
type PrivilegeConfig struct {
	// Tables are the data check's tables ("schema.table" or "schema", as
	// DataCheckConfig.Tables); replace-row deletes from them.
	Tables []string
	// Schemas are reloaded by the reseed repair (and compared by the
	// data check when Tables is empty).
	Schemas []string
	// Repairs are the strategies that may run.
	Repairs []Strategy
}

// Privilege check states.
const (
	PrivilegeOK      = "ok"
	PrivilegeMissing = "missing"
	// PrivilegeUnknown: the check could not tell (a table missing, an
	// unexpected answer); Detail says why.
	PrivilegeUnknown = "unknown"
)

// PrivilegeCheck is one statement an operation runs on one server, and
// whether the configured account may run it.
type PrivilegeCheck struct {
	// Operation is what needs it: "status", "data check", "fence",
	// "repair restart", …
	Operation string
	// Role is "replica" or "source"; Server its address.
	Role, Server string
	// Statement is what runs ("STOP SLAVE", "SELECT on `lab`.`t`").
	Statement string
	// Needs names the privileges, any one of which allows it, and where.
	Needs string
	// State is PrivilegeOK, PrivilegeMissing or PrivilegeUnknown.
	State string
	// Method is "probe" (a statement that changes nothing was run and
	// the server's answer taken) or "grants" (read from SHOW GRANTS,
	// where no harmless probe exists).
	Method string
	// Detail is the server's refusal, or why the check could not tell.
	Detail string
	// Grant is a statement that grants what is missing ("" when OK).
	Grant string
}

// PrivilegeReport is the result of [CheckPrivileges].
type PrivilegeReport struct {
	// Accounts are the accounts as the servers see them
	// (CURRENT_USER()), by role.
	Accounts map[string]string
	// Grants are the SHOW GRANTS lines of each account, by role.
	Grants map[string][]string
	Checks []PrivilegeCheck
}

// Missing returns the checks that are not OK (missing or unknown).
func (r PrivilegeReport) Missing() []PrivilegeCheck {
	var out []PrivilegeCheck
	for _, c := range r.Checks {
		if c.State != PrivilegeOK {
			out = append(out, c)
		}
	}
	return out
}

// requirement is one statement an operation runs.
type requirement struct {
	op, role string
	// stmt is shown; probe, when set, is run (it changes nothing) and
	// its answer taken; otherwise SHOW GRANTS is read for anyOf.
	stmt, probe string
	// anyOf are the privileges any of which allows it, the first the
	// one a GRANT suggests (with allOf, every one is needed); on is where
	// ("*.*", "`db`.*", "`db`.`t`").
	anyOf []string
	allOf bool
	on    string
	// allowed are server errors that come after the privilege check
	// (1198: the replica must be stopped first).
	allowed []int
}

// privilegeNames are the privileges of each purpose, by flavour.
type privilegeNames struct {
	monitor, slaveAdmin, binlogMonitor, binlogAdmin, readOnly, skipCounter, binlogEvents []string
	statusQuery                                                                          string
}

var (
	mariadbPrivileges = privilegeNames{
		monitor: []string{"SLAVE MONITOR", "SUPER"}, slaveAdmin: []string{"REPLICATION SLAVE ADMIN", "SUPER"},
		binlogMonitor: []string{"BINLOG MONITOR", "SUPER"}, binlogAdmin: []string{"BINLOG ADMIN", "SUPER"},
		readOnly: []string{"READ_ONLY ADMIN"}, skipCounter: []string{"SUPER"}, binlogEvents: []string{"BINLOG MONITOR"},
		statusQuery: "SHOW ALL SLAVES STATUS",
	}
	mysqlPrivileges = privilegeNames{
		monitor: []string{"REPLICATION CLIENT", "SUPER"}, slaveAdmin: []string{"REPLICATION_SLAVE_ADMIN", "SUPER"},
		binlogMonitor: []string{"REPLICATION CLIENT", "SUPER"}, binlogAdmin: []string{"SYSTEM_VARIABLES_ADMIN", "SESSION_VARIABLES_ADMIN", "SUPER"},
		readOnly: []string{"SYSTEM_VARIABLES_ADMIN", "SUPER"}, skipCounter: []string{"SYSTEM_VARIABLES_ADMIN", "SUPER"},
		binlogEvents: []string{"REPLICATION SLAVE"},
		statusQuery:  "SHOW REPLICA STATUS",
	}
)

// requirements lists what the configuration needs of the replica's and
// the source's accounts. mariadb is the replica's flavour; usingGTID its
// Using_Gtid ("" when unknown: both ways of skipping are checked).
func requirements(cfg PrivilegeConfig, mariadb bool, usingGTID string, tables []tableName, replicaReadOnly bool, hasSource bool) []requirement {
	p := mysqlPrivileges
	if mariadb {
		p = mariadbPrivileges
	}
	word := "REPLICA"
	if mariadb {
		word = "SLAVE"
	}
	var rs []requirement
	add := func(r requirement) {
		if r.role == "source" && !hasSource {
			return
		}
		if r.on == "" {
			r.on = "*.*"
		}
		rs = append(rs, r)
	}
	add(requirement{op: "status", role: "replica", stmt: p.statusQuery, probe: p.statusQuery, anyOf: p.monitor})
	for _, role := range []string{"replica", "source"} {
		add(requirement{op: "fence", role: role, stmt: "SET GLOBAL read_only", probe: "SET GLOBAL read_only = @@global.read_only", anyOf: p.readOnly})
		if !mariadb {
			add(requirement{op: "fence", role: role, stmt: "SET GLOBAL super_read_only", probe: "SET GLOBAL super_read_only = @@global.super_read_only", anyOf: p.readOnly})
		}
		for _, t := range tables {
			add(requirement{op: "data check", role: role, stmt: "SELECT, CHECKSUM TABLE on " + t.String(),
				probe: "SELECT * FROM " + t.quoted() + " LIMIT 0", anyOf: []string{"SELECT"}, on: t.quoted()})
		}
	}
	if len(cfg.Repairs) > 0 {
		add(requirement{op: "repairs", role: "replica", stmt: "STOP " + word + ", START " + word, anyOf: p.slaveAdmin})
		add(requirement{op: "repairs", role: "source", stmt: "SHOW MASTER STATUS", probe: "SHOW MASTER STATUS", anyOf: p.binlogMonitor})
	}
	for _, s := range cfg.Repairs {
		op := "repair " + string(s)
		switch s {
		case StrategyRestart:
			add(requirement{op: op, role: "replica", stmt: "FLUSH LOCAL PRIVILEGES", anyOf: []string{"RELOAD"}})
			add(requirement{op: op, role: "replica", stmt: "RESET " + word, anyOf: []string{"RELOAD"}})
		case StrategySkip:
			if usingGTID == "" || usingGTID == "No" || !mariadb {
				add(requirement{op: op, role: "replica", stmt: "SET GLOBAL sql_slave_skip_counter (file/position mode)",
					probe: "SET GLOBAL sql_slave_skip_counter = @@global.sql_slave_skip_counter", anyOf: p.skipCounter, allowed: []int{1198}})
			}
			if mariadb && usingGTID != "No" {
				add(requirement{op: op, role: "replica", stmt: "SET GLOBAL gtid_slave_pos (GTID mode)", anyOf: p.slaveAdmin})
				add(requirement{op: op, role: "source", stmt: "SHOW BINLOG EVENTS (GTID mode)", probe: "SHOW BINLOG EVENTS LIMIT 0", anyOf: p.binlogEvents})
			}
		case StrategyReplaceRow:
			add(requirement{op: op, role: "replica", stmt: "SET SESSION sql_log_bin", probe: "SET SESSION sql_log_bin = @@session.sql_log_bin", anyOf: p.binlogAdmin})
			for _, t := range tables {
				r := requirement{op: op, role: "replica", stmt: "DELETE on " + t.String(), probe: "EXPLAIN DELETE FROM " + t.quoted() + " WHERE FALSE",
					anyOf: []string{"DELETE"}, on: t.quoted()}
				add(r)
				if replicaReadOnly {
					add(requirement{op: op, role: "replica", stmt: "DELETE on " + t.String() + " while read_only is on", probe: r.probe, anyOf: p.readOnly})
				}
			}
		case StrategyReseed:
			for _, s := range cfg.Schemas {
				db := quoteIdent(s) + ".*"
				add(requirement{op: op, role: "source", stmt: "mariadb-dump --triggers of " + s, anyOf: []string{"SELECT", "SHOW VIEW", "TRIGGER"}, allOf: true, on: db})
				add(requirement{op: op, role: "replica", stmt: "load of the dump into " + s, anyOf: []string{"ALL PRIVILEGES"}, on: db})
			}
			add(requirement{op: op, role: "source", stmt: "mariadb-dump --master-data (SHOW MASTER STATUS)", probe: "SHOW MASTER STATUS", anyOf: p.binlogMonitor})
			add(requirement{op: op, role: "replica", stmt: "SET SESSION sql_log_bin", probe: "SET SESSION sql_log_bin = @@session.sql_log_bin", anyOf: p.binlogAdmin})
			add(requirement{op: op, role: "replica", stmt: "CHANGE MASTER TO, SET GLOBAL gtid_slave_pos (in the dump)", anyOf: p.slaveAdmin})
		}
	}
	return rs
}

// CheckPrivileges finds what the accounts of replica and source (nil
// when none is configured) lack for the operations cfg names: it runs,
// where one exists, a probe that changes nothing (SHOW ... STATUS,
// SELECT ... LIMIT 0, EXPLAIN DELETE ... WHERE FALSE, SET GLOBAL
// read_only = @@global.read_only) and takes the server's answer;
// otherwise (STOP/START SLAVE, FLUSH, RESET, the reseed's dump and load)
// it reads SHOW GRANTS, the account's and its default role's. An error
// means a server could not be asked at all.
func CheckPrivileges(ctx context.Context, replica, source *MySQL, cfg PrivilegeConfig) (PrivilegeReport, error) {
	rep := PrivilegeReport{Accounts: map[string]string{}, Grants: map[string][]string{}}
	servers := map[string]*MySQL{"replica": replica}
	if source != nil {
		servers["source"] = source
	}
	grants := map[string]grantSet{}
	for _, role := range []string{"replica", "source"} {
		m := servers[role]
		if m == nil {
			continue
		}
		account, lines, err := m.showGrants(ctx)
		if err != nil {
			return rep, err
		}
		rep.Accounts[role], rep.Grants[role] = account, lines
		grants[role] = parseGrants(lines)
	}
	vars, err := replica.serverVars(ctx)
	if err != nil {
		return rep, err
	}
	usingGTID := ""
	if st, err := replica.ReplicaStatus(ctx); err == nil {
		usingGTID = st.UsingGTID
		if !vars.MariaDB && usingGTID == "Auto_Position" {
			usingGTID = "No" // no GTID skip on MySQL: the counter
		}
	}
	specs := cfg.Tables
	if len(specs) == 0 {
		specs = cfg.Schemas
	}
	var tables []tableName
	if len(specs) > 0 {
		all := []*MySQL{replica}
		if source != nil {
			all = append(all, source)
		}
		tables, _, err = expandTables(ctx, specs, all...)
		if err != nil {
			return rep, err
		}
	}
	for _, r := range requirements(cfg, vars.MariaDB, usingGTID, tables, vars.ReadOnly, source != nil) {
		m := servers[r.role]
		join := " or "
		if r.allOf {
			join = ", "
		}
		c := PrivilegeCheck{Operation: r.op, Role: r.role, Server: m.Name(), Statement: r.stmt,
			Needs: strings.Join(r.anyOf, join) + " on " + r.on}
		grant := r.anyOf[:1]
		if r.probe != "" {
			c.Method = "probe"
			c.State, c.Detail = m.probe(ctx, r)
		} else {
			c.Method = "grants"
			c.State = PrivilegeOK
			if r.allOf {
				grant = nil
				for _, p := range r.anyOf {
					if !grants[r.role].allows([]string{p}, r.on) {
						grant = append(grant, p)
					}
				}
				if len(grant) > 0 {
					c.State = PrivilegeMissing
				}
			} else if !grants[r.role].allows(r.anyOf, r.on) {
				c.State = PrivilegeMissing
			}
			if c.State == PrivilegeMissing {
				c.Detail = "not in SHOW GRANTS for " + rep.Accounts[r.role]
			}
		}
		if c.State == PrivilegeMissing {
			c.Grant = fmt.Sprintf("GRANT %s ON %s TO %s", strings.Join(grant, ", "), r.on, quoteAccount(rep.Accounts[r.role]))
		}
		rep.Checks = append(rep.Checks, c)
	}
	return rep, nil
}

// probe runs r's probe and reads the answer.
func (m *MySQL) probe(ctx context.Context, r requirement) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	rows, err := m.db.QueryContext(ctx, r.probe)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	n := errno(err)
	switch {
	case err == nil || slices.Contains(r.allowed, n):
		return PrivilegeOK, ""
	case (n == 1142 || n == 1143) && slices.Contains(r.anyOf, "READ_ONLY ADMIN"):
		return PrivilegeUnknown, "cannot tell before the statement itself is allowed: " + err.Error()
	case n == 1227 || n == 1142 || n == 1143 || n == 1044 || n == 1370:
		return PrivilegeMissing, err.Error()
	case (n == 1290 || n == 1836) && slices.Contains(r.anyOf, "READ_ONLY ADMIN"):
		return PrivilegeMissing, "the server is read_only and the account cannot write through it: " + err.Error()
	case n == 1290 || n == 1836:
		return PrivilegeOK, "allowed, but the server is read_only: " + err.Error()
	}
	return PrivilegeUnknown, m.wrap(r.probe, err).Error()
}

// showGrants reads CURRENT_USER() and SHOW GRANTS (which lists the
// account's grants and those of its active, default role).
func (m *MySQL) showGrants(ctx context.Context) (string, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	var account string
	if err := m.db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&account); err != nil {
		return "", nil, m.wrap("SELECT CURRENT_USER()", err)
	}
	_, rows, err := queryRows(ctx, m.db, "SHOW GRANTS")
	if err != nil {
		return "", nil, m.wrap("SHOW GRANTS", err)
	}
	var lines []string
	for _, r := range rows {
		if len(r) > 0 && r[0].Valid {
			lines = append(lines, r[0].String)
		}
	}
	return account, lines, nil
}

// quoteAccount writes user@host (as CURRENT_USER() returns it) for a
// GRANT: 'user'@'host'.
func quoteAccount(account string) string {
	i := strings.LastIndexByte(account, '@')
	if i < 0 {
		return quoteString(account)
	}
	return quoteString(account[:i]) + "@" + quoteString(account[i+1:])
}

// grantSet is what SHOW GRANTS grants: privileges by scope ("*.*",
// "`db`.*", "`db`.`t`"), "ALL PRIVILEGES" standing for all of them.
type grantSet map[string][]string

var grantRe = regexp.MustCompile("(?i)^GRANT (.+?) ON ((?:`(?:[^`]|``)*`|[^ .]+|\\*)\\.(?:`(?:[^`]|``)*`|[^ ]+|\\*)) TO ")

// parseGrants reads SHOW GRANTS lines: GRANT privs ON scope TO ...
// Role grants ("GRANT `r` TO u") and PROXY are skipped: SHOW GRANTS
// already lists the privileges of the active role. Column privileges
// ("SELECT (a, b)") are not whole-table privileges and are skipped.
func parseGrants(lines []string) grantSet {
	g := grantSet{}
	for _, l := range lines {
		m := grantRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		scope := normalizeScope(m[2])
		for _, p := range splitPrivileges(m[1]) {
			if strings.Contains(p, "(") {
				continue
			}
			g[scope] = append(g[scope], strings.ToUpper(strings.Join(strings.Fields(p), " ")))
		}
	}
	return g
}

// splitPrivileges splits "SELECT, INSERT (a, b), SUPER" at the top-level
// commas.
func splitPrivileges(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// normalizeScope writes a scope with backquoted names: lab.* and
// `lab`.* are the same.
func normalizeScope(s string) string {
	db, table := splitScope(s)
	q := func(n string) string {
		if n == "*" {
			return n
		}
		if strings.HasPrefix(n, "`") {
			return n
		}
		return quoteIdent(n)
	}
	return q(db) + "." + q(table)
}

func splitScope(s string) (string, string) {
	if strings.HasPrefix(s, "`") {
		for i := 1; i < len(s); i++ {
			if s[i] == '`' {
				if i+1 < len(s) && s[i+1] == '`' {
					i++
					continue
				}
				return s[:i+1], strings.TrimPrefix(s[i+1:], ".")
			}
		}
	}
	db, table, _ := strings.Cut(s, ".")
	return db, table
}

// allows reports whether the grants give one of anyOf on scope (or on a
// scope containing it: *.* holds `db`.*, which holds `db`.`t`). "ALL
// PRIVILEGES" in anyOf asks for ALL PRIVILEGES itself; every other
// privilege is also given by ALL PRIVILEGES, except that a role or user
// granted ALL on a schema has no global privileges.
func (g grantSet) allows(anyOf []string, scope string) bool {
	db, _ := splitScope(scope)
	scopes := []string{"*.*"}
	if db != "*" {
		scopes = append(scopes, db+".*")
		if scope != db+".*" {
			scopes = append(scopes, scope)
		}
	}
	for _, sc := range scopes {
		privs := g[sc]
		if slices.Contains(privs, "ALL PRIVILEGES") || slices.Contains(privs, "ALL") {
			return true
		}
		for _, p := range anyOf {
			if slices.Contains(privs, p) || slices.Contains(privs, alias(p)) {
				return true
			}
		}
	}
	return false
}

// alias returns MariaDB's other spelling of a privilege, or p.
func alias(p string) string {
	switch p {
	case "SLAVE MONITOR":
		return "REPLICA MONITOR"
	case "REPLICA MONITOR":
		return "SLAVE MONITOR"
	case "BINLOG MONITOR":
		return "REPLICATION CLIENT"
	case "REPLICATION CLIENT":
		return "BINLOG MONITOR"
	}
	return p
}
