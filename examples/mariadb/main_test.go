package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/harness/mariadb"
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
	assert.Equal(t, []string{"admin@my.com"}, msgs[0].to)
	assert.Equal(t, string(failover.EventCheckDown), msgs[0].header.Get("X-Understudy-Event"))
	assert.Contains(t, msgs[0].body, "error 1062 (duplicate_key)")
	assert.Contains(t, msgs[0].body, p.B.Addr, "the alert names the replica")
	// The explanation: what broke, which rows differ, the choices.
	for _, want := range []string{"error 1062 (duplicate_key)", "lab.t", "replace-row", "reseed", "skip", "restart"} {
		assert.Contains(t, out.String(), want)
	}

	// -repair replace-row: the master's row wins, the copies converge.
	rep, err := w.repair(ctx, "replace-row")
	require.NoError(t, err)
	assert.True(t, rep.Converged, rep.String())
	assert.True(t, rep.Data.Equal(), rep.Data.String())
	assert.Equal(t, "replica-local", rep.Removed["v"], "the deleted row is reported")
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

// smtpServer is a real SMTP server (go-smtp) on loopback, the article's
// 10.6.6.6, that records what it receives.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	msgs []message
}

type message struct {
	to     []string
	header mail.Header
	body   string // decoded
}

func startSMTP(t *testing.T) *smtpServer {
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv: s}, nil }))
	srv.Domain = "relay.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

func (s *smtpServer) received() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

type session struct {
	srv *smtpServer
	to  []string
}

func (ss *session) Mail(string, *smtp.MailOptions) error { return nil }

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return fmt.Errorf("unparsable message: %w", err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return errors.Join(errors.New("body not quoted-printable"), err)
	}
	ss.srv.mu.Lock()
	ss.srv.msgs = append(ss.srv.msgs, message{to: ss.to, header: m.Header, body: string(body)})
	ss.srv.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.to = nil }
func (ss *session) Logout() error { return nil }
