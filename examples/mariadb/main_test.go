package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
	"github.com/understudy-ha/understudy/internal/testkit/smtpsink"
	"github.com/understudy-ha/understudy/replicate"
)

// TestArticle watches a real master-master pair, breaks it with the
// article's 1062 the way the lab did (a row written on the slave with
// sql_log_bin=0, then the same key on the master), and repairs it with
// -repair replace-row.
func TestArticle(t *testing.T) {
	p := mariadb.StartPair(t)
	p.A.Exec(t, "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(40))")
	caughtUp(t, p.A, p.B)
	p.B.Exec(t, "INSERT INTO lab.t VALUES (2,'node2')") // a normal master-master write
	caughtUp(t, p.B, p.A)

	relay := startSMTP(t)
	var out bytes.Buffer
	w, err := newWatcher(setup{Source: p.A.Addr, Replica: p.B.Addr, User: "root", Tables: []string{"lab.t"},
		MaxLag: 30 * time.Second, SMTP: relay.addr, Admin: "admin@my.com"}, &out, nil)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	ctx := t.Context()

	// Healthy: looks send nothing and print nothing.
	w.look(ctx)
	w.look(ctx)
	assert.Empty(t, relay.received(), "alert while replication runs")
	assert.Empty(t, out.String())

	// The article's break: Last_SQL_Errno 1062 on the slave.
	p.B.Exec(t, "SET sql_log_bin=0; INSERT INTO lab.t VALUES (10,'replica-local'); SET sql_log_bin=1")
	p.A.Exec(t, "INSERT INTO lab.t VALUES (10,'from-master'), (11,'after')")
	waitBroken(t, w.rep)

	w.look(ctx)
	w.look(ctx) // still broken: no second mail
	msgs := relay.received()
	require.Len(t, msgs, 1, "exactly one alert")
	assert.Equal(t, []string{"admin@my.com"}, msgs[0].To)
	assert.Equal(t, string(failover.EventCheckDown), msgs[0].Header.Get("X-Understudy-Event"))
	assert.Contains(t, msgs[0].Body, "error 1062 (duplicate_key)")
	assert.Contains(t, msgs[0].Body, p.B.Addr, "the alert names the replica")
	// The explanation: what broke, which rows differ, the choices.
	for _, want := range []string{"error 1062 (duplicate_key)", "lab.t", "replace-row", "reseed", "skip", "restart"} {
		assert.Contains(t, out.String(), want)
	}

	// -repair replace-row: the master's row wins, the copies converge.
	rep, err := w.repair(ctx, "replace-row")
	require.NoError(t, err)
	assert.True(t, rep.Converged, rep.String())
	assert.True(t, rep.Data.Equal(), rep.Data.String())
	require.NotNil(t, rep.Removed, "the deleted row is reported")
	v, _ := rep.Removed.Value("v")
	assert.Equal(t, "replica-local", v, "the deleted row is reported")
	want := map[int]string{2: "node2", 10: "from-master", 11: "after"}
	assert.Equal(t, want, rows(t, p.A))
	assert.Equal(t, want, rows(t, p.B))
	data, err := replicate.CompareTables(ctx, w.src, w.rep, w.check)
	require.NoError(t, err)
	assert.True(t, data.Equal(), data.String())

	// Fit again: no new alert, and a new break would alert again.
	w.look(ctx)
	assert.Len(t, relay.received(), 1)
	assert.True(t, w.wasOK)

	t.Run("unknown repair refused", func(t *testing.T) {
		_, err := w.repair(ctx, "idempotent")
		assert.Error(t, err)
	})
}

// caughtUp waits until replica has executed everything source has
// written to its binlog so far.
func caughtUp(t *testing.T, source, replica *mariadb.Server) {
	t.Helper()
	file, pos := source.MasterStatus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r *int64
	require.NoError(t, replica.DB(t).QueryRowContext(ctx, "SELECT MASTER_POS_WAIT(?, ?, 15)", file, pos).Scan(&r))
	require.NotNil(t, r, "SQL thread of %s not running", replica.Addr)
	require.GreaterOrEqual(t, *r, int64(0), "%s did not catch up with %s:%d", replica.Addr, file, pos)
}

// waitBroken polls until the SQL thread of m has stopped on an error.
func waitBroken(t *testing.T, m *replicate.MySQL) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := m.ReplicaStatus(t.Context())
		if err == nil && !s.SQLRunning && s.SQLError.Errno != 0 {
			require.Equal(t, 1062, s.SQLError.Errno, s.Err())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication of %s not broken: %+v (%v)", m.Name(), s, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func rows(t *testing.T, s *mariadb.Server) map[int]string {
	t.Helper()
	r, err := s.DB(t).Query("SELECT id, v FROM lab.t")
	require.NoError(t, err)
	defer r.Close()
	out := map[int]string{}
	for r.Next() {
		var id int
		var v string
		require.NoError(t, r.Scan(&id, &v))
		out[id] = v
	}
	require.NoError(t, r.Err())
	return out
}

// smtpServer is the relay the article mails through: a real SMTP server
// on loopback (internal/testkit/smtpsink) that records what it receives.
type smtpServer struct {
	*smtpsink.Sink
	addr string
}

func startSMTP(t *testing.T) *smtpServer {
	s := smtpsink.Start(t)
	return &smtpServer{Sink: s, addr: s.Addr}
}

func (s *smtpServer) received() []smtpsink.Message { return s.Messages() }
