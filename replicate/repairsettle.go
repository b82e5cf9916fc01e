package replicate

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// attempt is one run of a repair: the report, and what a failure part-way
// needs to leave the replica as it was found.
type attempt struct {
	*RepairReport
	// undo are statements that put the replica's position back (a
	// skip's SET GLOBAL gtid_slave_pos), run newest first when the repair
	// fails after them.
	undo []string
	// noRestore, when set, says why the replica must not be started
	// again after a failure (a reseed that loaded part of its dump).
	noRestore string
	// irreversible says what ran that cannot be undone.
	irreversible []string
	// unsettled says which thread had not settled when the wait for it
	// ended ("" when both had).
	unsettled string
}

// settlePoll is how often the replica's status is read while waiting for
// its threads to settle.
const settlePoll = 20 * time.Millisecond

// settle waits until the replica caught up with the source or stopped
// again, then until its threads are in a settled state (not Preparing or
// Connecting without an error), then reads the status and runs the data
// check.
func (r *Repairer) settle(ctx context.Context, a *attempt) error {
	caught, err := r.waitCaughtUp(ctx)
	if err != nil {
		return err
	}
	after, ok, err := r.waitSettled(ctx)
	if err != nil {
		return err
	}
	if !ok {
		a.unsettled = fmt.Sprintf("the IO thread still said %s (SQL thread running=%t) %v after the repair", after.IORunning, after.SQLRunning, r.cfg.CatchUpTimeout)
	}
	a.After = after
	a.Resumed = caught && after.Running() && after.SQLError.Errno == 0
	check := r.cfg.Check
	if len(check.Tables) == 0 {
		check.Tables = r.cfg.Schemas
	}
	if len(check.Tables) == 0 {
		a.DataNote = "not checked: no tables or schemas configured for the data check"
	} else {
		data, err := CompareTables(ctx, r.cfg.Source, r.cfg.Replica, check)
		if err != nil {
			a.DataNote = "not checked: " + err.Error()
			return err
		}
		a.Data, a.DataChecked = data, true
	}
	a.Converged = a.Resumed && a.DataChecked && a.Data.Equal()
	return nil
}

// Settled reports whether the replica's threads are in a state worth
// judging: the IO thread runs, is stopped, or is retrying on an error
// (the SQL thread's state is always final: running or stopped). Right
// after START SLAVE the IO thread says Preparing, then Connecting, for a
// moment, while the SQL thread may already have applied everything:
// not settled yet.
func (s MySQLStatus) Settled() bool {
	return s.IORunning == ThreadYes || s.IORunning == ThreadNo || s.IOError.Errno != 0
}

// waitSettled reads the replica's status until it is Settled, for at most
// CatchUpTimeout; ok is false when it was not by then (the last status
// is returned).
func (r *Repairer) waitSettled(ctx context.Context) (MySQLStatus, bool, error) {
	deadline := time.Now().Add(r.cfg.CatchUpTimeout)
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	for {
		st, err := r.cfg.Replica.ReplicaStatus(ctx)
		if err != nil {
			return st, false, err
		}
		if st.Settled() {
			return st, true, nil
		}
		if time.Now().After(deadline) {
			return st, false, nil
		}
		select {
		case <-ctx.Done():
			return st, false, ctx.Err()
		case <-tick.C:
		}
	}
}

// waitCaughtUp waits until the replica's SQL thread has executed the
// source's current binlog position (true), or stopped with an error
// (false), or CatchUpTimeout passed (an error).
func (r *Repairer) waitCaughtUp(ctx context.Context) (bool, error) {
	caught, timedOut, err := waitCaughtUp(ctx, r.cfg.Source, r.cfg.Replica, r.cfg.CatchUpTimeout)
	if timedOut {
		return false, fmt.Errorf("replicate: %s: not caught up with %s after %v", r.cfg.Replica.Name(), r.cfg.Source.Name(), r.cfg.CatchUpTimeout)
	}
	return caught, err
}

// WaitCaughtUp waits, for at most timeout, until replica's SQL thread has
// executed everything source had written to its binary log when
// WaitCaughtUp was called (true). It returns false, without an error,
// when the replica stopped on an error first or timeout passed; an error
// when a server could not be read. A data check run after it does not
// see differences that are only in flight.
func WaitCaughtUp(ctx context.Context, source, replica *MySQL, timeout time.Duration) (bool, error) {
	caught, _, err := waitCaughtUp(ctx, source, replica, timeout)
	return caught, err
}

func waitCaughtUp(ctx context.Context, source, replica *MySQL, timeout time.Duration) (caught, timedOut bool, err error) {
	file, pos, err := source.binlogPosition(ctx)
	if err != nil {
		return false, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := "MASTER_POS_WAIT(?, ?, 1)"
	args := []any{file, pos}
	if conn := replica.cfg.Connection; conn != "" {
		wait = "MASTER_POS_WAIT(?, ?, 1, ?)"
		args = append(args, conn)
	}
	for {
		var res *int64
		if err := replica.db.QueryRowContext(ctx, "SELECT "+wait, args...).Scan(&res); err != nil {
			if ctx.Err() != nil {
				return false, true, nil
			}
			return false, false, replica.wrap("SELECT "+wait, err)
		}
		if res != nil && *res >= 0 {
			return true, false, nil
		}
		st, err := replica.ReplicaStatus(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, true, nil
			}
			return false, false, err
		}
		if !st.SQLRunning && st.SQLError.Errno != 0 || st.IOError.Errno != 0 && st.IORunning == ThreadNo {
			return false, false, nil
		}
		if ctx.Err() != nil {
			return false, true, nil
		}
		if res == nil {
			// SQL thread not (yet) running: MASTER_POS_WAIT returned at
			// once, so pause before asking again.
			select {
			case <-ctx.Done():
			case <-time.After(settlePoll):
			}
		}
	}
}

// restore leaves the replica, after a repair that failed part-way, as it
// was found where it can: it runs the undo statements and starts the
// threads that ran before and do not now. It says in rep.Restored what
// it did and the state the replica is in, and how to get back when it
// could not.
func (r *Repairer) restore(ctx context.Context, a *attempt) {
	name := r.cfg.Replica.Name()
	before := a.Before
	now, err := r.cfg.Replica.ReplicaStatus(ctx)
	if err != nil {
		a.Restored = fmt.Sprintf("the replica's state after the failure is unknown (%v): look at SHOW SLAVE STATUS on %s", err, name)
		return
	}
	a.After = now
	var notes []string
	notes = append(notes, a.irreversible...)
	if a.noRestore != "" {
		a.Restored = strings.Join(append(notes, a.noRestore, "now "+statusLine(now)), "; ")
		return
	}
	var todo []string
	for i := len(a.undo) - 1; i >= 0; i-- {
		todo = append(todo, a.undo[i])
	}
	io := before.IORunning != ThreadNo && now.IORunning == ThreadNo
	sql := before.SQLRunning && !now.SQLRunning
	switch {
	case io && sql:
		todo = append(todo, r.stmt("START", before.Vars))
	case io:
		todo = append(todo, r.stmtThreads("START", "IO_THREAD", before.Vars))
	case sql:
		todo = append(todo, r.stmtThreads("START", "SQL_THREAD", before.Vars))
	}
	found := fmt.Sprintf("found with io=%s sql=%t", before.IORunning, before.SQLRunning)
	if len(todo) == 0 {
		if len(notes) > 0 {
			a.Restored = strings.Join(append(notes, "now "+statusLine(now)), "; ")
		}
		return
	}
	for i, q := range todo {
		r.log.Debug("exec", "sql", q, "step", "restore")
		if _, err := r.cfg.Replica.db.ExecContext(ctx, q); err != nil {
			err = r.cfg.Replica.wrap(q, err)
			after, _ := r.cfg.Replica.ReplicaStatus(ctx)
			if after.Server != "" {
				a.After = after
			}
			notes = append(notes, fmt.Sprintf("could not leave the replica as found (%s): %v; it is left with %s; to get back, run on %s: %s",
				found, err, statusLine(a.After), name, strings.Join(todo[i:], "; ")))
			a.Restored = strings.Join(notes, "; ")
			return
		}
		a.Statements = append(a.Statements, q+" -- restore")
	}
	if st, _, err := r.waitSettled(ctx); err == nil {
		a.After = st
	}
	notes = append(notes, fmt.Sprintf("ran %s to leave the replica as found (%s): now %s", strings.Join(todo, "; "), found, statusLine(a.After)))
	a.Restored = strings.Join(notes, "; ")
}
