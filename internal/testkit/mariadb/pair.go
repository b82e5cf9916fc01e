package mariadb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Replication account created on both servers of a [Pair].
const (
	ReplUser     = "repl"
	ReplPassword = "replpass"
)

// PairTimeout bounds how long StartPair waits for both directions to
// replicate.
const PairTimeout = 30 * time.Second

// PairOption changes how a [Pair] is set up.
type PairOption func(*pairConfig)

type pairConfig struct {
	binlogFormat string
	gtid         bool
	opts         [2][]Option
}

// BinlogFormat sets binlog_format on both servers (default ROW, as in the
// lab; the server's own default is MIXED).
func BinlogFormat(f string) PairOption { return func(c *pairConfig) { c.binlogFormat = f } }

// FilePos makes the replicas follow binlog file and position instead of
// GTID (MASTER_USE_GTID=slave_pos is the default).
func FilePos() PairOption { return func(c *pairConfig) { c.gtid = false } }

// With adds options to server i (0 for A, 1 for B).
func With(i int, opts ...Option) PairOption {
	return func(c *pairConfig) { c.opts[i] = append(c.opts[i], opts...) }
}

// Pair is two mariadbd replicating master-master, as
// /work/shared/lab/mariadb-master-master.sh sets them up: server-id and
// gtid_domain_id 1 and 2, log_bin, ROW binlogs, log_slave_updates off,
// auto_increment offsets 1 and 2, replication user created with
// sql_log_bin=0 on both, each replicating from the other.
type Pair struct {
	// A (server-id 1) and B (server-id 2).
	A, B *Server
}

// StartPair starts two servers, joins them master-master and waits until
// the IO and SQL threads run on both.
func StartPair(t testing.TB, opts ...PairOption) *Pair {
	t.Helper()
	cfg := pairConfig{binlogFormat: "ROW", gtid: true}
	for _, o := range opts {
		o(&cfg)
	}
	var servers [2]*Server
	for i := range servers {
		id := i + 1
		base := []Option{
			Name(fmt.Sprintf("node%d", id)), ServerID(id),
			Set("gtid_domain_id", strconv.Itoa(id)),
			Set("log_bin", "mysql-bin"),
			Set("relay_log", "relay-bin"),
			Set("binlog_format", cfg.binlogFormat),
			Set("log_slave_updates", "OFF"),
			Set("auto_increment_increment", "2"),
			Set("auto_increment_offset", strconv.Itoa(id)),
			Set("skip-slave-start", ""),
		}
		servers[i] = Start(t, append(base, cfg.opts[i]...)...)
	}
	p := &Pair{A: servers[0], B: servers[1]}
	for _, s := range servers {
		// sql_log_bin=0: the account is created locally on each side and
		// does not replicate into a conflict.
		s.Exec(t, fmt.Sprintf("SET sql_log_bin=0; CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; "+
			"GRANT REPLICATION SLAVE ON *.* TO '%s'@'127.0.0.1'; SET sql_log_bin=1", ReplUser, ReplPassword, ReplUser))
	}
	for i, s := range servers {
		peer := servers[1-i]
		pos := "MASTER_USE_GTID=slave_pos"
		if !cfg.gtid {
			file, off := peer.MasterStatus(t)
			pos = fmt.Sprintf("MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d", file, off)
		}
		s.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', "+
			"MASTER_PASSWORD='%s', MASTER_CONNECT_RETRY=1, %s; START SLAVE", peer.Port, ReplUser, ReplPassword, pos))
	}
	p.WaitRunning(t)
	return p
}

// MasterStatus returns the server's current binlog file and position.
func (s *Server) MasterStatus(t testing.TB) (string, int64) {
	t.Helper()
	db := s.openRoot()
	defer db.Close()
	rows, err := db.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatalf("mariadb harness: show master status on %s: %v", s.Addr, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("mariadb harness: %s has no binlog (log_bin off?)", s.Addr)
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatalf("mariadb harness: show master status on %s: %v", s.Addr, err)
	}
	pos, err := strconv.ParseInt(string(vals[1]), 10, 64)
	if err != nil {
		t.Fatalf("mariadb harness: show master status on %s: position %q: %v", s.Addr, vals[1], err)
	}
	return string(vals[0]), pos
}

// WaitRunning polls both servers until Slave_IO_Running and
// Slave_SQL_Running are Yes on each, failing after PairTimeout.
func (p *Pair) WaitRunning(t testing.TB) {
	t.Helper()
	for _, s := range []*Server{p.A, p.B} {
		s.WaitReplicating(t)
	}
}

// WaitReplicating polls until both replication threads of s run.
func (s *Server) WaitReplicating(t testing.TB) {
	t.Helper()
	db := s.openRoot()
	defer db.Close()
	deadline := time.Now().Add(PairTimeout)
	var last string
	for {
		io, sqlRunning, errText, err := threads(db)
		if err == nil && io == "Yes" && sqlRunning == "Yes" {
			return
		}
		last = fmt.Sprintf("io=%s sql=%s error=%q (%v)", io, sqlRunning, errText, err)
		if time.Now().After(deadline) {
			t.Fatalf("mariadb harness: replication on %s not running after %v: %s", s.Addr, PairTimeout, last)
		}
		select {
		case <-s.Exited():
			t.Fatalf("mariadb harness: %s exited while waiting for replication: %s", s.Addr, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// threads reads the two thread states and the last error of the default
// connection.
func threads(db *sql.DB) (io, sqlRunning, lastErr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return "", "", "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", "", "", err
	}
	if !rows.Next() {
		return "", "", "", fmt.Errorf("no replica configured")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", "", "", err
	}
	var errs []string
	for i, c := range cols {
		switch c {
		case "Slave_IO_Running":
			io = vals[i].String
		case "Slave_SQL_Running":
			sqlRunning = vals[i].String
		case "Last_IO_Error", "Last_SQL_Error":
			if vals[i].String != "" {
				errs = append(errs, vals[i].String)
			}
		}
	}
	return io, sqlRunning, strings.Join(errs, "; "), nil
}
