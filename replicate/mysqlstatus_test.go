package replicate

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(b)
}

func TestParseSlaveStatusText(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, s []MySQLStatus)
	}{
		{"article-1062.txt", func(t *testing.T, s []MySQLStatus) {
			require.Len(t, s, 1)
			st := s[0]
			assert.Equal(t, ThreadYes, st.IORunning)
			assert.False(t, st.SQLRunning)
			assert.False(t, st.Running())
			assert.Equal(t, time.Duration(-1), st.Lag, "Seconds_Behind_Master NULL")
			assert.Equal(t, 1062, st.SQLError.Errno)
			assert.Equal(t, ClassDuplicateKey, st.SQLError.Class)
			assert.Contains(t, st.SQLError.Message, "Duplicate entry '56-724'")
			assert.Equal(t, ClassNone, st.IOError.Class)
			assert.Equal(t, "10.134.23.164", st.SourceHost)
			assert.Equal(t, 3306, st.SourcePort)
			assert.Equal(t, "mariadb-bin.000210", st.SourceLogFile)
			assert.Equal(t, int64(2753885), st.ReadSourceLogPos)
			assert.Equal(t, int64(1563407), st.ExecSourceLogPos)
			assert.Equal(t, "No", st.UsingGTID)
			assert.False(t, st.Caught())
			n := st.Neutral()
			assert.False(t, n.Running)
			assert.Contains(t, n.Err, "SQL thread: error 1062 (duplicate_key)")
		}},
		{"article-after-reset.txt", func(t *testing.T, s []MySQLStatus) {
			require.Len(t, s, 1)
			assert.True(t, s[0].Running())
			assert.Equal(t, 833890*time.Second, s[0].Lag, "nine days behind: running is not fit")
			assert.Empty(t, s[0].Err())
		}},
		{"mysql8-replica.txt", func(t *testing.T, s []MySQLStatus) {
			require.Len(t, s, 1)
			st := s[0]
			assert.Equal(t, ThreadYes, st.IORunning)
			assert.False(t, st.SQLRunning)
			assert.Equal(t, ClassRowNotFound, st.SQLError.Class)
			assert.Equal(t, "binlog.000003", st.ExecSourceLogFile)
			assert.Equal(t, "Auto_Position", st.UsingGTID)
			assert.Equal(t, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-11", st.ExecutedGTIDSet)
			assert.Equal(t, "repl", st.SourceUser)
		}},
		{"mariadb-all-slaves.txt", func(t *testing.T, s []MySQLStatus) {
			require.Len(t, s, 2)
			assert.Equal(t, "", s[0].Connection)
			assert.True(t, s[0].Running())
			assert.Equal(t, time.Duration(0), s[0].Lag)
			assert.True(t, s[0].Caught())
			assert.Equal(t, "1-1-5", s[0].GTIDIOPos)
			assert.Equal(t, "reports", s[1].Connection)
			assert.Equal(t, ThreadConnecting, s[1].IORunning)
			assert.Equal(t, ClassConnection, s[1].IOError.Class)
			s[1].Server = "db2:3306"
			assert.Equal(t, "db2:3306 (reports)", s[1].Neutral().Server)
			assert.Equal(t, time.Duration(-1), s[1].Neutral().Lag)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := ParseSlaveStatusText(readFixture(t, tt.file))
			require.NoError(t, err)
			tt.check(t, s)
		})
	}
}

func TestParseSlaveStatusTextFooter(t *testing.T) {
	s, err := ParseSlaveStatusText(readFixture(t, "article-after-reset.txt"))
	require.NoError(t, err)
	// The "1 row in set" footer is not appended to the last column.
	assert.NotContains(t, s[0].IOState, "in set")
}

func row(kv ...string) map[string]sql.NullString {
	m := map[string]sql.NullString{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = sql.NullString{String: kv[i+1], Valid: kv[i+1] != "NULL"}
	}
	return m
}

func TestParseSlaveStatusBad(t *testing.T) {
	good := []string{"Slave_IO_Running", "Yes", "Slave_SQL_Running", "Yes", "Seconds_Behind_Master", "0", "Last_IO_Errno", "0", "Last_SQL_Errno", "0"}
	tests := []struct {
		name string
		row  map[string]sql.NullString
		want string
	}{
		{"empty", row(), "missing columns"},
		{"no lag column", row(good[:4]...), "Seconds_Behind_Master"},
		{"unknown thread state", row(append([]string{}, append(good, "Slave_IO_Running", "Maybe")...)...), "Slave_IO_Running=\"Maybe\""},
		{"negative lag", row(append(good, "Seconds_Behind_Master", "-5")...), "Seconds_Behind_Master"},
		{"text errno", row(append(good, "Last_SQL_Errno", "x")...), "Last_SQL_Errno"},
		{"sql thread null", row(append(good, "Slave_SQL_Running", "NULL")...), "Slave_SQL_Running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSlaveStatus(tt.row)
			require.ErrorIs(t, err, ErrUnknownFormat)
			assert.Contains(t, err.Error(), tt.want)
			assert.False(t, s.Running())
		})
	}
	t.Run("case-insensitive and MySQL 8 names", func(t *testing.T) {
		s, err := ParseSlaveStatus(row("replica_io_running", "Yes", "REPLICA_SQL_RUNNING", "Yes", "Seconds_Behind_Source", "3", "Last_IO_Errno", "", "Last_SQL_Errno", "0"))
		require.NoError(t, err)
		assert.True(t, s.Running())
		assert.Equal(t, 3*time.Second, s.Lag)
	})
}

func TestParseSlaveStatusTextEmpty(t *testing.T) {
	_, err := ParseSlaveStatusText("Empty set (0.00 sec)\n")
	assert.ErrorIs(t, err, ErrNotConfigured)
	_, err = ParseSlaveStatusText("ERROR 1227 (42000): Access denied")
	assert.ErrorIs(t, err, ErrUnknownFormat)
}

func TestClassifyErrno(t *testing.T) {
	for errno, want := range map[int]ErrorClass{0: ClassNone, 1062: ClassDuplicateKey, 1032: ClassRowNotFound,
		2003: ClassConnection, 1045: ClassAuth, 1236: ClassSourceLog, 1146: ClassSchema, 9999: ClassOther} {
		assert.Equal(t, want, ClassifyErrno(errno), "errno %d", errno)
	}
}

func FuzzParseSlaveStatus(f *testing.F) {
	for _, name := range []string{"article-1062.txt", "article-after-reset.txt", "mysql8-replica.txt", "mariadb-all-slaves.txt"} {
		f.Add(readFixture(f, name))
	}
	f.Add("Slave_IO_Running: Yes\nSlave_SQL_Running: Yes\nSeconds_Behind_Master: 99999999999999999999\nLast_IO_Errno: 0\nLast_SQL_Errno: 0\n")
	f.Fuzz(func(t *testing.T, text string) {
		all, err := ParseSlaveStatusText(text)
		if err != nil {
			if !errors.Is(err, ErrUnknownFormat) && !errors.Is(err, ErrNotConfigured) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, s := range all {
			// Never healthy without both threads saying Yes.
			if s.Running() && (s.IORunning != ThreadYes || !s.SQLRunning) {
				t.Fatalf("running with io=%s sql=%t", s.IORunning, s.SQLRunning)
			}
			if s.Lag < -1 {
				t.Fatalf("lag %v", s.Lag)
			}
			if !s.Running() && s.Neutral().Running {
				t.Fatal("neutral status running while threads are not")
			}
		}
	})
}
