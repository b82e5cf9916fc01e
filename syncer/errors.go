package syncer

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Failures of rsync, unison and ssh are [*ExitError]
// values that match one or more of these with errors.Is.
var (
	// ErrPartial: the run ended early and left part of the tree
	// unsynchronised (rsync exit 23 or 24, unison exit 2).
	ErrPartial = errors.New("syncer: partial transfer")
	// ErrFailed: the program failed outright (any other non-zero exit).
	ErrFailed = errors.New("syncer: sync failed")
	// ErrSSH: the ssh connection failed (exit 255), including a refused
	// host key.
	ErrSSH = errors.New("syncer: ssh failed")
	// ErrHostKey: the peer's host key is unknown or does not match the
	// pinned known_hosts entry. It comes with ErrSSH.
	ErrHostKey = errors.New("syncer: ssh host key verification failed")
	// ErrConflict: unison left paths changed on both sides alone; they are
	// listed in Report.Conflicts.
	ErrConflict = errors.New("syncer: conflicts left unresolved")
	// ErrBusy: another sync holds the overlap lock.
	ErrBusy = errors.New("syncer: another sync is running")
	// ErrNoSource: the source directory does not exist.
	ErrNoSource = errors.New("syncer: source directory missing")
	// ErrEmptySource: a sync with deletion found its source empty and
	// refused to empty the destination (see RsyncConfig.AllowEmptySource).
	ErrEmptySource = errors.New("syncer: source directory is empty; refusing to delete everything on the other side")
	// ErrInotifyLimit: the kernel ran out of inotify watches or
	// instances (fs.inotify.max_user_watches / max_user_instances).
	ErrInotifyLimit = errors.New("syncer: inotify limit reached")
	// ErrStale: the last successful sync is older than allowed.
	ErrStale = errors.New("syncer: last successful sync too old")
)

// ExitError is a synchronisation program that exited non-zero. It
// matches its classes (ErrPartial, ErrFailed, ErrSSH, ErrHostKey,
// ErrConflict) with errors.Is and unwraps to the command's error, which
// in turn unwraps to *exec.ExitError.
type ExitError struct {
	// Tool is "rsync", "unison", "ssh" or "lsyncd".
	Tool string
	// Code is the exit status (-1 when killed by a signal).
	Code int
	// Meaning is the documented meaning of Code.
	Meaning string
	// Err is the command's error, with its (bounded) stderr.
	Err error

	classes []error
}

// Error formats the failure as "TOOL exit CODE (MEANING): CAUSE".
func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exit %d (%s): %v", e.Tool, e.Code, e.Meaning, e.Err)
}

// Unwrap returns the command's error.
func (e *ExitError) Unwrap() error { return e.Err }

// Is reports whether target is one of the error's classes.
func (e *ExitError) Is(target error) bool {
	for _, c := range e.classes {
		if c == target {
			return true
		}
	}
	return false
}

// rsyncMeanings are rsync(1)'s EXIT VALUES.
var rsyncMeanings = map[int]string{
	1:   "syntax or usage error",
	2:   "protocol incompatibility",
	3:   "errors selecting input/output files, dirs",
	4:   "requested action not supported",
	5:   "error starting client-server protocol",
	6:   "daemon unable to append to log-file",
	10:  "error in socket I/O",
	11:  "error in file I/O",
	12:  "error in rsync protocol data stream",
	13:  "errors with program diagnostics",
	14:  "error in IPC code",
	20:  "received SIGUSR1 or SIGINT",
	21:  "some error returned by waitpid()",
	22:  "error allocating core memory buffers",
	23:  "partial transfer due to error",
	24:  "partial transfer due to vanished source files",
	25:  "the --max-delete limit stopped deletions",
	30:  "timeout in data send/receive",
	35:  "timeout waiting for daemon connection",
	255: "ssh failed",
}

// rsyncExit classifies an rsync exit status.
func rsyncExit(code int, stderr string, err error) *ExitError {
	e := &ExitError{Tool: "rsync", Code: code, Meaning: rsyncMeanings[code], Err: err}
	switch code {
	case 23, 24:
		e.classes = []error{ErrPartial}
	case 255:
		e.classes = []error{ErrSSH}
	default:
		e.classes = []error{ErrFailed}
	}
	if e.Meaning == "" {
		e.Meaning = "unknown"
		if code < 0 {
			e.Meaning = "killed by a signal"
		}
	}
	e.classes = append(e.classes, sshClasses(stderr)...)
	return e
}

// unisonExit classifies a unison exit status (unison(1): 0 all fine,
// 1 some items skipped, 2 non-fatal failures, 3 fatal error).
func unisonExit(code int, stderr string, conflicts int, err error) *ExitError {
	e := &ExitError{Tool: "unison", Code: code, Err: err}
	switch code {
	case 1:
		e.Meaning = "some files were skipped"
		e.classes = []error{ErrConflict}
	case 2:
		e.Meaning = "non-fatal failures during file transfer"
		e.classes = []error{ErrPartial}
	case 3:
		e.Meaning = "fatal error"
		e.classes = []error{ErrFailed}
	default:
		e.Meaning = "unknown"
		e.classes = []error{ErrFailed}
	}
	if conflicts > 0 && code != 1 {
		e.classes = append(e.classes, ErrConflict)
	}
	e.classes = append(e.classes, sshClasses(stderr)...)
	return e
}

// sshExit classifies the exit of a remote command run over ssh.
func sshExit(code int, stderr string, err error) *ExitError {
	e := &ExitError{Tool: "ssh", Code: code, Meaning: "remote command failed", Err: err, classes: []error{ErrFailed}}
	if code == 255 {
		e.Meaning = "ssh failed"
		e.classes = []error{ErrSSH}
	}
	e.classes = append(e.classes, sshClasses(stderr)...)
	return e
}

// sshClasses recognises OpenSSH's host-key refusals in stderr.
func sshClasses(stderr string) []error {
	if strings.Contains(stderr, "Host key verification failed") ||
		strings.Contains(stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
		strings.Contains(stderr, "No ED25519 host key is known") ||
		strings.Contains(stderr, "host key is known for") {
		return []error{ErrSSH, ErrHostKey}
	}
	return nil
}
