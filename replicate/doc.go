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
// CHECKSUM TABLE, then checksums of primary-key chunks and rows to name
// what differs); explicit repairs ([Repairer], repair*.go) each followed by
// a data check and an honest [RepairReport]; failover helpers
// ([MySQLSwitcher]: read_only on the former primary, refusal to promote a
// replica that is behind); and [NewChecker], which makes a replica's
// fitness a health check.
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
