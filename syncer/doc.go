// Package syncer keeps files in step between the nodes: rsync, unison,
// lsyncd and a native inotify watcher, behind one interface.
//
// Contracts:
//
//   - Sync runs one synchronisation to completion (or until ctx ends) and
//     returns what it did. A partial transfer is an error, never a Report
//     that looks like success.
//   - Implementations take an overlap lock, so a slow sync is never run
//     twice at once.
//   - Programs are run from argv, with "--" before user paths; no shell.
//   - SSH host-key checking stays on.
//
// The implementations arrive with the file-sync work (issue 5); this
// package fixes the interface they implement.
package syncer

import (
	"context"
	"time"
)

// Syncer runs one synchronisation.
type Syncer interface {
	Sync(ctx context.Context) (Report, error)
}

// Report says what one synchronisation did.
type Report struct {
	Files     int           // files transferred
	Bytes     int64         // bytes transferred
	Deleted   int           // files deleted on the receiving side
	Conflicts []string      // paths changed on both sides and left alone
	Duration  time.Duration // wall time of the run
}
