package replicate

import (
	"context"
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
			assert.Equal(t, "replica-local", rep.Removed["v"])
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
