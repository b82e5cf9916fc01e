package replicate

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of the promotion gate ([Promotable]), besides [ErrNotRunning],
// [ErrLagging] and [ErrNotConfigured].
var (
	// ErrNotPromotable: the replica is not fit to be promoted; the
	// error also wraps the sentinel of each problem.
	ErrNotPromotable = errors.New("replicate: replica not fit to be promoted")
	// ErrStatusUnknown: the replica's status could not be read; not
	// knowing is unsafe.
	ErrStatusUnknown = errors.New("replicate: replica status unknown")
	// ErrDiverged: the last data check found the copies different.
	ErrDiverged = errors.New("replicate: replica diverged from its source")
	// ErrSkipped: the replica moved past a transaction that had failed,
	// without a data check since: it may lack transactions.
	ErrSkipped = errors.New("replicate: replica may have skipped transactions")
)

// PromotionReason names one reason a replica is not fit to be promoted.
type PromotionReason string

// The reasons, each with the sentinel its problem wraps.
const (
	// ReasonUnknown: the status could not be read (ErrStatusUnknown).
	ReasonUnknown PromotionReason = "unknown"
	// ReasonNotReplicating: the server has no replica configured
	// (ErrNotConfigured): nothing says it holds the source's data.
	ReasonNotReplicating PromotionReason = "not_replicating"
	// ReasonBroken: the SQL thread is stopped or failed, or the IO
	// thread is stopped or fails on anything but a connection error
	// (ErrNotRunning).
	ReasonBroken PromotionReason = "broken"
	// ReasonLagging: further behind than MaxLag, or lag unknown with
	// relay log not yet applied (ErrLagging).
	ReasonLagging PromotionReason = "lagging"
	// ReasonDiverged: the last data check found differences
	// (ErrDiverged).
	ReasonDiverged PromotionReason = "diverged"
	// ReasonSkipped: the replica moved past a failed transaction without
	// a data check since, or its gtid_slave_pos moved while it was
	// stopped on one (ErrSkipped).
	ReasonSkipped PromotionReason = "skipped_transactions"
)

// PromotionInput is what the promotion gate judges: a replica's status
// (or the error reading it), what is remembered about it, and the limits.
type PromotionInput struct {
	// Server names the replica in the verdict (default: Status.Server).
	Server string
	// Status is the replica's status; StatusErr the error reading it.
	Status    MySQLStatus
	StatusErr error
	// MaxLag is the largest lag allowed (default DefaultMaxLag).
	MaxLag time.Duration
	// RequireConnected makes a replica that is not connected to its
	// source, or whose lag is unknown, unfit: the standby's health while
	// its primary serves. False is the promotion after the primary died:
	// a replica whose IO thread cannot reach the source (a connection
	// error) but whose SQL thread applied everything it received is fit,
	// with a note.
	RequireConnected bool
	// DataCheck is the last data check recorded (nil: none; not a
	// refusal by itself).
	DataCheck *DataCheckResult
	// Skipped is the skipped-transaction finding (nil: none).
	Skipped *SkipFinding
	// Hazard is [History.Hazard] ("" when none).
	Hazard string
}

// Input returns the gate's input for a status (or the error reading it)
// with what h remembers.
func (h History) Input(st MySQLStatus, statusErr error, maxLag time.Duration) PromotionInput {
	return PromotionInput{Status: st, StatusErr: statusErr, MaxLag: maxLag, DataCheck: h.DataCheck, Skipped: h.Skipped, Hazard: h.Hazard()}
}

// PromotionProblem is one reason against promotion.
type PromotionProblem struct {
	Reason PromotionReason
	// Detail explains it for a human.
	Detail string
	// Err is the reason's sentinel.
	Err error
}

// PromotionVerdict is the promotion gate's answer.
type PromotionVerdict struct {
	// Server names the replica.
	Server string
	// Fit is true when there is no problem.
	Fit bool
	// Problems are the reasons against promotion, most serious first.
	Problems []PromotionProblem
	// Notes are facts that do not refuse promotion but belong in the
	// switch event (lag unknown because the source is unreachable).
	Notes []string
}

// Reasons lists the problems' reasons.
func (v PromotionVerdict) Reasons() []PromotionReason {
	out := make([]PromotionReason, 0, len(v.Problems))
	for _, p := range v.Problems {
		out = append(out, p.Reason)
	}
	return out
}

// Err returns nil when the replica is fit; otherwise an error naming the
// server and every problem, wrapping [ErrNotPromotable] and each
// problem's sentinel.
func (v PromotionVerdict) Err() error {
	if v.Fit {
		return nil
	}
	errs := []error{ErrNotPromotable}
	var details []string
	for _, p := range v.Problems {
		errs = append(errs, p.Err)
		details = append(details, string(p.Reason)+": "+p.Detail)
	}
	return &promotionError{server: v.Server, details: details, errs: errs}
}

type promotionError struct {
	server  string
	details []string
	errs    []error
}

func (e *promotionError) Error() string {
	return fmt.Sprintf("replicate: %s not fit to be promoted: %s", e.server, strings.Join(e.details, "; "))
}

func (e *promotionError) Unwrap() []error { return e.errs }

// String is "fit" or the problems, then the notes, in one line.
func (v PromotionVerdict) String() string {
	var parts []string
	if v.Fit {
		parts = append(parts, "fit")
	}
	for _, p := range v.Problems {
		parts = append(parts, string(p.Reason)+": "+p.Detail)
	}
	parts = append(parts, v.Notes...)
	return strings.Join(parts, "; ")
}

// Promotable is the promotion gate: it says whether the replica may be
// promoted (take the traffic and the writes) and, when not, every reason:
// status unreadable (an unsafe unknown, never a pass), no replica
// configured, broken, lagging over MaxLag, diverged (the last data check
// found differences), skipped transactions (moved past a failed
// transaction with no data check since). It does no I/O: the caller
// reads the status ([MySQL.ReplicaStatus]) and the [History] (see
// [History.Input]); a forced switch may go on despite the verdict, and
// should say so in its event. Semi-synchronous replication is read
// separately, on the primary ([MySQL.SemiSync], [SemiSync.Acknowledged]).
func Promotable(in PromotionInput) PromotionVerdict {
	if in.MaxLag <= 0 {
		in.MaxLag = DefaultMaxLag
	}
	st := in.Status
	v := PromotionVerdict{Server: in.Server}
	if v.Server == "" {
		v.Server = st.Server
	}
	add := func(r PromotionReason, sentinel error, format string, args ...any) {
		v.Problems = append(v.Problems, PromotionProblem{Reason: r, Detail: fmt.Sprintf(format, args...), Err: sentinel})
	}
	switch {
	case errors.Is(in.StatusErr, ErrNotConfigured):
		add(ReasonNotReplicating, ErrNotConfigured, "no replica configured: nothing says it holds its source's data")
	case in.StatusErr != nil:
		add(ReasonUnknown, ErrStatusUnknown, "status unreadable, unsafe to promote: %v", in.StatusErr)
	default:
		judgeThreads(in, add, &v.Notes)
	}
	if in.Hazard != "" {
		add(ReasonSkipped, ErrSkipped, "%s", in.Hazard)
	}
	if in.Skipped != nil {
		add(ReasonSkipped, ErrSkipped, "%s", in.Skipped)
	}
	if in.DataCheck != nil && !in.DataCheck.Equal {
		add(ReasonDiverged, ErrDiverged, "%s; not fit until a data check passes", in.DataCheck)
	}
	v.Fit = len(v.Problems) == 0
	return v
}

// judgeThreads adds the problems of the threads and the lag.
func judgeThreads(in PromotionInput, add func(PromotionReason, error, string, ...any), notes *[]string) {
	st := in.Status
	switch {
	case st.SQLError.Errno != 0:
		add(ReasonBroken, ErrNotRunning, "SQL thread: %s", st.SQLError)
		return
	case !st.SQLRunning:
		add(ReasonBroken, ErrNotRunning, "SQL thread stopped (no error reported)")
		return
	case st.IORunning == ThreadNo && st.IOError.Errno == 0:
		add(ReasonBroken, ErrNotRunning, "IO thread stopped: it receives nothing from its source")
		return
	case st.IOError.Errno != 0 && st.IOError.Class != ClassConnection:
		add(ReasonBroken, ErrNotRunning, "IO thread: %s", st.IOError)
		return
	case st.IOError.Errno != 0 && in.RequireConnected:
		add(ReasonBroken, ErrNotRunning, "IO thread: %s", st.IOError)
		return
	}
	switch {
	case st.Lag > in.MaxLag:
		add(ReasonLagging, ErrLagging, "%v behind (limit %v)", st.Lag, in.MaxLag)
	case st.Lag >= 0:
	case !st.Caught():
		add(ReasonLagging, ErrLagging, "lag unknown and relay log not applied (read %s:%d, executed %s:%d)",
			st.SourceLogFile, st.ReadSourceLogPos, st.ExecSourceLogFile, st.ExecSourceLogPos)
	case in.RequireConnected:
		add(ReasonLagging, ErrLagging, "lag unknown (IO thread %s)", st.IORunning)
	case st.IOError.Errno != 0:
		*notes = append(*notes, fmt.Sprintf("source unreachable (%s): lag unknown, but the replica applied everything it received (%s:%d)",
			st.IOError, st.ExecSourceLogFile, st.ExecSourceLogPos))
	default:
		*notes = append(*notes, fmt.Sprintf("lag unknown (IO thread %s), but the replica applied everything it received (%s:%d)",
			st.IORunning, st.ExecSourceLogFile, st.ExecSourceLogPos))
	}
}
