package replicate

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ThreadState is the value of Slave_IO_Running / Replica_IO_Running:
// "Yes", "No" or "Connecting" (MariaDB also says "Preparing" briefly).
type ThreadState string

// The thread states servers report.
const (
	ThreadYes        ThreadState = "Yes"
	ThreadNo         ThreadState = "No"
	ThreadConnecting ThreadState = "Connecting"
	ThreadPreparing  ThreadState = "Preparing"
)

// ErrorClass sorts a replication error by what can be done about it.
type ErrorClass string

// The error classes. The numbers are the server's error codes.
const (
	ClassNone ErrorClass = ""
	// ClassDuplicateKey: 1062, a row the source inserts already exists on
	// the replica (the article's break).
	ClassDuplicateKey ErrorClass = "duplicate_key"
	// ClassRowNotFound: 1032, a row the source updates or deletes is
	// missing on the replica.
	ClassRowNotFound ErrorClass = "row_not_found"
	// ClassSchema: 1146 (no such table), 1054 (unknown column), 1050,
	// 1051, 1007, 1008: the schemas differ.
	ClassSchema ErrorClass = "schema"
	// ClassConnection: 2003, 2005, 2013, 2006, 1158–1161: the replica
	// cannot reach its source.
	ClassConnection ErrorClass = "connection"
	// ClassAuth: 1045, 1044, 2061: the replication account is refused.
	ClassAuth ErrorClass = "auth"
	// ClassSourceLog: 1236, the source no longer has (or refuses) the
	// binlog position or GTID the replica asks for.
	ClassSourceLog ErrorClass = "source_log"
	// ClassOther is any other error.
	ClassOther ErrorClass = "other"
)

// ClassifyErrno returns the class of a server error number (0 is
// ClassNone).
func ClassifyErrno(errno int) ErrorClass {
	switch errno {
	case 0:
		return ClassNone
	case 1062, 1586: // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME
		return ClassDuplicateKey
	case 1032: // ER_KEY_NOT_FOUND
		return ClassRowNotFound
	case 1146, 1054, 1050, 1051, 1007, 1008, 1049:
		return ClassSchema
	case 2002, 2003, 2005, 2006, 2013, 1158, 1159, 1160, 1161, 2026:
		return ClassConnection
	case 1045, 1044, 2061, 1227:
		return ClassAuth
	case 1236:
		return ClassSourceLog
	}
	return ClassOther
}

// ReplError is the last error of a replication thread.
type ReplError struct {
	Errno   int
	Message string
	Class   ErrorClass
}

func (e ReplError) String() string {
	return fmt.Sprintf("error %d (%s): %s", e.Errno, e.Class, e.Message)
}

// MySQLStatus is one replication connection of a MySQL or MariaDB replica:
// one row of SHOW SLAVE STATUS, SHOW REPLICA STATUS or SHOW ALL SLAVES
// STATUS, read by column name, plus (when read from a server by
// [MySQL.Channels]) server-wide variables.
type MySQLStatus struct {
	// Server names the replica (its address).
	Server string
	// Connection is the MariaDB connection name or the MySQL channel (""
	// for the default one).
	Connection string
	// SourceHost, SourcePort and SourceUser say where it replicates from.
	SourceHost string
	SourcePort int
	SourceUser string
	// SourceServerID is the source's server_id as the replica last saw it
	// (Master_Server_Id); 0 when unknown.
	SourceServerID int64
	// IORunning is the IO (receiver) thread's state; SQLRunning whether
	// the SQL (applier) thread runs.
	IORunning  ThreadState
	SQLRunning bool
	// IOState is Slave_IO_State, a human description.
	IOState string
	// Lag is Seconds_Behind_Master; -1 when NULL (a thread stopped or not
	// connected).
	Lag time.Duration
	// Binlog coordinates on the source: what the IO thread read
	// (SourceLogFile, ReadSourceLogPos) and what the SQL thread executed
	// (ExecSourceLogFile, ExecSourceLogPos).
	SourceLogFile     string
	ReadSourceLogPos  int64
	ExecSourceLogFile string
	ExecSourceLogPos  int64
	// IOError and SQLError are the last errors, zero when there is none.
	IOError  ReplError
	SQLError ReplError
	// UsingGTID is MariaDB's Using_Gtid ("No", "Slave_Pos",
	// "Current_Pos") or, for MySQL, "Auto_Position" when Auto_Position=1.
	UsingGTID string
	// GTIDIOPos is MariaDB's Gtid_IO_Pos; RetrievedGTIDSet and
	// ExecutedGTIDSet are MySQL's.
	GTIDIOPos        string
	RetrievedGTIDSet string
	ExecutedGTIDSet  string
	// Server-wide values, filled by [MySQL.Channels], not by the parser.
	Vars ServerVars
}

// ServerVars are server-wide variables read alongside the replica status.
type ServerVars struct {
	Version  string
	MariaDB  bool
	ReadOnly bool
	// GTIDSlavePos and GTIDBinlogPos are MariaDB's @@gtid_slave_pos and
	// @@gtid_binlog_pos; for MySQL GTIDBinlogPos is @@gtid_executed.
	GTIDSlavePos  string
	GTIDBinlogPos string
	BinlogFormat  string
}

// Running reports whether both threads run.
func (s MySQLStatus) Running() bool { return s.IORunning == ThreadYes && s.SQLRunning }

// Caught reports whether the SQL thread has executed everything the IO
// thread received.
func (s MySQLStatus) Caught() bool {
	return s.ExecSourceLogFile == s.SourceLogFile && s.ExecSourceLogPos == s.ReadSourceLogPos
}

// Err returns a one-line description of the thread errors ("" when none).
func (s MySQLStatus) Err() string {
	var parts []string
	if s.IOError.Errno != 0 {
		parts = append(parts, "IO thread: "+s.IOError.String())
	}
	if s.SQLError.Errno != 0 {
		parts = append(parts, "SQL thread: "+s.SQLError.String())
	}
	if len(parts) == 0 && !s.Running() {
		parts = append(parts, fmt.Sprintf("IO thread %s, SQL thread running=%t, no error reported", s.IORunning, s.SQLRunning))
	}
	return strings.Join(parts, "; ")
}

// Neutral converts to the technology-independent [Status].
func (s MySQLStatus) Neutral() Status {
	st := Status{Server: s.Server, Running: s.Running(), Lag: s.Lag, Err: s.Err(), Detail: s}
	if s.Connection != "" {
		st.Server += " (" + s.Connection + ")"
	}
	if !st.Running {
		st.Lag = -1
	}
	return st
}

// ErrUnknownFormat is returned for a status row the parser does not
// understand: a required column is missing or holds an unexpected value.
var ErrUnknownFormat = errors.New("replicate: unknown replica status format")

// columns maps each field to its spellings: MariaDB 10.x / MySQL 5.7
// first, then MySQL 8.0.22+.
var columns = struct {
	io, sql, lag, host, port, user, ioState, file, readPos, execFile, execPos,
	ioErrno, ioError, sqlErrno, sqlError, usingGTID, gtidIOPos, autoPos, retrieved, executed, conn, serverID []string
}{
	io:        []string{"Slave_IO_Running", "Replica_IO_Running"},
	sql:       []string{"Slave_SQL_Running", "Replica_SQL_Running"},
	lag:       []string{"Seconds_Behind_Master", "Seconds_Behind_Source"},
	host:      []string{"Master_Host", "Source_Host"},
	port:      []string{"Master_Port", "Source_Port"},
	user:      []string{"Master_User", "Source_User"},
	ioState:   []string{"Slave_IO_State", "Replica_IO_State"},
	file:      []string{"Master_Log_File", "Source_Log_File"},
	readPos:   []string{"Read_Master_Log_Pos", "Read_Source_Log_Pos"},
	execFile:  []string{"Relay_Master_Log_File", "Relay_Source_Log_File"},
	execPos:   []string{"Exec_Master_Log_Pos", "Exec_Source_Log_Pos"},
	ioErrno:   []string{"Last_IO_Errno"},
	ioError:   []string{"Last_IO_Error"},
	sqlErrno:  []string{"Last_SQL_Errno"},
	sqlError:  []string{"Last_SQL_Error"},
	usingGTID: []string{"Using_Gtid"},
	gtidIOPos: []string{"Gtid_IO_Pos"},
	autoPos:   []string{"Auto_Position"},
	retrieved: []string{"Retrieved_Gtid_Set"},
	executed:  []string{"Executed_Gtid_Set"},
	conn:      []string{"Connection_name", "Channel_Name", "Channel_name"},
	serverID:  []string{"Master_Server_Id", "Source_Server_Id"},
}

// ParseSlaveStatus reads one row of SHOW SLAVE STATUS, SHOW REPLICA
// STATUS or SHOW ALL SLAVES STATUS, given as column name → value (an
// invalid NullString is SQL NULL). Column names are matched without regard
// to case; unknown columns are ignored. A missing required column (the
// two thread states, the lag and the error numbers) or a value that is not
// what the servers write is an error wrapping [ErrUnknownFormat]: never a
// status that looks healthy.
func ParseSlaveStatus(row map[string]sql.NullString) (MySQLStatus, error) {
	lower := make(map[string]sql.NullString, len(row))
	for k, v := range row {
		lower[strings.ToLower(k)] = v
	}
	var missing []string
	get := func(names []string, required bool) sql.NullString {
		for _, n := range names {
			if v, ok := lower[strings.ToLower(n)]; ok {
				return v
			}
		}
		if required {
			missing = append(missing, names[0])
		}
		return sql.NullString{}
	}
	var bad []string
	num := func(names []string, required bool) int64 {
		v := get(names, required)
		if !v.Valid || strings.TrimSpace(v.String) == "" {
			return 0
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v.String), 10, 64)
		if err != nil || n < 0 {
			bad = append(bad, fmt.Sprintf("%s=%q", names[0], v.String))
		}
		return n
	}

	var s MySQLStatus
	io := get(columns.io, true)
	sqlRunning := get(columns.sql, true)
	lag := get(columns.lag, true)
	s.IOError.Errno = int(num(columns.ioErrno, true))
	s.SQLError.Errno = int(num(columns.sqlErrno, true))
	if len(missing) > 0 {
		return MySQLStatus{}, fmt.Errorf("%w: missing columns %s", ErrUnknownFormat, strings.Join(missing, ", "))
	}
	switch st := ThreadState(io.String); st {
	case ThreadYes, ThreadNo, ThreadConnecting, ThreadPreparing:
		s.IORunning = st
	default:
		bad = append(bad, fmt.Sprintf("%s=%q", columns.io[0], io.String))
	}
	switch sqlRunning.String {
	case "Yes":
		s.SQLRunning = true
	case "No":
	default:
		bad = append(bad, fmt.Sprintf("%s=%q", columns.sql[0], sqlRunning.String))
	}
	s.Lag = -1
	if lag.Valid && lag.String != "NULL" {
		n, err := strconv.ParseInt(lag.String, 10, 64)
		if err != nil || n < 0 || n > int64(100*365*24*time.Hour/time.Second) {
			bad = append(bad, fmt.Sprintf("%s=%q", columns.lag[0], lag.String))
		} else {
			s.Lag = time.Duration(n) * time.Second
		}
	}
	s.Connection = get(columns.conn, false).String
	s.SourceHost = get(columns.host, false).String
	s.SourcePort = int(num(columns.port, false))
	s.SourceUser = get(columns.user, false).String
	s.SourceServerID = num(columns.serverID, false)
	s.IOState = get(columns.ioState, false).String
	s.SourceLogFile = get(columns.file, false).String
	s.ReadSourceLogPos = num(columns.readPos, false)
	s.ExecSourceLogFile = get(columns.execFile, false).String
	s.ExecSourceLogPos = num(columns.execPos, false)
	s.IOError.Message = get(columns.ioError, false).String
	s.SQLError.Message = get(columns.sqlError, false).String
	s.IOError.Class = ClassifyErrno(s.IOError.Errno)
	s.SQLError.Class = ClassifyErrno(s.SQLError.Errno)
	s.UsingGTID = get(columns.usingGTID, false).String
	if s.UsingGTID == "" && get(columns.autoPos, false).String == "1" {
		s.UsingGTID = "Auto_Position"
	}
	s.GTIDIOPos = get(columns.gtidIOPos, false).String
	s.RetrievedGTIDSet = get(columns.retrieved, false).String
	s.ExecutedGTIDSet = get(columns.executed, false).String
	if len(bad) > 0 {
		return MySQLStatus{}, fmt.Errorf("%w: unexpected values %s", ErrUnknownFormat, strings.Join(bad, ", "))
	}
	return s, nil
}

// rowHeader matches the "*** 1. row ***" lines of the client's \G output.
var rowHeader = regexp.MustCompile(`^\*+ *\d+\. row *\*+$`)

// ParseSlaveStatusText reads the vertical (\G) output of the mariadb or
// mysql client for SHOW SLAVE STATUS and friends: one "Name: value" per
// line, rows separated by "*** N. row ***" lines. A value written NULL is
// SQL NULL. It returns one status per row; no row at all is
// [ErrNotConfigured].
func ParseSlaveStatusText(text string) ([]MySQLStatus, error) {
	var rows []map[string]sql.NullString
	var cur map[string]sql.NullString
	var lastKey string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case strings.Contains(trimmed, " in set") || strings.HasPrefix(trimmed, "Empty set"):
			continue // the client's footer
		case rowHeader.MatchString(trimmed):
			cur = map[string]sql.NullString{}
			rows = append(rows, cur)
			lastKey = ""
			continue
		}
		key, val, ok := strings.Cut(trimmed, ":")
		if ok && isColumnName(key) {
			if cur == nil {
				cur = map[string]sql.NullString{}
				rows = append(rows, cur)
			}
			val = strings.TrimSpace(val)
			cur[key] = sql.NullString{String: val, Valid: val != "NULL"}
			lastKey = key
			continue
		}
		// A continuation of a multi-line value (an error message).
		if cur != nil && lastKey != "" {
			v := cur[lastKey]
			v.String += "\n" + trimmed
			cur[lastKey] = v
			continue
		}
		return nil, fmt.Errorf("%w: line %q", ErrUnknownFormat, trimmed)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	if len(rows) == 0 {
		return nil, ErrNotConfigured
	}
	out := make([]MySQLStatus, 0, len(rows))
	for i, r := range rows {
		s, err := ParseSlaveStatus(r)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func isColumnName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
