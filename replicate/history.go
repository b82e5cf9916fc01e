package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// History is what is remembered about one replica between status reads
// (and between processes, in a [HistoryStore]): the SQL-thread failure it
// is or was stopped on, whether it later moved past that failure without
// a data check since, and the last data check. A status alone cannot tell
// a replica that applied a failed transaction from one that skipped it:
// MariaDB 10.11 in file/position mode moves gtid_slave_pos past a
// transaction that failed with 1062 on a plain STOP SLAVE; START SLAVE,
// and the article's STOP SLAVE; RESET SLAVE; START SLAVE then resumes
// from there, running, lag 0, with those transactions missing. So a
// replica seen stopped on a failure and later running past it is
// suspect until a data check passes.
//
// The zero History knows nothing. Its methods are not safe for
// concurrent use; a HistoryStore serialises updates.
type History struct {
	// Failure is the SQL-thread error the replica was last seen stopped
	// on, until it moves past it or a data check passes (nil: none).
	Failure *Failure `json:"failure,omitempty"`
	// Skipped is set when the replica was seen past a Failure; it stays
	// until a data check passes.
	Skipped *SkipFinding `json:"skipped,omitempty"`
	// DataCheck is the last data check recorded.
	DataCheck *DataCheckResult `json:"data_check,omitempty"`
}

// Failure is an SQL-thread error seen on a replica: the transaction at
// the source coordinates ExecFile:ExecPos could not be applied.
type Failure struct {
	// Seen is when it was first seen.
	Seen time.Time `json:"seen"`
	// Errno and Message are the SQL thread's error.
	Errno   int    `json:"errno"`
	Message string `json:"message"`
	// SourceServerID is the source's server_id (0: unknown).
	SourceServerID int64 `json:"source_server_id,omitempty"`
	// ExecFile and ExecPos are where the SQL thread stopped, in the
	// source's binlog (Relay_Master_Log_File, Exec_Master_Log_Pos).
	ExecFile string `json:"exec_file"`
	ExecPos  int64  `json:"exec_pos"`
	// UsingGTID and GTIDSlavePos are the replica's as first seen.
	UsingGTID    string `json:"using_gtid,omitempty"`
	GTIDSlavePos string `json:"gtid_slave_pos,omitempty"`
	// MovedTo is gtid_slave_pos as later seen while the replica was
	// still stopped on this failure, when it had moved: the MariaDB
	// file/position anomaly. Switching to GTID (RESET SLAVE,
	// MASTER_USE_GTID=slave_pos) would then skip every transaction up
	// to it.
	MovedTo string `json:"moved_to,omitempty"`
}

// Point says where the failure is, for a human.
func (f Failure) Point() string {
	p := fmt.Sprintf("%s:%d", f.ExecFile, f.ExecPos)
	if f.GTIDSlavePos != "" {
		p += " (gtid_slave_pos " + f.GTIDSlavePos + ")"
	}
	return p
}

// SkipFinding says that a replica was seen running past a [Failure]
// without a data check since: whether the failed transaction (and, in
// the MariaDB anomaly, the ones after it) was applied or skipped is not
// known.
type SkipFinding struct {
	// Time is when the replica was first seen past the failure.
	Time time.Time `json:"time"`
	// Failure is the failure it moved past.
	Failure Failure `json:"failure"`
	// ExecFile, ExecPos, UsingGTID and GTIDSlavePos are the replica's
	// when it was seen past the failure.
	ExecFile     string `json:"exec_file"`
	ExecPos      int64  `json:"exec_pos"`
	UsingGTID    string `json:"using_gtid,omitempty"`
	GTIDSlavePos string `json:"gtid_slave_pos,omitempty"`
}

// String explains the finding in one line.
func (f SkipFinding) String() string {
	to := fmt.Sprintf("%s:%d", f.ExecFile, f.ExecPos)
	if f.ExecFile == "" {
		to = "a reset position"
	}
	s := fmt.Sprintf("moved past the transaction that failed with error %d at %s (first seen %s) to %s",
		f.Failure.Errno, f.Failure.Point(), f.Failure.Seen.Format(time.RFC3339), to)
	if f.GTIDSlavePos != "" {
		s += " (gtid_slave_pos " + f.GTIDSlavePos
		if f.UsingGTID != "" && f.UsingGTID != f.Failure.UsingGTID {
			s += ", Using_Gtid " + f.Failure.UsingGTID + " → " + f.UsingGTID
		}
		s += ")"
	}
	if f.Failure.MovedTo != "" {
		s += "; gtid_slave_pos had moved to " + f.Failure.MovedTo + " while it was stopped on the error, without applying the transactions"
	}
	return s + "; transactions may have been skipped: not fit until a data check passes"
}

// DataCheckResult is a data check as remembered.
type DataCheckResult struct {
	Time time.Time `json:"time"`
	// Equal is true when every compared table was equal.
	Equal bool `json:"equal"`
	// Differing lists the tables that differed.
	Differing []string `json:"differing,omitempty"`
	// Summary is the report's text, cut to a few lines.
	Summary string `json:"summary,omitempty"`
}

// String says when the check ran and what it found.
func (d DataCheckResult) String() string {
	if d.Equal {
		return "data check at " + d.Time.Format(time.RFC3339) + " found the copies equal"
	}
	return "data check at " + d.Time.Format(time.RFC3339) + " found differences in " + strings.Join(d.Differing, ", ")
}

// Observe updates h with a status read at now and reports whether h
// changed (a store need be written only then). A status with an SQL
// error records the failure (a new one when it is at another point; the
// replica then moved past the old one); a replica seen running past the
// failure, at another position or gtid_slave_pos, records a
// [SkipFinding]. A stopped replica is not judged until it runs again.
func (h *History) Observe(st MySQLStatus, now time.Time) bool {
	if st.SQLError.Errno != 0 {
		if h.Failure == nil || !h.Failure.at(st) {
			if h.Failure != nil && h.Skipped == nil {
				h.Skipped = newSkipFinding(*h.Failure, st, now)
			}
			h.Failure = newFailure(st, now)
			return true
		}
		if st.Vars.MariaDB && h.Failure.GTIDSlavePos != "" && st.Vars.GTIDSlavePos != h.Failure.GTIDSlavePos && st.Vars.GTIDSlavePos != h.Failure.MovedTo {
			h.Failure.MovedTo = st.Vars.GTIDSlavePos
			return true
		}
		return false
	}
	if h.Failure == nil || !st.SQLRunning || !h.Failure.movedPast(st) {
		return false
	}
	if h.Skipped == nil {
		h.Skipped = newSkipFinding(*h.Failure, st, now)
	}
	h.Failure = nil
	return true
}

func newFailure(st MySQLStatus, now time.Time) *Failure {
	msg := st.SQLError.Message
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	return &Failure{Seen: now, Errno: st.SQLError.Errno, Message: msg, SourceServerID: st.SourceServerID,
		ExecFile: st.ExecSourceLogFile, ExecPos: st.ExecSourceLogPos, UsingGTID: st.UsingGTID, GTIDSlavePos: st.Vars.GTIDSlavePos}
}

func newSkipFinding(f Failure, st MySQLStatus, now time.Time) *SkipFinding {
	return &SkipFinding{Time: now, Failure: f, ExecFile: st.ExecSourceLogFile, ExecPos: st.ExecSourceLogPos,
		UsingGTID: st.UsingGTID, GTIDSlavePos: st.Vars.GTIDSlavePos}
}

// at reports whether st is stopped at the same point as f.
func (f *Failure) at(st MySQLStatus) bool {
	return st.ExecSourceLogFile == f.ExecFile && st.ExecSourceLogPos == f.ExecPos && !f.otherSource(st)
}

func (f *Failure) otherSource(st MySQLStatus) bool {
	return f.SourceServerID != 0 && st.SourceServerID != 0 && f.SourceServerID != st.SourceServerID
}

// movedPast reports whether st is at another position than f: another
// source, another executed position, or another gtid_slave_pos. Right
// after RESET SLAVE; START SLAVE the executed position is empty until
// the first event runs: then only gtid_slave_pos tells.
func (f *Failure) movedPast(st MySQLStatus) bool {
	switch {
	case f.otherSource(st):
		return true
	case st.ExecSourceLogFile != "" && (st.ExecSourceLogFile != f.ExecFile || st.ExecSourceLogPos != f.ExecPos):
		return true
	}
	return st.Vars.MariaDB && f.GTIDSlavePos != "" && st.Vars.GTIDSlavePos != f.GTIDSlavePos
}

// RecordDataCheck records a data check finished at now. One that found
// every table equal clears the failure and the skip finding: the copies
// are known equal again.
func (h *History) RecordDataCheck(rep DataReport, now time.Time) {
	d := &DataCheckResult{Time: now, Equal: rep.Equal(), Differing: rep.Differing()}
	if !d.Equal {
		d.Summary = rep.String()
		if len(d.Summary) > 2048 {
			d.Summary = d.Summary[:2048] + "…"
		}
	}
	h.DataCheck = d
	if d.Equal {
		h.Failure, h.Skipped = nil, nil
	}
}

// Hazard returns a warning when the replica is stopped on a failure
// whose gtid_slave_pos moved meanwhile (the MariaDB file/position
// anomaly): the next RESET SLAVE or switch to GTID skips transactions.
// "" otherwise.
func (h History) Hazard() string {
	if h.Failure == nil || h.Failure.MovedTo == "" {
		return ""
	}
	return fmt.Sprintf("gtid_slave_pos moved from %s to %s while the SQL thread stayed stopped on error %d at %s:%d (MariaDB in file/position mode after START SLAVE): "+
		"RESET SLAVE or MASTER_USE_GTID=slave_pos would now skip the transactions in between; repair with replace-row or reseed",
		h.Failure.GTIDSlavePos, h.Failure.MovedTo, h.Failure.Errno, h.Failure.ExecFile, h.Failure.ExecPos)
}

// HistoryStore keeps the [History] of each replica beyond the process
// that observed it, so that a failure seen by one `status` is still
// known to the next, or to the daemon. Implementations must be safe for
// concurrent use, also from several processes.
type HistoryStore interface {
	// Load returns the history of the named replica; the zero History
	// when nothing is known.
	Load(ctx context.Context, name string) (History, error)
	// Update applies f to the named replica's history, holding off
	// other updates meanwhile, stores it when f reports a change, and
	// returns it.
	Update(ctx context.Context, name string, f func(*History) bool) (History, error)
}

// HistoryFile is a [HistoryStore] in one small JSON file, an object
// mapping each replica's name to its [History]. Updates hold an flock on
// Path+".lock" for the read-modify-write and replace the file
// atomically (a temporary file in the same directory, synced, then
// renamed). A missing file means nothing is known yet.
type HistoryFile struct {
	// Path is the JSON file; its directory must exist.
	Path string
}

var _ HistoryStore = (*HistoryFile)(nil)

// Load returns the history of name.
func (s *HistoryFile) Load(ctx context.Context, name string) (History, error) {
	all, err := s.read()
	if err != nil {
		return History{}, err
	}
	return all[name], nil
}

// Update applies f to the history of name (see [HistoryStore]).
func (s *HistoryFile) Update(ctx context.Context, name string, f func(*History) bool) (History, error) {
	lock, err := os.OpenFile(s.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return History{}, fmt.Errorf("replicate: history: %w", err)
	}
	defer lock.Close() // closing releases the flock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return History{}, fmt.Errorf("replicate: history: lock %s: %w", lock.Name(), err)
	}
	all, err := s.read()
	if err != nil {
		return History{}, err
	}
	h := all[name]
	if !f(&h) {
		return h, nil
	}
	all[name] = h
	return h, s.write(all)
}

func (s *HistoryFile) read() (map[string]History, error) {
	all := map[string]History{}
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return all, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replicate: history: %w", err)
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("replicate: history %s: %w", s.Path, err)
	}
	return all, nil
}

func (s *HistoryFile) write(all map[string]History) error {
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("replicate: history: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), "."+filepath.Base(s.Path)+".*")
	if err != nil {
		return fmt.Errorf("replicate: history: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.Path)
	}
	if err != nil {
		return fmt.Errorf("replicate: history %s: %w", s.Path, err)
	}
	return nil
}
