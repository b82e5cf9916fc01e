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
// The MySQL/MariaDB and DRBD implementations arrive with the replication
// work (issue 4); this package fixes the interface they implement.
package replicate

import (
	"context"
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
	// and the SQL thread run; for DRBD the resource is connected).
	Running bool
	// Lag is how far the replica is behind its source; negative when
	// unknown (for example while the SQL thread is stopped).
	Lag time.Duration
	// Err describes why replication stopped, when it did.
	Err string
}
