package replicate

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/understudy-ha/understudy/internal/mysqlconn"
)

// DefaultMySQLTimeout bounds each status read when MySQLConfig.Timeout is
// zero.
const DefaultMySQLTimeout = 5 * time.Second

// MySQLConfig configures a [MySQL] replica. The zero value of each field
// means its documented default.
type MySQLConfig struct {
	// Address is host:port of the replica (required).
	Address string
	// User logs in (required). Reading the status needs SLAVE MONITOR
	// (MariaDB; REPLICATION CLIENT on MySQL); fencing, the data check
	// and each repair need more: see the package documentation and
	// [CheckPrivileges].
	User string
	// Password is User's password; it never appears in errors, logs or
	// argv.
	Password string
	// Connection is the MariaDB connection name or MySQL channel to watch
	// ("" is the default one).
	Connection string
	// Timeout bounds each status read (default DefaultMySQLTimeout).
	Timeout time.Duration
	// TLS is the driver's tls setting ("", "true", "skip-verify",
	// "preferred" or a registered name); TLSConfig, when set, wins.
	TLS       string
	TLSConfig *tls.Config
	// Dial makes connections (default: net.Dialer.DialContext).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives debug messages (default: discarded).
	Logger *slog.Logger
}

// Validate reports whether the configuration can be used.
func (c MySQLConfig) Validate() error {
	if c.Address == "" {
		return errors.New("replicate: mysql: no address")
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("replicate: mysql address %q: %w", c.Address, err)
	}
	if c.User == "" {
		return fmt.Errorf("replicate: mysql %s: no user", c.Address)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("replicate: mysql %s: timeout %v is negative", c.Address, c.Timeout)
	}
	return nil
}

// MySQL is one MySQL or MariaDB server acting as a replica. It is a
// [Replicator]; it also runs the statements of the repairs and failover
// helpers. It holds a small connection pool: Close it. Safe for
// concurrent use.
type MySQL struct {
	cfg MySQLConfig
	db  *sql.DB
	log *slog.Logger
}

var _ Replicator = (*MySQL)(nil)

// NewMySQL validates cfg and returns the replica. It makes no connection.
func NewMySQL(cfg MySQLConfig) (*MySQL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultMySQLTimeout
	}
	connector, err := mysqlconn.NewConnector(mysqlconn.Config{
		Address: cfg.Address, User: cfg.User, Password: cfg.Password,
		TLS: cfg.TLS, TLSConfig: cfg.TLSConfig, Dial: cfg.Dial, Timeout: cfg.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("replicate: mysql %s: %w", cfg.Address, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MySQL{cfg: cfg, db: db, log: log.With("server", cfg.Address)}, nil
}

// Name returns the server's address, as used in errors and reports.
func (m *MySQL) Name() string { return m.cfg.Address }

// Close closes the connection pool.
func (m *MySQL) Close() error { return m.db.Close() }

// Status reports the watched connection as a technology-neutral [Status]
// whose Detail is the [MySQLStatus].
func (m *MySQL) Status(ctx context.Context) (Status, error) {
	s, err := m.ReplicaStatus(ctx)
	if err != nil {
		return Status{}, err
	}
	return s.Neutral(), nil
}

// ReplicaStatus reads the watched connection (MySQLConfig.Connection). A
// server with no such replica configured is an error wrapping
// [ErrNotConfigured]; a refused status query wraps [ErrNoPrivilege] and
// names the statement.
func (m *MySQL) ReplicaStatus(ctx context.Context) (MySQLStatus, error) {
	all, err := m.Channels(ctx)
	if err != nil {
		return MySQLStatus{}, err
	}
	for _, s := range all {
		if strings.EqualFold(s.Connection, m.cfg.Connection) {
			return s, nil
		}
	}
	return MySQLStatus{}, fmt.Errorf("replicate: %s: connection %q: %w", m.cfg.Address, m.cfg.Connection, ErrNotConfigured)
}

// Channels reads every replication connection of the server: SHOW ALL
// SLAVES STATUS on MariaDB, SHOW REPLICA STATUS (SHOW SLAVE STATUS before
// MySQL 8.0.22) on MySQL, with the server-wide variables in each
// status's Vars.
func (m *MySQL) Channels(ctx context.Context) ([]MySQLStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	vars, err := m.serverVars(ctx)
	if err != nil {
		return nil, err
	}
	var rows []map[string]sql.NullString
	q := "SHOW ALL SLAVES STATUS"
	if vars.MariaDB {
		rows, err = queryMaps(ctx, m.db, q)
	} else {
		q = "SHOW REPLICA STATUS"
		rows, err = queryMaps(ctx, m.db, q)
		if errno(err) == 1064 { // before 8.0.22
			q = "SHOW SLAVE STATUS"
			rows, err = queryMaps(ctx, m.db, q)
		}
	}
	if err != nil {
		return nil, m.wrap(q, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("replicate: %s: %w", m.cfg.Address, ErrNotConfigured)
	}
	out := make([]MySQLStatus, 0, len(rows))
	for _, r := range rows {
		s, err := ParseSlaveStatus(r)
		if err != nil {
			return nil, fmt.Errorf("replicate: %s: %w", m.cfg.Address, err)
		}
		s.Server = m.cfg.Address
		s.Vars = vars
		out = append(out, s)
	}
	return out, nil
}

func (m *MySQL) serverVars(ctx context.Context) (ServerVars, error) {
	var v ServerVars
	var readOnly int
	const q = "SELECT @@version, @@read_only, @@binlog_format"
	if err := m.db.QueryRowContext(ctx, q).Scan(&v.Version, &readOnly, &v.BinlogFormat); err != nil {
		return v, m.wrap(q, err)
	}
	v.ReadOnly = readOnly != 0
	v.MariaDB = strings.Contains(strings.ToLower(v.Version), "mariadb")
	var err error
	gq := "SELECT @@gtid_slave_pos, @@gtid_binlog_pos"
	if v.MariaDB {
		err = m.db.QueryRowContext(ctx, gq).Scan(&v.GTIDSlavePos, &v.GTIDBinlogPos)
	} else {
		gq = "SELECT @@gtid_executed"
		err = m.db.QueryRowContext(ctx, gq).Scan(&v.GTIDBinlogPos)
	}
	if err != nil {
		return v, m.wrap(gq, err)
	}
	return v, nil
}

// wrap names the server and the statement that failed (or, for a step
// of several statements, what it did), and marks refusals: privilege
// errors wrap [ErrNoPrivilege], read_only refusals [ErrReadOnly].
func (m *MySQL) wrap(stmt string, err error) error {
	switch errno(err) {
	case 1227, 1142, 1143, 1044, 1370: // ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_PROCACCESS_DENIED_ERROR
		return fmt.Errorf("replicate: %s: %s: %w: %w", m.cfg.Address, stmt, ErrNoPrivilege, err)
	case 1290, 1836: // ER_OPTION_PREVENTS_STATEMENT (--read-only, --super-read-only), ER_READ_ONLY_MODE
		return fmt.Errorf("replicate: %s: %s: %w: %w", m.cfg.Address, stmt, ErrReadOnly, err)
	}
	return fmt.Errorf("replicate: %s: %s: %w", m.cfg.Address, stmt, err)
}

// errno returns the server error number of err, or 0.
func errno(err error) int {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return int(me.Number)
	}
	return 0
}

// querier is a *sql.DB, *sql.Conn or *sql.Tx.
type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// queryMaps runs a query and returns every row as column → value.
func queryMaps(ctx context.Context, q querier, query string, args ...any) ([]map[string]sql.NullString, error) {
	cols, rows, err := queryRows(ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]sql.NullString, 0, len(rows))
	for _, vals := range rows {
		row := make(map[string]sql.NullString, len(cols))
		for i, c := range cols {
			row[c] = vals[i]
		}
		out = append(out, row)
	}
	return out, nil
}

// queryRows runs a query and returns its columns and rows, in order.
func queryRows(ctx context.Context, q querier, query string, args ...any) ([]string, [][]sql.NullString, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]sql.NullString
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

// replicaCmd returns the spelling of a replica statement for the
// server: "SLAVE" on MariaDB (and older MySQL), "REPLICA" on MySQL 8.
func replicaWord(v ServerVars) string {
	if v.MariaDB {
		return "SLAVE"
	}
	return "REPLICA"
}
