// Package mysqlconn builds go-sql-driver/mysql connectors for the health
// check and the replication reader the same way: field by field, never
// from a DSN string, so no string holding the password exists to be
// logged or echoed; over TCP; and never with the driver's global logger.
package mysqlconn

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Config is what a connection to one server needs. The zero value of
// each optional field means the driver's default.
type Config struct {
	// Address is host:port of the server, reached over TCP.
	Address string
	// User and Password log in.
	User     string
	Password string
	// Database is selected at login ("" selects none).
	Database string
	// TLS is the driver's tls setting ("", "false", "true",
	// "skip-verify", "preferred" or a registered name).
	TLS string
	// TLSConfig, when set, is used instead of TLS.
	TLSConfig *tls.Config
	// Dial makes the connection (default: the driver's TCP dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds dialing (default: only the context bounds it).
	Timeout time.Duration
	// Logger receives the driver's own messages (default: discarded).
	Logger mysql.Logger
}

// NewConnector returns a connector for c. It makes no connection; an
// error means the driver rejected the configuration (an unknown TLS
// name, say).
func NewConnector(c Config) (driver.Connector, error) {
	dc := mysql.NewConfig()
	dc.User = c.User
	dc.Passwd = c.Password
	dc.Net = "tcp"
	dc.Addr = c.Address
	dc.DBName = c.Database
	dc.TLSConfig = c.TLS
	dc.TLS = c.TLSConfig
	dc.DialFunc = c.Dial
	dc.Timeout = c.Timeout
	dc.Logger = c.Logger
	if dc.Logger == nil {
		dc.Logger = &mysql.NopLogger{}
	}
	return mysql.NewConnector(dc)
}
