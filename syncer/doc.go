// Package syncer keeps files in step between the nodes: rsync, unison,
// lsyncd and a native inotify watcher, behind one interface.
//
// Implementations: [Rsync] (push or pull, local or over ssh, whole tree
// or a list of paths), [Unison] (two-way, conflicts reported), [Lsyncd]
// (generated Lua configuration, supervised process), [Watcher] (native
// inotify watcher: debounced batches of changed paths shipped by rsync
// over one kept-open ssh connection, with full passes as a safety net).
// Around them:
// [Lock] (flock overlap lock), [Schedule] ("every N" with jitter and
// overrun events), [Tracker] (last success, and a health check that the
// copy is fresh), [FileStore] (the last runs kept on disk, so that
// [Fresh] in another process sees them), [Then] with [RemoteCommand] (a step on the peer after a
// successful sync).
//
// Contracts:
//
//   - Sync runs one synchronisation to completion (or until ctx ends) and
//     returns what it did. A partial transfer is an error, never a Report
//     that looks like success; the Report of a failed run is still
//     returned with the error, for the message.
//   - Implementations take an overlap lock, so a slow sync is never run
//     twice at once: an overlapping call returns ErrBusy at once.
//   - Sync may be called from several goroutines; it is idempotent in the
//     sense that a repeated run copies only what changed.
//   - Programs are run from argv, with "--" before user paths; no shell
//     on this side. Commands for the peer's shell are quoted word by word.
//   - SSH host-key checking stays on (StrictHostKeyChecking=yes,
//     BatchMode=yes): an unknown or changed key is ErrHostKey.
//   - Failures of the programs are [*ExitError] values matching ErrPartial,
//     ErrFailed, ErrSSH, ErrHostKey or ErrConflict with errors.Is.
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
	Bytes     int64         // bytes transferred (file sizes; rsync only)
	Deleted   int           // files deleted on the receiving side
	Conflicts []string      // paths changed on both sides and left alone
	Duration  time.Duration // wall time of the run
}
