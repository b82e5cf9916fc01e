package health

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/understudy-ha/understudy/internal/mysqlconn"
)

// DefaultMySQLTimeout bounds a MySQL check when MySQLConfig.Timeout is
// zero.
const DefaultMySQLTimeout = 5 * time.Second

// DefaultMySQLQuery is the query a MySQL check runs when
// MySQLConfig.Query is empty.
const DefaultMySQLQuery = "SELECT 1"

// MySQL error numbers that prove the server is running.
const (
	mysqlTooManyConnections = 1040 // ER_CON_COUNT_ERROR
	mysqlAccessDenied       = 1045 // ER_ACCESS_DENIED_ERROR
)

// MySQLConfig configures a [MySQL] check of a MySQL or MariaDB server.
// The zero value of each field means its documented default.
type MySQLConfig struct {
	// Address is host:port of the server (required; port 3306 when
	// omitted).
	Address string
	// User logs in (required).
	User string
	// Password is User's password. The daemon reads it from a file; it
	// never appears in errors or logs.
	Password string
	// Database is selected at login (default: none).
	Database string
	// Query is run and one row of it read (default DefaultMySQLQuery).
	Query string
	// Timeout bounds the check: connect, login, query
	// (default DefaultMySQLTimeout).
	Timeout time.Duration
	// TLS is the driver's tls setting: "" or "false" (no TLS), "true"
	// (TLS, verified), "skip-verify" (TLS, any certificate: dangerous),
	// "preferred" (TLS when offered, unverified), or the name of a
	// configuration registered with mysql.RegisterTLSConfig before
	// NewMySQL (an unknown name makes NewMySQL fail).
	TLS string
	// TLSConfig, when set, is used instead of TLS.
	TLSConfig *tls.Config
	// Dial makes the connection (default: net.Dialer.DialContext).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives the driver's own messages at Debug level (default:
	// discarded). The driver's global logger is never used.
	Logger *slog.Logger
}

// Validate reports whether the configuration can be used.
func (c MySQLConfig) Validate() error {
	if c.Address == "" {
		return errors.New("health: mysql: no address")
	}
	if c.User == "" {
		return errors.New("health: mysql: no user")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("health: mysql timeout %v is negative", c.Timeout)
	}
	return nil
}

// MySQL logs in to a MySQL or MariaDB server, runs a query and reads one
// row. Each check opens its own connection and closes it: there is no
// pool, so a check always proves that a new client can log in, and a
// server restart never leaves a stale connection behind. The connection is
// made by the driver's connector directly, not through database/sql,
// whose retries on driver.ErrBadConn would hide failures from the
// Policy's counters. Safe for concurrent use.
//
// "Too many connections" (1040) and "access denied" (1045) prove the
// server is alive: they are returned wrapping [ErrDegraded].
type MySQL struct {
	cfg       MySQLConfig
	query     string
	connector driver.Connector
}

var _ Checker = (*MySQL)(nil)

// NewMySQL validates cfg and returns the check. It makes no connection.
func NewMySQL(cfg MySQLConfig) (*MySQL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The connection is bounded by Check's context, not by a dial timeout.
	connector, err := mysqlconn.NewConnector(mysqlconn.Config{
		Address: cfg.Address, User: cfg.User, Password: cfg.Password, Database: cfg.Database,
		TLS: cfg.TLS, TLSConfig: cfg.TLSConfig, Dial: cfg.Dial,
		Logger: driverLogger{log: cfg.Logger, target: cfg.Address},
	})
	if err != nil {
		return nil, fmt.Errorf("health: mysql %s: %w", cfg.Address, err)
	}
	m := &MySQL{cfg: cfg, query: cfg.Query, connector: connector}
	if m.query == "" {
		m.query = DefaultMySQLQuery
	}
	return m, nil
}

// Check connects, logs in, runs Query and reads one row. It returns nil
// when healthy and a *[Error] otherwise; see [MySQL] for degraded
// answers.
func (m *MySQL) Check(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, m.cfg.Timeout, DefaultMySQLTimeout)
	defer cancel()
	if err := m.check(ctx); err != nil {
		return &Error{Kind: "mysql", Target: m.cfg.Address, Err: redact(withCtxErr(ctx, err), m.cfg.Password)}
	}
	return nil
}

func (m *MySQL) check(ctx context.Context) error {
	conn, err := m.connector.Connect(ctx)
	if err != nil {
		return classifyMySQL("connect", err)
	}
	defer conn.Close()
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return errors.New("driver connection cannot run queries") // not with go-sql-driver
	}
	rows, err := q.QueryContext(ctx, m.query, nil)
	if err != nil {
		return classifyMySQL("query", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	switch err := rows.Next(dest); {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("query %q returned no rows", m.query)
	case err != nil:
		return classifyMySQL("read row", err)
	}
	return nil
}

// classifyMySQL wraps err, marking the server errors that prove it alive
// as degraded.
func classifyMySQL(op string, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == mysqlTooManyConnections || me.Number == mysqlAccessDenied) {
		return fmt.Errorf("%s: %w: %w", op, ErrDegraded, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// redact hides secret in err's text while keeping err's chain for
// errors.Is and errors.As. Belt and braces: the driver is not known to
// echo the password.
func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return redactedError{err: err, secret: secret}
}

type redactedError struct {
	err    error
	secret string
}

func (r redactedError) Error() string {
	return strings.ReplaceAll(r.err.Error(), r.secret, "[password]")
}
func (r redactedError) Unwrap() error { return r.err }

// driverLogger sends the driver's messages to slog at Debug, or nowhere.
type driverLogger struct {
	log    *slog.Logger
	target string
}

func (l driverLogger) Print(v ...any) {
	if l.log != nil {
		l.log.Debug("mysql driver: "+fmt.Sprint(v...), "check", "mysql", "target", l.target)
	}
}
