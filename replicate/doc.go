// Package replicate watches and, when asked explicitly, repairs data
// replication between the nodes: MySQL/MariaDB replication and DRBD.
//
// Contracts:
//
//   - A [Replicator] reports the state of one replica; Status never
//     changes anything on the server and is safe for concurrent use.
//   - A Status that could not be read completely is an error naming the
//     server, never a partial Status that looks healthy.
//   - Repairs are optional capabilities, discovered by type assertion,
//     that run only when the caller asks for one by name. No repair runs
//     silently: each reports what it did and the data check after it.
//
// MySQL/MariaDB ([MySQL], mysql*.go): status read by column name from
// SHOW SLAVE STATUS, SHOW REPLICA STATUS or SHOW ALL SLAVES STATUS
// ([ParseSlaveStatus]); a data check between two servers ([CompareTables]:
// CHECKSUM TABLE, then checksums of primary-key chunks and rows, single
// or composite keys, to name what differs); explicit repairs ([Repairer],
// repair*.go) each followed by a data check and an honest [RepairReport]
// (what ran, what failed, the replica left as found or its exact state);
// fencing ([MySQL.SetReadOnly]: read_only, and super_read_only where the
// server has it, read back; MariaDB has none, and says so);
// semi-synchronous replication read and judged ([MySQL.SemiSync],
// [SemiSync.Acknowledged]: "data may be missing"); failover helpers
// ([MySQLSwitcher]); and [NewChecker], which makes a replica's fitness a
// health check.
//
// A status alone cannot tell a replica that applied a failed transaction
// from one that skipped it (MariaDB 10.11 in file/position mode moves
// gtid_slave_pos past a transaction that failed with 1062 on STOP SLAVE;
// START SLAVE, and the article's STOP SLAVE; RESET SLAVE; START SLAVE
// then runs with transactions missing). A [History] remembers the failure
// a replica was seen stopped on and flags it when seen past it until a
// data check passes; [HistoryFile] keeps it between processes.
// [Promotable] is the promotion gate: given a replica's status, its
// history (last data check, skipped transactions) and the limits, it says
// whether the replica may take over and every reason why not (status
// unreadable is an unsafe unknown).
//
// Privileges. What each operation runs, and what MariaDB 10.11 asks for
// it (measured on the server; MySQL 8 names in brackets, from its
// manual). [CheckPrivileges] (and `understudy replication doctor`)
// checks an account against this list, by probes that change nothing
// where they exist, SHOW GRANTS elsewhere. Global privileges apply to new
// connections only.
//
//	status (replica)        SHOW ALL SLAVES STATUS          SLAVE MONITOR or SUPER [REPLICATION CLIENT]
//	data check (both)       SELECT, CHECKSUM TABLE          SELECT on the tables
//	fence (both)            SET GLOBAL read_only            READ_ONLY ADMIN (SUPER is not enough in 10.11)
//	                        [SET GLOBAL super_read_only]    [SYSTEM_VARIABLES_ADMIN or SUPER]
//	semi-sync (both)        SHOW GLOBAL STATUS/VARIABLES    none
//	every repair (replica)  STOP SLAVE, START SLAVE         REPLICATION SLAVE ADMIN or SUPER [REPLICATION_SLAVE_ADMIN]
//	every repair (source)   SHOW MASTER STATUS              BINLOG MONITOR or SUPER [REPLICATION CLIENT]
//	restart (replica)       FLUSH LOCAL PRIVILEGES          RELOAD
//	                        RESET SLAVE                     RELOAD
//	skip, file/pos          SET GLOBAL sql_slave_skip_counter
//	                                                        SUPER (only) [SYSTEM_VARIABLES_ADMIN]
//	skip, GTID (replica)    SET GLOBAL gtid_slave_pos       REPLICATION SLAVE ADMIN or SUPER
//	skip, GTID (source)     SHOW BINLOG EVENTS              BINLOG MONITOR
//	replace-row (replica)   SET SESSION sql_log_bin         BINLOG ADMIN or SUPER
//	                        SELECT, DELETE on the table     SELECT, DELETE; READ_ONLY ADMIN too when the replica is read_only
//	reseed (source)         mariadb-dump --single-transaction --gtid --master-data=1 --triggers
//	                                                        SELECT, SHOW VIEW, TRIGGER on the schemas; BINLOG MONITOR
//	reseed (replica)        the dump, with sql_log_bin=0    ALL PRIVILEGES on the schemas; BINLOG ADMIN;
//	                                                        REPLICATION SLAVE ADMIN (CHANGE MASTER, gtid_slave_pos)
//
// A refused statement is an error wrapping [ErrNoPrivilege] (or
// [ErrReadOnly]) that names the statement and carries the server's
// message, which names the privilege.
//
// DRBD ([DRBD], drbd*.go): status from /proc/drbd (0.7, 8.x:
// [ParseProcDRBD]) or `drbdadm status` (9: [ParseDrbdadmStatus]) in one
// model of roles, connection, disk and resync states; what counts as
// running is [DRBDResource.Health]. Promote and demote (drbdadm
// primary|secondary) are idempotent, verified afterwards, usable as a
// failover.Switcher or a resource-group step, and a local disk that is
// not up to date is not promoted unless forced.
//
// What the repairs really do to a MariaDB 10.11 master-master pair was
// measured on real servers (see the package tests and the repository's
// lab notes): only replacing the conflicting row and re-seeding converge.
// The article's STOP/RESET/START is kept because users ask for it, and its
// report says when it fixed nothing.
package replicate

import (
	"context"
	"errors"
	"time"
)

// Replicator reports the state of one replica.
type Replicator interface {
	Status(ctx context.Context) (Status, error)
}

// Status is the state of one replica, independent of the technology.
type Status struct {
	// Server names the replica (an address or a resource name).
	Server string
	// Running is true when replication is flowing (for MySQL both the IO
	// and the SQL thread run; for DRBD see [DRBDResource.Health]).
	Running bool
	// Lag is how far the replica is behind its source; negative when
	// unknown (for example while the SQL thread is stopped).
	Lag time.Duration
	// Err describes why replication stopped, when it did.
	Err string
	// Detail is the technology-specific status: a [MySQLStatus] for
	// MySQL/MariaDB, a [DRBDResource] for DRBD.
	Detail any
}

// Errors shared by the implementations; each is wrapped with the server
// it concerns.
var (
	// ErrNotConfigured: the server has no replica configured.
	ErrNotConfigured = errors.New("replicate: replica not configured")
	// ErrNoPrivilege: the server refused a statement for lack of a
	// privilege. The error names the server and the statement, and
	// wraps the server's error, which names the privilege (see
	// [CheckPrivileges] and the package documentation for what each
	// operation needs).
	ErrNoPrivilege = errors.New("replicate: refused for lack of privilege")
	// ErrReadOnly: the server refused a write because it is read_only
	// (or super_read_only); the error names the statement.
	ErrReadOnly = errors.New("replicate: refused by read_only")
	// ErrNotRunning: replication is stopped or broken.
	ErrNotRunning = errors.New("replicate: replication not running")
	// ErrLagging: the replica is further behind than allowed, or its lag
	// is unknown.
	ErrLagging = errors.New("replicate: replica lagging")
)
