package replicate

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
)

// gtidBinlogPos reads B's own binlog position: an unlogged repair must
// not change it (nothing may flow back to A).
func gtidBinlogPos(t *testing.T, m *MySQL) string {
	t.Helper()
	var pos string
	require.NoError(t, m.db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos))
	return pos
}

// TestRepairStrategies breaks a real master-master pair with a 1062 as
// the article's users do, then runs each strategy end to end.
func TestRepairStrategies(t *testing.T) {
	tests := []struct {
		strategy Strategy
		check    func(t *testing.T, p *pair, rep RepairReport)
	}{
		{StrategyReport, func(t *testing.T, p *pair, rep RepairReport) {
			assert.Empty(t, rep.Statements)
			assert.False(t, rep.Resumed)
			assert.False(t, rep.Converged)
			assert.Equal(t, 1062, rep.After.SQLError.Errno)
			assert.Equal(t, []string{"lab.t"}, rep.Data.Differing())
			assert.Contains(t, rep.Note, "no change made")
		}},
		{StrategyRestart, func(t *testing.T, p *pair, rep RepairReport) {
			assert.Equal(t, []string{"STOP SLAVE", "FLUSH LOCAL PRIVILEGES", "RESET SLAVE", "START SLAVE"}, rep.Statements)
			// MariaDB 10.11 with GTID: the same transaction fails again.
			assert.False(t, rep.Resumed)
			assert.False(t, rep.Converged)
			assert.Equal(t, 1062, rep.After.SQLError.Errno)
			assert.Contains(t, rep.Note, "nothing fixed")
			assert.Contains(t, rep.Note, "gtid_slave_pos")
			assert.Equal(t, "replica-local", p.rows(t, p.B, "lab.t")[10])
		}},
		{StrategySkip, func(t *testing.T, p *pair, rep RepairReport) {
			assert.True(t, rep.Resumed, "replication resumes")
			assert.False(t, rep.Converged, "but the copies diverged")
			require.Len(t, rep.Data.Tables, 1)
			assert.Equal(t, []RowDiff{{Key: "10", KeyValues: []string{"10"}, OnSource: true, OnReplica: true}, {Key: "11", KeyValues: []string{"11"}, OnSource: true}}, rep.Data.Tables[0].Rows)
			assert.Contains(t, rep.Statements[1], "SET GLOBAL gtid_slave_pos")
			assert.Equal(t, "replica-local", p.rows(t, p.B, "lab.t")[10])
		}},
		{StrategyReplaceRow, func(t *testing.T, p *pair, rep RepairReport) {
			assert.True(t, rep.Resumed)
			assert.True(t, rep.Converged, rep.String())
			require.NotNil(t, rep.Removed)
			v, _ := rep.Removed.Value("v")
			assert.Equal(t, "replica-local", v)
			assert.Contains(t, rep.String(), "removed from the replica, lab.t (unlogged):\n    id  v\n    10  replica-local\n")
			assert.Equal(t, map[int]string{2: "node2", 10: "from-master", 11: "after"}, p.rows(t, p.B, "lab.t"))
			assert.Equal(t, p.rows(t, p.A, "lab.t"), p.rows(t, p.B, "lab.t"))
		}},
		{StrategyReseed, func(t *testing.T, p *pair, rep RepairReport) {
			assert.True(t, rep.Resumed)
			assert.True(t, rep.Converged, rep.String())
			assert.Equal(t, map[int]string{2: "node2", 10: "from-master", 11: "after"}, p.rows(t, p.B, "lab.t"))
			for _, s := range rep.Statements {
				assert.NotContains(t, s, "password")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.strategy), func(t *testing.T) {
			p := startPair(t)
			ctx := context.Background()
			p.B.Exec(t, "INSERT INTO lab.t VALUES (2,'node2')") // normal master-master write
			p.waitCaughtUp(t, p.B, p.A)
			p.break1062(t, "lab.t", 10)
			bBinlog := gtidBinlogPos(t, p.b)

			var events []Event
			r, err := NewRepairer(RepairConfig{Source: p.a, Replica: p.b, Check: DataCheckConfig{Tables: []string{"lab.t"}},
				Schemas: []string{"lab"}, TempDir: t.TempDir(), OnEvent: func(e Event) { events = append(events, e) }})
			require.NoError(t, err)
			rep, err := r.Repair(ctx, tt.strategy)
			require.NoError(t, err)
			t.Log(rep.String())
			assert.Equal(t, 1062, rep.Before.SQLError.Errno)
			assert.True(t, rep.DataChecked)
			tt.check(t, p, rep)

			require.Len(t, events, 2)
			assert.Equal(t, EventRepairStarted, events[0].Kind)
			assert.Equal(t, EventRepairDone, events[1].Kind)
			assert.False(t, events[0].Before.Running)
			assert.Equal(t, rep.Resumed, events[1].After.Running)
			assert.Equal(t, rep.Converged, events[1].Converged)
			assert.Equal(t, "replication_repair_done", string(events[1].FailoverEvent().Kind))

			// Repairs on B are unlogged: nothing flowed back to A.
			assert.Equal(t, bBinlog, gtidBinlogPos(t, p.b), "B's binlog changed")
			assert.Equal(t, "from-master", p.rows(t, p.A, "lab.t")[10])
		})
	}
}

func TestRepairRefusals(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	r, err := NewRepairer(RepairConfig{Source: p.a, Replica: p.b, Check: DataCheckConfig{Tables: []string{"lab.t"}}})
	require.NoError(t, err)

	t.Run("healthy replica", func(t *testing.T) {
		for _, s := range []Strategy{StrategySkip, StrategyReplaceRow, StrategyReseed} {
			_, err := r.Repair(ctx, s)
			assert.ErrorIs(t, err, ErrCannotRepair, "strategy %s", s)
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		p.break1062(t, "lab.t", 10)
		rep, err := r.Repair(ctx, StrategyIdempotent)
		require.ErrorIs(t, err, ErrIdempotentRefused)
		assert.Contains(t, err.Error(), "binlog_format ROW")
		assert.Empty(t, rep.Statements)
		var mode string
		require.NoError(t, p.b.db.QueryRow("SELECT @@slave_exec_mode").Scan(&mode))
		assert.Equal(t, "STRICT", mode)
	})
	t.Run("wrong source", func(t *testing.T) {
		// B is stopped on the 1062 of the subtest above. A source that
		// is B itself, or a third server B does not replicate from, must
		// not be dumped into B nor have its binlog read for the skip.
		third := mariadb.Start(t, mariadb.ServerID(3))
		third.Exec(t, "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO lab.t VALUES (1,'third')")
		before := p.rows(t, p.B, "lab.t")
		for name, src := range map[string]*MySQL{"itself": p.b, "third server": rootMySQL(t, third)} {
			wrong, err := NewRepairer(RepairConfig{Source: src, Replica: p.b, Schemas: []string{"lab"}, TempDir: t.TempDir(),
				Check: DataCheckConfig{Tables: []string{"lab.t"}}})
			require.NoError(t, err)
			for _, s := range []Strategy{StrategyReseed, StrategySkip} {
				rep, err := wrong.Repair(ctx, s)
				assert.ErrorIs(t, err, ErrCannotRepair, "%s: %s", name, s)
				assert.Empty(t, rep.Statements, "%s: %s", name, s)
			}
		}
		assert.Equal(t, before, p.rows(t, p.B, "lab.t"))
		st, err := p.b.ReplicaStatus(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1062, st.SQLError.Errno)
		assert.Equal(t, int64(1), st.SourceServerID)
	})
	t.Run("unknown strategy", func(t *testing.T) {
		_, err := ParseStrategy("magic")
		assert.Error(t, err)
		s, err := ParseStrategy("")
		require.NoError(t, err)
		assert.Equal(t, StrategyReport, s)
	})
}

// limitedMySQL creates, unlogged, an account on s with the given grants
// and returns a MySQL for it.
func limitedMySQL(t *testing.T, s *mariadb.Server, user string, grants ...string) *MySQL {
	t.Helper()
	q := fmt.Sprintf("SET sql_log_bin=0; CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY 'pw-%s';", user, user)
	for _, g := range grants {
		q += fmt.Sprintf(" GRANT %s TO '%s'@'127.0.0.1';", g, user)
	}
	s.Exec(t, q+" SET sql_log_bin=1")
	m, err := NewMySQL(MySQLConfig{Address: s.Addr, User: user, Password: "pw-" + user})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// TestRepairFailures runs repairs that the server refuses part-way, on a
// real pair broken with a 1062: the report says only what was done, and
// the replica is left as it was found.
func TestRepairFailures(t *testing.T) {
	ctx := context.Background()

	t.Run("restart without RELOAD", func(t *testing.T) {
		p := startPair(t)
		p.break1062(t, "lab.t", 10)
		// STOP SLAVE is allowed, FLUSH LOCAL PRIVILEGES is not.
		op := limitedMySQL(t, p.B, "op", "SLAVE MONITOR, REPLICATION SLAVE ADMIN, BINLOG MONITOR ON *.*", "SELECT ON lab.*")
		r, err := NewRepairer(RepairConfig{Source: p.a, Replica: op, Check: DataCheckConfig{Tables: []string{"lab.t"}}})
		require.NoError(t, err)
		rep, err := r.Repair(ctx, StrategyRestart)
		require.ErrorIs(t, err, ErrNoPrivilege)
		assert.Contains(t, err.Error(), "FLUSH LOCAL PRIVILEGES")
		assert.NotContains(t, err.Error(), "replication status")
		t.Log(rep.String())
		assert.Equal(t, []string{"STOP SLAVE", "START SLAVE IO_THREAD -- restore"}, rep.Statements)
		assert.Contains(t, rep.Failed, "FLUSH LOCAL PRIVILEGES")
		assert.Contains(t, rep.Restored, "as found (found with io=Yes sql=false)")
		assert.Equal(t, ThreadYes, rep.After.IORunning, "left as found: IO thread running")
		assert.Equal(t, 1062, rep.After.SQLError.Errno)
		assert.False(t, rep.DataChecked)
		assert.Contains(t, rep.String(), "data: not checked: the repair stopped with an error")
		assert.NotContains(t, rep.String(), "no tables configured")
		st, err := p.b.ReplicaStatus(ctx)
		require.NoError(t, err)
		assert.Equal(t, ThreadYes, st.IORunning)
		assert.Equal(t, "Slave_Pos", st.UsingGTID, "RESET SLAVE did not run")
	})

	t.Run("replace-row refused by read_only", func(t *testing.T) {
		p := startPair(t)
		p.break1062(t, "lab.t", 10)
		// A fenced standby: read_only, and an account without READ_ONLY
		// ADMIN. The DELETE is refused; the row stays.
		p.B.Exec(t, "SET GLOBAL read_only = 1")
		op := limitedMySQL(t, p.B, "fixer", "SLAVE MONITOR, REPLICATION SLAVE ADMIN, BINLOG ADMIN ON *.*", "SELECT, DELETE ON lab.*")
		r, err := NewRepairer(RepairConfig{Source: p.a, Replica: op, Check: DataCheckConfig{Tables: []string{"lab.t"}}})
		require.NoError(t, err)
		rep, err := r.Repair(ctx, StrategyReplaceRow)
		require.ErrorIs(t, err, ErrReadOnly)
		assert.Contains(t, err.Error(), "DELETE FROM `lab`.`t`")
		out := rep.String()
		t.Log(out)
		assert.Nil(t, rep.Removed, "nothing was removed")
		require.NotNil(t, rep.Conflict)
		assert.NotContains(t, out, "removed from the replica")
		assert.NotContains(t, out, "map[")
		assert.Contains(t, out, "conflicting row on the replica, lab.t, left in place:\n    id  v\n    10  replica-local\n")
		assert.Contains(t, out, "failed: replicate: "+p.B.Addr+": DELETE FROM")
		assert.Equal(t, []string{"SET SESSION sql_log_bin = 0"}, rep.Statements)
		assert.Equal(t, "replica-local", p.rows(t, p.B, "lab.t")[10], "the row is still there")
		assert.Empty(t, rep.Restored, "nothing to restore: the SQL thread was stopped and stays so")
		assert.Equal(t, 1062, rep.After.SQLError.Errno)
	})
}

// TestSkipFilePosSettles skips a 1062 in file/position mode several
// times: START SLAVE restarts the IO thread (Preparing, Connecting) while
// the SQL thread has already applied everything, and the settle step
// must wait for the IO thread before judging.
func TestSkipFilePosSettles(t *testing.T) {
	p := startPair(t, mariadb.FilePos())
	ctx := context.Background()
	r, err := NewRepairer(RepairConfig{Source: p.a, Replica: p.b, Check: DataCheckConfig{Tables: []string{"lab.t"}}})
	require.NoError(t, err)
	for i := range 4 {
		id := 10 + 10*i
		p.break1062(t, "lab.t", id)
		rep, err := r.Repair(ctx, StrategySkip)
		require.NoError(t, err, "round %d", i)
		assert.True(t, rep.Resumed, "round %d: %s", i, rep)
		assert.True(t, rep.After.Running(), "round %d: %s", i, statusLine(rep.After))
		assert.Equal(t, []string{"STOP SLAVE", "SET GLOBAL sql_slave_skip_counter = 1", "START SLAVE"}, rep.Statements)
		assert.False(t, rep.Converged, "a skip diverges")
		// Put B's copy right, unlogged, for the next round.
		p.B.Exec(t, fmt.Sprintf("SET sql_log_bin=0; DELETE FROM lab.t WHERE id IN (%d, %d); INSERT INTO lab.t VALUES (%d,'from-master'), (%d,'after'); SET sql_log_bin=1", id, id+1, id, id+1))
	}
}

func TestSettled(t *testing.T) {
	tests := []struct {
		name string
		s    MySQLStatus
		want bool
	}{
		{"running", MySQLStatus{IORunning: ThreadYes, SQLRunning: true}, true},
		{"IO preparing", MySQLStatus{IORunning: ThreadPreparing, SQLRunning: true}, false},
		{"IO connecting", MySQLStatus{IORunning: ThreadConnecting, SQLRunning: true}, false},
		{"IO connecting on an error", MySQLStatus{IORunning: ThreadConnecting, SQLRunning: true, IOError: ReplError{Errno: 2003}}, true},
		{"SQL stopped on an error, IO preparing", MySQLStatus{IORunning: ThreadPreparing, SQLError: ReplError{Errno: 1062}}, false},
		{"SQL stopped on an error", MySQLStatus{IORunning: ThreadYes, SQLError: ReplError{Errno: 1062}}, true},
		{"stopped", MySQLStatus{IORunning: ThreadNo}, true},
		{"SQL stopped on purpose", MySQLStatus{IORunning: ThreadYes}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, tt.s.Settled()) })
	}
}
