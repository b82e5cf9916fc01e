package mysqlconn_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/mysqlconn"
	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
)

// dialCall is what the connector passed to Config.Dial.
type dialCall struct {
	network, addr string
	deadline      bool
}

// TestConnectorDial checks that the connector dials Address over TCP
// through Config.Dial, with a deadline exactly when Timeout is set. No
// server is needed: the dialer refuses and records.
func TestConnectorDial(t *testing.T) {
	errRefused := errors.New("refused by the test dialer")
	for _, tc := range []struct {
		name         string
		timeout      time.Duration
		wantDeadline bool
	}{
		{"no timeout", 0, false},
		{"timeout", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []dialCall
			c, err := mysqlconn.NewConnector(mysqlconn.Config{
				Address: "192.0.2.7:3307", User: "u", Password: "p", Timeout: tc.timeout,
				Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					_, ok := ctx.Deadline()
					got = append(got, dialCall{network, addr, ok})
					return nil, errRefused
				},
			})
			require.NoError(t, err)
			_, err = c.Connect(context.Background())
			require.ErrorIs(t, err, errRefused)
			assert.Equal(t, []dialCall{{"tcp", "192.0.2.7:3307", tc.wantDeadline}}, got)
		})
	}
}

// TestConnectorRejectsUnknownTLS checks that a TLS name nobody registered
// is refused when the connector is built, not at the first connection.
func TestConnectorRejectsUnknownTLS(t *testing.T) {
	_, err := mysqlconn.NewConnector(mysqlconn.Config{Address: "127.0.0.1:3306", User: "u", TLS: "no-such-tls-config"})
	require.Error(t, err)
}

// TestConnectorLogsIn logs in to a real mariadbd (harness; Debian package
// mariadb-server) as a user with a password and a default database.
func TestConnectorLogsIn(t *testing.T) {
	srv := mariadb.Start(t)
	srv.Exec(t, "CREATE DATABASE app; CREATE USER 'u'@'127.0.0.1' IDENTIFIED BY 's3cret-Pw'; GRANT SELECT ON app.* TO 'u'@'127.0.0.1'")
	for _, tc := range []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"right password", "s3cret-Pw", false},
		{"wrong password", "wrong", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mysqlconn.NewConnector(mysqlconn.Config{Address: srv.Addr, User: "u", Password: tc.password, Database: "app", Timeout: 30 * time.Second})
			require.NoError(t, err)
			db := sql.OpenDB(c)
			defer db.Close()
			var who, dbName string
			err = db.QueryRowContext(t.Context(), "SELECT CURRENT_USER(), DATABASE()").Scan(&who, &dbName)
			if tc.wantErr {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), tc.password)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "u@127.0.0.1", who)
			assert.Equal(t, "app", dbName)
		})
	}
}
