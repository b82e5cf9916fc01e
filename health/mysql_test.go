package health_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
)

const probePassword = "pr0be-Secret-9731"

// TestMySQLCheck runs against a real mariadbd started by the harness
// (Debian package mariadb-server). The subtests run in order; the last
// one stops the server.
func TestMySQLCheck(t *testing.T) {
	srv := mariadb.Start(t)
	srv.Exec(t, "CREATE USER 'probe'@'127.0.0.1' IDENTIFIED BY '"+probePassword+"'")
	probe := health.MySQLConfig{Address: srv.Addr, User: "probe", Password: probePassword, Timeout: 30 * time.Second}

	check := func(t *testing.T, cfg health.MySQLConfig) error {
		t.Helper()
		c, err := health.NewMySQL(cfg)
		require.NoError(t, err)
		return c.Check(context.Background())
	}

	t.Run("healthy", func(t *testing.T) {
		require.NoError(t, check(t, probe))
	})
	t.Run("custom query", func(t *testing.T) {
		cfg := probe
		cfg.Query = "SELECT @@version, @@port"
		require.NoError(t, check(t, cfg))
	})
	t.Run("query without rows", func(t *testing.T) {
		cfg := probe
		cfg.Query = "SELECT 1 FROM DUAL WHERE 1 = 0"
		err := check(t, cfg)
		requireCheckError(t, err, "mysql")
		assert.False(t, health.IsDegraded(err))
		assert.Contains(t, err.Error(), "no rows")
	})
	t.Run("failing query", func(t *testing.T) {
		cfg := probe
		cfg.Query = "SELECT no_such_function()"
		err := check(t, cfg)
		requireCheckError(t, err, "mysql")
		assert.False(t, health.IsDegraded(err), "a broken query is a failure: %v", err)
		var me *mysql.MySQLError
		require.True(t, errors.As(err, &me), "%v", err)
	})
	t.Run("wrong password is degraded", func(t *testing.T) {
		const wrong = "Wr0ng-Password-4455"
		cfg := probe
		cfg.Password = wrong
		err := check(t, cfg)
		he := requireCheckError(t, err, "mysql")
		assert.Equal(t, srv.Addr, he.Target)
		assert.True(t, health.IsDegraded(err), "%v", err)
		var me *mysql.MySQLError
		require.True(t, errors.As(err, &me), "%v", err)
		assert.Equal(t, uint16(1045), me.Number)
		assert.NotContains(t, err.Error(), wrong)
		assert.NotContains(t, err.Error(), probePassword)
	})
	t.Run("too many connections is degraded", func(t *testing.T) {
		// MariaDB clamps max_connections to at least 10, and keeps one
		// extra slot for privileged users. Root fills every slot it can.
		db := srv.DB(t)
		ctx := context.Background()
		_, err := db.ExecContext(ctx, "SET GLOBAL max_connections = 10")
		require.NoError(t, err)
		var held []*sql.Conn
		defer func() {
			// Closing a *sql.Conn returns it to db's pool: the server
			// still counts it, so restore the limit through that pool.
			for _, c := range held {
				c.Close()
			}
			_, err := db.ExecContext(ctx, "SET GLOBAL max_connections = 151")
			assert.NoError(t, err)
		}()
		for len(held) < 12 {
			c, err := db.Conn(ctx)
			if err == nil {
				err = c.PingContext(ctx)
			}
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1040 {
				break
			}
			require.NoError(t, err)
			held = append(held, c)
		}
		require.Less(t, len(held), 12, "the server never ran out of connections")

		err = check(t, probe)
		requireCheckError(t, err, "mysql")
		assert.True(t, health.IsDegraded(err), "%v", err)
		var me *mysql.MySQLError
		require.True(t, errors.As(err, &me), "%v", err)
		assert.Equal(t, uint16(1040), me.Number)
	})
	t.Run("stopped server fails", func(t *testing.T) {
		srv.Stop(t)
		err := check(t, probe)
		requireCheckError(t, err, "mysql")
		assert.False(t, health.IsDegraded(err), "a stopped server is not alive: %v", err)
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	})
}

func TestMySQLTimeout(t *testing.T) {
	// A listener that accepts and never sends the handshake.
	addr := serveTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	c, err := health.NewMySQL(health.MySQLConfig{Address: addr, User: "probe", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	err = c.Check(context.Background())
	requireCheckError(t, err, "mysql")
	assert.False(t, health.IsDegraded(err))
	assert.True(t, isTimeout(err), "want a timeout, got %v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestMySQLPasswordRedacted(t *testing.T) {
	// Whatever a lower layer puts in its error, the password is hidden
	// and the chain is kept.
	cause := errors.New("dial refused for root:" + probePassword)
	c, err := health.NewMySQL(health.MySQLConfig{
		Address: "db1:3306", User: "root", Password: probePassword,
		Dial: func(context.Context, string, string) (net.Conn, error) { return nil, cause },
	})
	require.NoError(t, err)
	err = c.Check(context.Background())
	requireCheckError(t, err, "mysql")
	assert.NotContains(t, err.Error(), probePassword)
	assert.ErrorIs(t, err, cause)
}

func TestMySQLConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  health.MySQLConfig
		ok   bool
	}{
		{"minimal", health.MySQLConfig{Address: "db1:3306", User: "probe"}, true},
		{"no address", health.MySQLConfig{User: "probe"}, false},
		{"no user", health.MySQLConfig{Address: "db1:3306"}, false},
		{"negative timeout", health.MySQLConfig{Address: "db1:3306", User: "probe", Timeout: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ok {
				assert.NoError(t, tt.cfg.Validate())
			} else {
				assert.Error(t, tt.cfg.Validate())
			}
		})
	}
	t.Run("unknown TLS name", func(t *testing.T) {
		_, err := health.NewMySQL(health.MySQLConfig{Address: "db1:3306", User: "probe", TLS: "no-such-config"})
		assert.Error(t, err)
	})
}
