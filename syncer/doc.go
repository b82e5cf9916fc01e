// Package syncer keeps files in step between the nodes: rsync, unison,
// lsyncd and a native inotify watcher, behind one interface.
//
// Implementations: [Rsync] (push or pull, local or over ssh, whole tree
// or a list of paths), [Unison] (two-way, conflicts reported), [Lsyncd]
// (generated Lua configuration, supervised process), [Watcher] (native
// inotify watcher: debounced batches of changed paths shipped by rsync,
// to a peer through an rsync daemon reached over one kept-open ssh
// connection, with full passes as a safety net).
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
//
// # The watcher over ssh
//
// Every new ssh session, even over a master connection, runs the peer's
// login shell before the command, and the shell reads its rc files (bash
// reads ~/.bashrc for a command run by sshd, interactive or not). On
// real servers that is 0.1 s to over a second (pyenv, rbenv, nvm, conda
// set-ups): a watcher that starts an rsync session per batch pays it per
// batch, or waits for it whenever changes come faster than a pool of
// sessions started ahead refills. So by default ([TransportAuto]) the
// [Watcher] pays it once per connection ([TransportDaemon]):
//
//   - One session over the master connection runs a fixed sh script (the
//     port is its argument, the password the first line of its stdin:
//     no value is pasted into it). The script writes, into a private
//     mktemp directory, a password file (0600) and a configuration, and
//     runs `rsync --daemon --no-detach` bound to the peer's 127.0.0.1 on a
//     random port: one module serving "/" without chroot, so that paths
//     and symlinks are taken as rsync over ssh takes them (no munging or
//     sanitising); `auth users` with the password, `hosts allow
//     127.0.0.1`; the login user's uid and groups. The daemon ends, and
//     the directory is removed, when the session's stdin closes (the
//     watcher stopped, or the connection died).
//   - The master forwards a free local 127.0.0.1 port to it (ssh -O
//     forward -L), and a probe reads the daemon's greeting through it.
//   - Every run, full passes included, is then `rsync
//     rsync://understudy@127.0.0.1:PORT/understudy/DEST/` with
//     --password-file (a 0600 file in a private local directory): a new
//     channel on the open connection and a fork of the daemon, no shell.
//     The clients of the next list runs are connected ahead of need
//     (about 30 ms each here, so the pool is full again long before the
//     next change), and a batch costs the transfer alone. A client looks
//     the destination up only when its list arrives, so a destination
//     replaced on the peer is written afresh.
//   - Before every run the watcher checks that the session and the
//     master are alive; after a failed run it probes the forward. When
//     anything of it is gone it starts a new tunnel: new ports, new
//     password, nothing of the old one reused.
//   - The session start-up, measured when the tunnel starts (from the
//     session's start to its first line of output), is reported as
//     [Connection.SessionStart] (WatchConnected events,
//     [Watcher.Connection]).
//
// Trade-offs, against a session per run:
//
//   - Both loopback ports can be reached by the other local users of
//     their host. Without the password (128 random bits, made per tunnel,
//     checked by challenge and response, kept in a 0600 file on each
//     side, never in an argv or an environment) the daemon refuses them.
//   - rsync's daemon protocol does not authenticate the daemon to the
//     client, as ssh's host key does. Should the daemon or the master die,
//     a local user who binds the freed port before the watcher notices (a
//     few milliseconds) could receive a batch. Host keys are still
//     checked, by the master, and the network leg is still ssh's.
//   - The peer must have a POSIX sh, mktemp, and an rsync with daemon
//     mode; its sshd must allow TCP forwarding and not force a command.
//     Where it cannot, TransportAuto goes over sessions
//     ([TransportSession], two rsync sessions started ahead of need) for
//     [DaemonRetry], with a warning and a WatchConnected event carrying
//     the error.
//   - A process killed with SIGKILL on the peer cannot clean up: its
//     private directory (with the password of a daemon now dead) stays in
//     the peer's temporary directory.
//   - One daemon per watcher lives on the peer, with a forked process per
//     run and per client connected ahead (two).
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
