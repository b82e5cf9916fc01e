package replicate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
)

// pair is a master-master pair with a replicate.MySQL for each side.
type pair struct {
	*mariadb.Pair
	a, b *MySQL
}

// startPair starts two real mariadbd replicating master-master and
// creates lab.t on both (through replication).
func startPair(t *testing.T, opts ...mariadb.PairOption) *pair {
	t.Helper()
	p := &pair{Pair: mariadb.StartPair(t, opts...)}
	p.a = rootMySQL(t, p.A)
	p.b = rootMySQL(t, p.B)
	p.A.Exec(t, "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(40))")
	p.waitCaughtUp(t, p.A, p.B)
	return p
}

func rootMySQL(t *testing.T, s *mariadb.Server) *MySQL {
	t.Helper()
	m, err := NewMySQL(MySQLConfig{Address: s.Addr, User: "root"})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// waitCaughtUp waits until replica has executed everything source has
// written to its binlog so far.
func (p *pair) waitCaughtUp(t *testing.T, source, replica *mariadb.Server) {
	t.Helper()
	file, pos := source.MasterStatus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r *int64
	err := replica.DB(t).QueryRowContext(ctx, "SELECT MASTER_POS_WAIT(?, ?, 15)", file, pos).Scan(&r)
	require.NoError(t, err)
	require.NotNil(t, r, "SQL thread of %s not running", replica.Addr)
	require.GreaterOrEqual(t, *r, int64(0), "%s did not catch up with %s:%d", replica.Addr, file, pos)
}

// break1062 breaks B's replica exactly as the article's users do: a row
// written on B only (sql_log_bin=0), then the same key on A.
func (p *pair) break1062(t *testing.T, table string, id int) {
	t.Helper()
	p.B.Exec(t, fmt.Sprintf("SET sql_log_bin=0; INSERT INTO %s VALUES (%d,'replica-local'); SET sql_log_bin=1", table, id))
	p.A.Exec(t, fmt.Sprintf("INSERT INTO %s VALUES (%d,'from-master'), (%d,'after')", table, id, id+1))
	p.waitStatus(t, p.b, func(s MySQLStatus) bool { return !s.SQLRunning && s.SQLError.Errno != 0 })
}

// waitStatus polls m until cond holds, failing after a deadline.
func (p *pair) waitStatus(t *testing.T, m *MySQL, cond func(MySQLStatus) bool) MySQLStatus {
	t.Helper()
	return waitStatus(t, m, cond)
}

func waitStatus(t *testing.T, m *MySQL, cond func(MySQLStatus) bool) MySQLStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := m.ReplicaStatus(context.Background())
		if err == nil && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not reached; last status %+v (err %v)", m.Name(), s, err)
		}
		<-tick.C
	}
}

func (p *pair) rows(t *testing.T, s *mariadb.Server, table string) map[int]string {
	t.Helper()
	rows, err := s.DB(t).Query("SELECT id, v FROM " + table)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var id int
		var v string
		require.NoError(t, rows.Scan(&id, &v))
		out[id] = v
	}
	require.NoError(t, rows.Err())
	return out
}
