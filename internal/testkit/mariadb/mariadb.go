// Package mariadb starts a real, throw-away MariaDB server for tests: its
// own datadir in t.TempDir(), listening on 127.0.0.1 on a free port, root
// without a password (test use only), stopped and waited for by
// t.Cleanup.
//
// Options add [mariadbd] settings, so a later harness can start two
// servers with different server-id, gtid_domain_id and log_bin and join
// them master-master (see /work/shared/lab/mariadb-master-master.sh).
package mariadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/internal/servers/proc"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// ReadyTimeout bounds how long Start waits for the server to answer.
const ReadyTimeout = 60 * time.Second

// StopTimeout is how long Stop waits after SIGTERM before SIGKILL. A
// clean shutdown took about 1.6 s on the lab machine.
const StopTimeout = 30 * time.Second

// bindAttempts is how often Start retries with a new port when another
// process took the free port between picking and binding it.
const bindAttempts = 3

// Option changes how a server is configured.
type Option func(*config)

type config struct {
	name     string
	serverID int
	settings []setting
}

type setting struct{ key, value string }

// Name names the server's subdirectory and log lines ("db" by default),
// useful when a test starts more than one.
func Name(name string) Option { return func(c *config) { c.name = name } }

// ServerID sets server-id (default 1).
func ServerID(id int) Option { return func(c *config) { c.serverID = id } }

// Set adds "key = value" to the [mariadbd] section; an empty value writes
// the bare key (for switches such as skip-slave-start). Later settings win
// over earlier ones and over the harness defaults, as in any my.cnf.
// Examples: Set("log_bin", "mysql-bin"), Set("gtid_domain_id", "2").
func Set(key, value string) Option {
	return func(c *config) { c.settings = append(c.settings, setting{key, value}) }
}

// Server is one running mariadbd.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// Port is the TCP port of Addr.
	Port int
	// Dir holds the datadir, the cnf file and the logs.
	Dir string
	// Socket is the server's unix socket.
	Socket string
	// CnfPath is the defaults file, usable with the mariadb client as
	// --defaults-file.
	CnfPath string
	// PID is mariadbd's process id.
	PID int

	mariadbd string
	mu       sync.Mutex    // guards proc across Restart
	proc     *proc.Process // the current run; Restart makes a new one
}

// Start runs mariadb-install-db and mariadbd and waits until the server
// answers as root over TCP. It needs the Debian package mariadb-server
// (skips, or fails in CI, without it).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	mariadbd := testenv.Require(t, "mariadbd", "mariadb-server")
	installDB := testenv.Require(t, "mariadb-install-db", "mariadb-server")

	cfg := config{name: "db", serverID: 1}
	for _, o := range opts {
		o(&cfg)
	}
	dir := filepath.Join(t.TempDir(), cfg.name)
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatalf("mariadb harness: %v", err)
	}
	// A unix socket path is limited to 108 bytes; t.TempDir() paths with
	// long test names can exceed it, so the socket gets a short directory.
	sockDir, err := os.MkdirTemp("", "mdb")
	if err != nil {
		t.Fatalf("mariadb harness: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })

	var lastErr error
	for attempt := 0; attempt < bindAttempts; attempt++ {
		port, err := proc.FreePort()
		if err != nil {
			t.Fatalf("mariadb harness: pick a port: %v", err)
		}
		s := &Server{
			Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port:    port,
			Dir:     dir,
			Socket:  filepath.Join(sockDir, "mysqld.sock"),
			CnfPath: filepath.Join(dir, "my.cnf"),
		}
		if err := os.WriteFile(s.CnfPath, []byte(s.cnf(cfg)), 0o644); err != nil {
			t.Fatalf("mariadb harness: %v", err)
		}
		if attempt == 0 {
			s.installDB(t, installDB)
		}
		err = s.start(t, mariadbd)
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errBind) {
			break
		}
	}
	t.Fatalf("mariadb harness: %v", lastErr)
	return nil
}

// errBind marks a start that failed because the port was taken.
var errBind = errors.New("port already in use")

func (s *Server) cnf(cfg config) string {
	runAs := "root"
	if os.Geteuid() != 0 {
		if u, err := user.Current(); err == nil {
			runAs = u.Username
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[client]\nsocket = %s\nuser = root\nport = %d\nhost = 127.0.0.1\n\n", s.Socket, s.Port)
	fmt.Fprintf(&b, "[mariadbd]\n")
	// As root, mariadbd refuses to start without user=root.
	fmt.Fprintf(&b, "user = %s\n", runAs)
	fmt.Fprintf(&b, "datadir = %s\n", filepath.Join(s.Dir, "data"))
	fmt.Fprintf(&b, "socket = %s\n", s.Socket)
	fmt.Fprintf(&b, "pid-file = %s\n", filepath.Join(s.Dir, "mariadbd.pid"))
	fmt.Fprintf(&b, "log-error = %s\n", s.errLog())
	// A private tmpdir: with the shared /tmp, concurrent bootstraps were
	// seen to lose their temporary tables ("Unknown table
	// 'mysql.tmp_proxies_priv'").
	fmt.Fprintf(&b, "tmpdir = %s\n", filepath.Join(s.Dir, "tmp"))
	fmt.Fprintf(&b, "port = %d\n", s.Port)
	fmt.Fprintf(&b, "bind-address = 127.0.0.1\n")
	fmt.Fprintf(&b, "skip-name-resolve\n")
	fmt.Fprintf(&b, "server-id = %d\n", cfg.serverID)
	fmt.Fprintf(&b, "innodb_buffer_pool_size = 64M\n")
	fmt.Fprintf(&b, "innodb_log_file_size = 16M\n")
	for _, st := range cfg.settings {
		if st.value == "" {
			fmt.Fprintf(&b, "%s\n", st.key)
		} else {
			fmt.Fprintf(&b, "%s = %s\n", st.key, st.value)
		}
	}
	return b.String()
}

func (s *Server) errLog() string { return filepath.Join(s.Dir, "mariadbd.err") }

func (s *Server) installDB(t testing.TB, installDB string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// --auth-root-authentication-method=normal: root@localhost and
	// root@127.0.0.1 with an empty password (test use only).
	_, err := cmdrun.Exec{}.Run(ctx, cmdrun.Cmd{
		Path: installDB,
		Args: []string{"--defaults-file=" + s.CnfPath, "--auth-root-authentication-method=normal",
			"--skip-test-db", "--skip-name-resolve"},
	})
	if err != nil {
		t.Fatalf("mariadb harness: install-db: %v\nerror log:\n%s", err, s.logTail())
	}
}

// start runs mariadbd and polls until it answers.
func (s *Server) start(t testing.TB, mariadbd string) error {
	t.Helper()
	out, err := os.OpenFile(filepath.Join(s.Dir, "mariadbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	p, err := proc.Start(out, mariadbd, "--defaults-file="+s.CnfPath)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.mariadbd = mariadbd
	s.proc = p
	s.PID = p.PID()
	s.mu.Unlock()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("mariadb harness: %v", err)
		}
	})

	db := s.openRoot()
	defer db.Close()
	deadline := time.Now().Add(ReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.Exited():
			log := s.logTail()
			if strings.Contains(log, "Bind on TCP/IP port") || strings.Contains(log, "Address already in use") {
				return fmt.Errorf("mariadbd on %s: %w", s.Addr, errBind)
			}
			return fmt.Errorf("mariadbd on %s exited before answering (%v); log:\n%s", s.Addr, p.State(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd on %s not answering after %v: %v; log:\n%s", s.Addr, ReadyTimeout, err, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.errLog())
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Stop sends SIGTERM and waits for mariadbd to exit (SIGKILL after
// StopTimeout). It is idempotent and is also run by t.Cleanup.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("mariadb harness: %v", err)
	}
}

func (s *Server) stop() error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if err := p.Stop(StopTimeout); err != nil {
		return fmt.Errorf("mariadbd: %w", err)
	}
	return nil
}

// Restart starts mariadbd again on the same datadir and port after Stop
// (for tests that take a server down and bring it back), and waits until
// it answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.mu.Lock()
	mariadbd := s.mariadbd
	s.mu.Unlock()
	if err := s.start(t, mariadbd); err != nil {
		t.Fatalf("mariadb harness: restart: %v", err)
	}
}

// Exited is closed once the current mariadbd process has exited.
func (s *Server) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.Exited()
}

// RootConfig returns a driver configuration for root over TCP (no
// password). Callers may change the copy they get.
func (s *Server) RootConfig() *mysql.Config {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = s.Addr
	c.MultiStatements = true
	c.Timeout = 5 * time.Second
	c.Logger = &mysql.NopLogger{}
	return c
}

// RootDSN returns a DSN for root over TCP, for code that takes a DSN
// string.
func (s *Server) RootDSN() string { return s.RootConfig().FormatDSN() }

func (s *Server) openRoot() *sql.DB {
	conn, err := mysql.NewConnector(s.RootConfig())
	if err != nil {
		panic(err) // a static, valid configuration
	}
	return sql.OpenDB(conn)
}

// DB opens a root connection pool, closed by t.Cleanup.
func (s *Server) DB(t testing.TB) *sql.DB {
	t.Helper()
	db := s.openRoot()
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs SQL (several statements allowed) as root and fails the test
// on error.
func (s *Server) Exec(t testing.TB, query string) {
	t.Helper()
	db := s.openRoot()
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, query); err != nil {
		t.Fatalf("mariadb harness: exec %q on %s: %v", query, s.Addr, err)
	}
}
