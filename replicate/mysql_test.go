package replicate

import (
	"context"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMySQLStatusReal(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()

	st, err := p.b.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Running)
	assert.GreaterOrEqual(t, st.Lag, time.Duration(0))
	ms := st.Detail.(MySQLStatus)
	assert.Equal(t, "Slave_Pos", ms.UsingGTID)
	assert.Equal(t, p.A.Port, ms.SourcePort)
	assert.True(t, ms.Vars.MariaDB)
	assert.Equal(t, "ROW", ms.Vars.BinlogFormat)
	assert.NotEmpty(t, ms.Vars.GTIDSlavePos)
	require.NoError(t, NewChecker(p.b, 10*time.Second).Check(ctx))

	t.Run("1062 as in the article", func(t *testing.T) {
		p.break1062(t, "lab.t", 10)
		ms, err := p.b.ReplicaStatus(ctx)
		require.NoError(t, err)
		assert.Equal(t, ThreadYes, ms.IORunning)
		assert.False(t, ms.SQLRunning)
		assert.Equal(t, 1062, ms.SQLError.Errno)
		assert.Equal(t, ClassDuplicateKey, ms.SQLError.Class)
		assert.Contains(t, ms.SQLError.Message, "Duplicate entry '10' for key 'PRIMARY'")
		assert.Equal(t, time.Duration(-1), ms.Lag)
		err = NewChecker(p.b, 10*time.Second).Check(ctx)
		require.ErrorIs(t, err, ErrNotRunning)
		assert.Contains(t, err.Error(), p.B.Addr)
		t.Log(ms.SQLError.Message)
	})
}

func readOnly(t *testing.T, m *MySQL) bool {
	t.Helper()
	var v int
	require.NoError(t, m.db.QueryRow("SELECT @@read_only").Scan(&v))
	return v == 1
}

// TestMySQLStates walks one real pair through the states a watcher must
// tell apart: lag under load, stopped, no privileges, source down.
func TestMySQLStates(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	checker := NewChecker(p.b, 30*time.Second)
	p.A.Exec(t, "INSERT INTO lab.t VALUES (1,'seed')")
	p.waitCaughtUp(t, p.A, p.B)

	t.Run("lag under load", func(t *testing.T) {
		// The SQL thread of B blocks on a row lock held here while A
		// writes events stamped two minutes ago (SET TIMESTAMP), so
		// Seconds_Behind_Master is large at once, without waiting.
		conn, err := p.b.db.Conn(ctx)
		require.NoError(t, err)
		defer func() {
			conn.ExecContext(ctx, "ROLLBACK") // never back to the pool holding the lock
			conn.Close()
		}()
		_, err = conn.ExecContext(ctx, "BEGIN")
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "SELECT * FROM lab.t WHERE id = 1 FOR UPDATE")
		require.NoError(t, err)
		p.A.Exec(t, "SET TIMESTAMP = UNIX_TIMESTAMP() - 120; UPDATE lab.t SET v = 'busy' WHERE id = 1; "+
			"INSERT INTO lab.t SELECT seq, 'load' FROM lab.seq_100_to_599; SET TIMESTAMP = DEFAULT")
		st := waitStatus(t, p.b, func(s MySQLStatus) bool { return s.Lag >= time.Minute })
		assert.True(t, st.Running(), "lagging, not broken")
		err = checker.Check(ctx)
		require.ErrorIs(t, err, ErrLagging)
		assert.Contains(t, err.Error(), p.B.Addr)

		_, err = conn.ExecContext(ctx, "ROLLBACK")
		require.NoError(t, err)
		p.waitCaughtUp(t, p.A, p.B)
		waitStatus(t, p.b, func(s MySQLStatus) bool { return s.Lag == 0 })
		require.NoError(t, checker.Check(ctx))
	})

	t.Run("data check in chunks", func(t *testing.T) {
		// 501 rows; two drift on B, unlogged.
		p.B.Exec(t, "SET sql_log_bin=0; UPDATE lab.t SET v='drift' WHERE id=300; DELETE FROM lab.t WHERE id=450; "+
			"INSERT INTO lab.t VALUES (9999,'only-b'); SET sql_log_bin=1")
		rep, err := CompareTables(ctx, p.a, p.b, DataCheckConfig{Tables: []string{"lab"}, ChunkRows: 50})
		require.NoError(t, err)
		require.Len(t, rep.Tables, 1)
		tr := rep.Tables[0]
		assert.False(t, tr.Equal)
		assert.Len(t, tr.Chunks, 3, "%+v", tr.Chunks)
		assert.Equal(t, []RowDiff{{Key: "300", KeyValues: []string{"300"}, OnSource: true, OnReplica: true}, {Key: "450", KeyValues: []string{"450"}, OnSource: true}, {Key: "9999", KeyValues: []string{"9999"}, OnReplica: true}}, tr.Rows)
		assert.Equal(t, []string{"lab.t"}, rep.Differing())

		p.B.Exec(t, "SET sql_log_bin=0; UPDATE lab.t SET v='load' WHERE id=300; INSERT INTO lab.t VALUES (450,'load'); "+
			"DELETE FROM lab.t WHERE id=9999; SET sql_log_bin=1")
		rep, err = CompareTables(ctx, p.a, p.b, DataCheckConfig{Tables: []string{"lab.t", "lab.missing"}})
		require.NoError(t, err)
		assert.True(t, rep.Tables[0].Equal)
		assert.False(t, rep.Tables[1].Equal)
		assert.Equal(t, "table missing on both servers", rep.Tables[1].Note)

		// A schema with no table anywhere compared nothing: not equal.
		rep, err = CompareTables(ctx, p.a, p.b, DataCheckConfig{Tables: []string{"lab.t", "no_such_schema"}})
		require.NoError(t, err)
		assert.False(t, rep.Equal(), "%+v", rep.Tables)
		assert.Equal(t, []string{"no_such_schema"}, rep.Differing())
	})

	t.Run("replica stopped", func(t *testing.T) {
		p.B.Exec(t, "STOP SLAVE")
		st, err := p.b.ReplicaStatus(ctx)
		require.NoError(t, err)
		assert.Equal(t, ThreadNo, st.IORunning)
		assert.False(t, st.SQLRunning)
		assert.Zero(t, st.SQLError.Errno)
		assert.Contains(t, st.Err(), "no error reported")
		require.ErrorIs(t, checker.Check(ctx), ErrNotRunning)
		p.B.Exec(t, "START SLAVE")
		p.B.WaitReplicating(t)
		require.NoError(t, checker.Check(ctx))
	})

	t.Run("status without privileges", func(t *testing.T) {
		p.B.Exec(t, "SET sql_log_bin=0; CREATE USER 'watch'@'127.0.0.1' IDENTIFIED BY 'w-secret'; SET sql_log_bin=1")
		m, err := NewMySQL(MySQLConfig{Address: p.B.Addr, User: "watch", Password: "w-secret"})
		require.NoError(t, err)
		defer m.Close()
		_, err = m.Status(ctx)
		require.ErrorIs(t, err, ErrNoPrivilege)
		assert.Contains(t, err.Error(), p.B.Addr)
		assert.NotContains(t, err.Error(), "w-secret")
		require.Error(t, NewChecker(m, time.Minute).Check(ctx))
	})

	t.Run("unknown connection name", func(t *testing.T) {
		m, err := NewMySQL(MySQLConfig{Address: p.B.Addr, User: "root", Connection: "nope"})
		require.NoError(t, err)
		defer m.Close()
		_, err = m.Status(ctx)
		require.ErrorIs(t, err, ErrNotConfigured)
		assert.Contains(t, err.Error(), p.B.Addr)
	})

	t.Run("switch and fence", func(t *testing.T) {
		sw, err := NewMySQLSwitcher(MySQLSwitcherConfig{Servers: map[string]*MySQL{"a": p.a, "b": p.b}, MaxLag: 10 * time.Second})
		require.NoError(t, err)
		require.NoError(t, sw.Switch(ctx, failover.Node{Name: "b"}))
		assert.True(t, readOnly(t, p.a))
		assert.False(t, readOnly(t, p.b))
		require.NoError(t, sw.Switch(ctx, failover.Node{Name: "b"}), "idempotent")

		// B applies nothing more; A writes: B has relay log left.
		p.B.Exec(t, "STOP SLAVE SQL_THREAD")
		p.A.Exec(t, "SET GLOBAL read_only=0; INSERT INTO lab.t VALUES (3,'unapplied'); SET GLOBAL read_only=1")
		waitStatus(t, p.b, func(s MySQLStatus) bool { return !s.Caught() })
		p.B.Exec(t, "SET GLOBAL read_only=1")
		err = sw.Switch(ctx, failover.Node{Name: "b"})
		require.ErrorIs(t, err, ErrBehind)
		assert.True(t, readOnly(t, p.b), "refused: nothing changed")

		forced, err := NewMySQLSwitcher(MySQLSwitcherConfig{Servers: map[string]*MySQL{"a": p.a, "b": p.b}, Force: true})
		require.NoError(t, err)
		require.NoError(t, forced.Switch(ctx, failover.Node{Name: "b"}))
		assert.False(t, readOnly(t, p.b))
		p.B.Exec(t, "START SLAVE SQL_THREAD")
		p.waitCaughtUp(t, p.A, p.B)

		require.NoError(t, sw.Switch(ctx, failover.Node{Name: "a"}))
		assert.False(t, readOnly(t, p.a))
		assert.True(t, readOnly(t, p.b))
		require.Error(t, sw.Switch(ctx, failover.Node{Name: "c"}))
	})

	t.Run("fence refused", func(t *testing.T) {
		// B, the former primary, answers but refuses read_only (the
		// account lacks the privilege): A must not be made writable too.
		watch, err := NewMySQL(MySQLConfig{Address: p.B.Addr, User: "watch", Password: "w-secret"})
		require.NoError(t, err)
		defer watch.Close()
		p.A.Exec(t, "SET GLOBAL read_only=1")
		p.B.Exec(t, "SET GLOBAL read_only=0")
		sw, err := NewMySQLSwitcher(MySQLSwitcherConfig{Servers: map[string]*MySQL{"a": p.a, "b": watch}})
		require.NoError(t, err)
		err = sw.Switch(ctx, failover.Node{Name: "a"})
		require.ErrorIs(t, err, ErrNoPrivilege)
		assert.True(t, readOnly(t, p.a), "target left read-only")
		assert.False(t, readOnly(t, p.b))
		p.A.Exec(t, "SET GLOBAL read_only=0")
		p.B.Exec(t, "SET GLOBAL read_only=1")
	})

	t.Run("source down", func(t *testing.T) {
		p.A.Stop(t)
		st := waitStatus(t, p.b, func(s MySQLStatus) bool { return s.IORunning == ThreadConnecting && s.IOError.Errno != 0 })
		assert.Equal(t, ClassConnection, st.IOError.Class, st.IOError.Message)
		assert.True(t, st.SQLRunning)
		assert.Equal(t, time.Duration(-1), st.Lag)
		require.ErrorIs(t, checker.Check(ctx), ErrNotRunning)

		// The source is gone but B applied all it received: fit.
		sw, err := NewMySQLSwitcher(MySQLSwitcherConfig{Servers: map[string]*MySQL{"a": p.a, "b": p.b}, FenceTimeout: time.Second})
		require.NoError(t, err)
		require.NoError(t, sw.Switch(ctx, failover.Node{Name: "b"}), "former primary unreachable: fencing skipped")
		assert.False(t, readOnly(t, p.b))

		p.A.Restart(t)
		p.B.WaitReplicating(t)
		require.NoError(t, checker.Check(ctx))
	})
}

func TestMySQLNotConfigured(t *testing.T) {
	s := mariadb.Start(t)
	m, err := NewMySQL(MySQLConfig{Address: s.Addr, User: "root"})
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Status(context.Background())
	require.ErrorIs(t, err, ErrNotConfigured)
	assert.Contains(t, err.Error(), s.Addr)
	err = NewChecker(m, time.Minute).Check(context.Background())
	require.ErrorIs(t, err, ErrNotConfigured)
}

func TestMySQLUnreachable(t *testing.T) {
	m, err := NewMySQL(MySQLConfig{Address: "127.0.0.1:1", User: "root", Timeout: time.Second})
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Status(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:1")
}

func TestMySQLConfigValidate(t *testing.T) {
	for _, c := range []MySQLConfig{{}, {Address: "db"}, {Address: "db:3306"}, {Address: "db:3306", User: "u", Timeout: -1}} {
		_, err := NewMySQL(c)
		assert.Error(t, err, "%+v", c)
	}
}
