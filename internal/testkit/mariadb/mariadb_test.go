package mariadb_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

func TestStartExecStop(t *testing.T) {
	s := mariadb.Start(t, mariadb.ServerID(7), mariadb.Set("gtid_domain_id", "3"), mariadb.Set("log_bin", "mysql-bin"))

	s.Exec(t, "CREATE DATABASE h; CREATE TABLE h.t (id INT PRIMARY KEY); INSERT INTO h.t VALUES (42)")

	db := s.DB(t)
	ctx := context.Background()
	var id, serverID, domain, port int
	var logBin string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT id FROM h.t").Scan(&id))
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@server_id, @@gtid_domain_id, @@port, @@log_bin").Scan(&serverID, &domain, &port, &logBin))
	assert.Equal(t, 42, id)
	assert.Equal(t, 7, serverID, "ServerID option")
	assert.Equal(t, 3, domain, "Set option")
	assert.Equal(t, s.Port, port)
	assert.Equal(t, "1", logBin)
	require.NoError(t, db.Close())

	s.Stop(t)
	select {
	case <-s.Exited():
	default:
		t.Fatal("Stop returned before mariadbd exited")
	}
	// The PID is reaped: signal 0 must fail.
	err := syscall.Kill(s.PID, 0)
	assert.True(t, errors.Is(err, syscall.ESRCH), "pid %d still exists: %v", s.PID, err)
	s.Stop(t) // idempotent
}

func TestStartTwo(t *testing.T) {
	a := mariadb.Start(t, mariadb.Name("a"), mariadb.ServerID(1))
	b := mariadb.Start(t, mariadb.Name("b"), mariadb.ServerID(2))
	require.NotEqual(t, a.Addr, b.Addr)
	for want, s := range []*mariadb.Server{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var id int
		require.NoError(t, s.DB(t).QueryRowContext(ctx, "SELECT @@server_id").Scan(&id))
		cancel()
		assert.Equal(t, want+1, id, "server %s", s.Addr)
	}
}

func TestStartPair(t *testing.T) {
	p := mariadb.StartPair(t)
	p.A.Exec(t, "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO lab.t VALUES (1,'a')")
	// B can write into the table once the CREATE has replicated to it.
	bdb := p.B.DB(t)
	testenv.Eventually(t, 10*time.Second, "lab.t replicated to B", func() bool {
		var n int
		return bdb.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='lab' AND table_name='t'").Scan(&n) == nil && n == 1
	})
	p.B.Exec(t, "INSERT INTO lab.t VALUES (2,'b')")
	// Each side sees the other's row once replication has applied it.
	for _, s := range []*mariadb.Server{p.A, p.B} {
		db := s.DB(t)
		testenv.Eventually(t, 10*time.Second, s.Addr+" sees both rows", func() bool {
			var n int
			return db.QueryRow("SELECT COUNT(*) FROM lab.t").Scan(&n) == nil && n == 2
		})
	}
	var domain int
	require.NoError(t, p.B.DB(t).QueryRow("SELECT @@gtid_domain_id").Scan(&domain))
	assert.Equal(t, 2, domain)
}

func TestRestart(t *testing.T) {
	s := mariadb.Start(t)
	s.Exec(t, "CREATE DATABASE r")
	first := s.PID
	s.Restart(t)
	assert.NotEqual(t, first, s.PID)
	s.Exec(t, "CREATE TABLE r.t (id INT)") // the datadir survived
}
