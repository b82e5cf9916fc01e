package replicate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// seedStatus is B's status at one step of the seed's scenario in
// file/position mode, as a real MariaDB 10.11 reported it.
func seedStatus(io ThreadState, sqlRunning bool, usingGTID string, execPos int64, gtid string, errno int) MySQLStatus {
	s := MySQLStatus{Server: "b:3306", IORunning: io, SQLRunning: sqlRunning, UsingGTID: usingGTID, SourceServerID: 1,
		SourceLogFile: "mysql-bin.000001", ReadSourceLogPos: 1336, ExecSourceLogFile: "mysql-bin.000001", ExecSourceLogPos: execPos,
		Lag: -1, Vars: ServerVars{MariaDB: true, GTIDSlavePos: gtid}}
	if errno != 0 {
		s.SQLError = ReplError{Errno: errno, Class: ClassifyErrno(errno), Message: "Duplicate entry '10' for key 'PRIMARY'"}
	}
	if sqlRunning && io == ThreadYes && errno == 0 {
		s.Lag = 0
		s.ReadSourceLogPos = execPos
	}
	return s
}

func TestHistorySeedScenario(t *testing.T) {
	var h History
	healthy := seedStatus(ThreadYes, true, "No", 853, "1-1-3", 0)
	assert.False(t, h.Observe(healthy, t0), "nothing to remember")
	broken := seedStatus(ThreadYes, false, "No", 853, "1-1-3", 1062)
	assert.True(t, h.Observe(broken, t0.Add(time.Minute)))
	require.NotNil(t, h.Failure)
	assert.Equal(t, "mysql-bin.000001:853 (gtid_slave_pos 1-1-3)", h.Failure.Point())
	assert.False(t, h.Observe(broken, t0.Add(2*time.Minute)), "same failure: no write")
	assert.Empty(t, h.Hazard())

	// STOP SLAVE; START SLAVE: still failing at 853, gtid_slave_pos now 1-1-5.
	restarted := seedStatus(ThreadYes, false, "No", 853, "1-1-5", 1062)
	assert.True(t, h.Observe(restarted, t0.Add(3*time.Minute)))
	assert.Equal(t, "1-1-5", h.Failure.MovedTo)
	assert.Contains(t, h.Hazard(), "gtid_slave_pos moved from 1-1-3 to 1-1-5")
	v := Promotable(h.Input(restarted, nil, time.Minute))
	assert.Equal(t, []PromotionReason{ReasonBroken, ReasonSkipped}, v.Reasons())

	// STOP SLAVE; RESET SLAVE: no position; not judged yet.
	reset := seedStatus(ThreadNo, false, "Slave_Pos", 0, "1-1-5", 0)
	reset.ExecSourceLogFile = ""
	assert.False(t, h.Observe(reset, t0.Add(4*time.Minute)))
	assert.Nil(t, h.Skipped)

	// START SLAVE: running, lag 0, two transactions missing. Before its
	// first event the executed position is empty: gtid_slave_pos tells.
	started := seedStatus(ThreadYes, true, "Slave_Pos", 4, "1-1-5", 0)
	started.ExecSourceLogFile = ""
	assert.True(t, h.Observe(started, t0.Add(5*time.Minute)))
	running := seedStatus(ThreadYes, true, "Slave_Pos", 1336, "1-1-5", 0)
	assert.False(t, h.Observe(running, t0.Add(5*time.Minute)))
	require.NotNil(t, h.Skipped)
	assert.Nil(t, h.Failure)
	assert.Contains(t, h.Skipped.String(), "moved past the transaction that failed with error 1062 at mysql-bin.000001:853 (gtid_slave_pos 1-1-3)")
	assert.Contains(t, h.Skipped.String(), "to a reset position (gtid_slave_pos 1-1-5")
	assert.Contains(t, h.Skipped.String(), "Using_Gtid No → Slave_Pos")
	assert.Contains(t, h.Skipped.String(), "had moved to 1-1-5")
	v = Promotable(h.Input(running, nil, time.Minute))
	assert.False(t, v.Fit)
	assert.Equal(t, []PromotionReason{ReasonSkipped}, v.Reasons())
	assert.False(t, h.Observe(running, t0.Add(6*time.Minute)), "sticky, written once")

	// A data check finds the differences: diverged too.
	diff := DataReport{Tables: []TableResult{{Table: "lab.t"}}}
	h.RecordDataCheck(diff, t0.Add(7*time.Minute))
	v = Promotable(h.Input(running, nil, time.Minute))
	assert.Equal(t, []PromotionReason{ReasonSkipped, ReasonDiverged}, v.Reasons())
	assert.ErrorIs(t, v.Err(), ErrDiverged)
	assert.ErrorIs(t, v.Err(), ErrSkipped)
	assert.ErrorIs(t, v.Err(), ErrNotPromotable)

	// Repaired, and a data check passes: fit again.
	h.RecordDataCheck(DataReport{Tables: []TableResult{{Table: "lab.t", Equal: true}}}, t0.Add(8*time.Minute))
	v = Promotable(h.Input(running, nil, time.Minute))
	assert.True(t, v.Fit, v.String())
	assert.NoError(t, v.Err())
	assert.True(t, h.DataCheck.Equal)
}

func TestHistoryGTIDRestartIsNotASkip(t *testing.T) {
	// GTID mode: STOP/RESET/START fetches the same transaction, which
	// fails again at the same point.
	var h History
	broken := seedStatus(ThreadYes, false, "Slave_Pos", 633, "1-1-2", 1062)
	h.Observe(broken, t0)
	reset := seedStatus(ThreadNo, false, "Slave_Pos", 0, "1-1-2", 0)
	reset.ExecSourceLogFile = ""
	h.Observe(reset, t0.Add(time.Second))
	starting := seedStatus(ThreadPreparing, true, "Slave_Pos", 633, "1-1-2", 0)
	h.Observe(starting, t0.Add(2*time.Second))
	h.Observe(broken, t0.Add(3*time.Second))
	assert.Nil(t, h.Skipped)
	assert.NotNil(t, h.Failure)
	assert.Empty(t, h.Hazard())

	// Another failure later on: it moved past the first.
	later := seedStatus(ThreadYes, false, "Slave_Pos", 900, "1-1-4", 1032)
	assert.True(t, h.Observe(later, t0.Add(4*time.Second)))
	require.NotNil(t, h.Skipped)
	assert.Equal(t, 1062, h.Skipped.Failure.Errno)
	assert.Equal(t, int64(900), h.Failure.ExecPos)
}

func TestPromotable(t *testing.T) {
	running := seedStatus(ThreadYes, true, "Slave_Pos", 1336, "1-1-5", 0)
	lagging := running
	lagging.Lag = 2 * time.Minute
	sourceDown := running
	sourceDown.IORunning, sourceDown.Lag = ThreadConnecting, -1
	sourceDown.IOError = ReplError{Errno: 2003, Class: ClassConnection, Message: "Can't connect"}
	unapplied := sourceDown
	unapplied.ReadSourceLogPos = 2000
	authFail := sourceDown
	authFail.IOError = ReplError{Errno: 1045, Class: ClassAuth, Message: "Access denied"}
	ioStopped := running
	ioStopped.IORunning, ioStopped.Lag = ThreadNo, -1
	sqlStopped := running
	sqlStopped.SQLRunning, sqlStopped.Lag = false, -1
	broken := seedStatus(ThreadYes, false, "Slave_Pos", 853, "1-1-3", 1062)

	tests := []struct {
		name      string
		in        PromotionInput
		reasons   []PromotionReason
		sentinels []error
		note      string
		detail    string
	}{
		{name: "fit", in: PromotionInput{Status: running}},
		{name: "status unreadable", in: PromotionInput{StatusErr: errors.New("dial tcp: connection refused"), Server: "b"},
			reasons: []PromotionReason{ReasonUnknown}, sentinels: []error{ErrStatusUnknown}, detail: "unsafe to promote: dial tcp"},
		{name: "no replica", in: PromotionInput{StatusErr: fmt.Errorf("x: %w", ErrNotConfigured)},
			reasons: []PromotionReason{ReasonNotReplicating}, sentinels: []error{ErrNotConfigured}},
		{name: "broken", in: PromotionInput{Status: broken}, reasons: []PromotionReason{ReasonBroken}, sentinels: []error{ErrNotRunning}, detail: "error 1062"},
		{name: "SQL thread stopped", in: PromotionInput{Status: sqlStopped}, reasons: []PromotionReason{ReasonBroken}, sentinels: []error{ErrNotRunning}},
		{name: "IO thread stopped", in: PromotionInput{Status: ioStopped}, reasons: []PromotionReason{ReasonBroken}, sentinels: []error{ErrNotRunning}},
		{name: "lagging", in: PromotionInput{Status: lagging, MaxLag: time.Minute}, reasons: []PromotionReason{ReasonLagging}, sentinels: []error{ErrLagging}, detail: "2m0s behind (limit 1m0s)"},
		{name: "source down, all applied", in: PromotionInput{Status: sourceDown}, note: "source unreachable"},
		{name: "source down, all applied, standby check", in: PromotionInput{Status: sourceDown, RequireConnected: true},
			reasons: []PromotionReason{ReasonBroken}, sentinels: []error{ErrNotRunning}},
		{name: "source down, relay log not applied", in: PromotionInput{Status: unapplied}, reasons: []PromotionReason{ReasonLagging}, sentinels: []error{ErrLagging}},
		{name: "replication account refused", in: PromotionInput{Status: authFail}, reasons: []PromotionReason{ReasonBroken}, sentinels: []error{ErrNotRunning}},
		{name: "diverged", in: PromotionInput{Status: running, DataCheck: &DataCheckResult{Time: t0, Differing: []string{"lab.t"}}},
			reasons: []PromotionReason{ReasonDiverged}, sentinels: []error{ErrDiverged}, detail: "found differences in lab.t"},
		{name: "equal data check", in: PromotionInput{Status: running, DataCheck: &DataCheckResult{Time: t0, Equal: true}}},
		{name: "skipped", in: PromotionInput{Status: running, Skipped: &SkipFinding{Failure: Failure{Errno: 1062}}},
			reasons: []PromotionReason{ReasonSkipped}, sentinels: []error{ErrSkipped}},
		{name: "unknown and diverged", in: PromotionInput{StatusErr: errors.New("timeout"), DataCheck: &DataCheckResult{Time: t0}},
			reasons: []PromotionReason{ReasonUnknown, ReasonDiverged}, sentinels: []error{ErrStatusUnknown, ErrDiverged}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Promotable(tt.in)
			assert.Equal(t, len(tt.reasons) == 0, v.Fit, v.String())
			if len(tt.reasons) == 0 {
				assert.NoError(t, v.Err())
				assert.Empty(t, v.Reasons())
			} else {
				assert.Equal(t, tt.reasons, v.Reasons())
				require.Error(t, v.Err())
				assert.ErrorIs(t, v.Err(), ErrNotPromotable)
				assert.Contains(t, v.Err().Error(), "not fit to be promoted")
			}
			for _, s := range tt.sentinels {
				assert.ErrorIs(t, v.Err(), s)
			}
			if tt.note != "" {
				require.Len(t, v.Notes, 1)
				assert.Contains(t, v.Notes[0], tt.note)
			}
			if tt.detail != "" {
				assert.Contains(t, v.String(), tt.detail)
			}
		})
	}
}

func TestHistoryFile(t *testing.T) {
	ctx := context.Background()
	s := &HistoryFile{Path: filepath.Join(t.TempDir(), "state.replication.json")}
	h, err := s.Load(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, History{}, h, "missing file: nothing known")

	broken := seedStatus(ThreadYes, false, "No", 853, "1-1-3", 1062)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("r%d", i%4)
			_, err := s.Update(ctx, name, func(h *History) bool { return h.Observe(broken, t0) })
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for i := range 4 {
		h, err := s.Load(ctx, fmt.Sprintf("r%d", i))
		require.NoError(t, err)
		require.NotNil(t, h.Failure, "r%d lost", i)
		assert.Equal(t, int64(853), h.Failure.ExecPos)
	}
	got, err := s.Update(ctx, "r0", func(h *History) bool { return false })
	require.NoError(t, err)
	assert.NotNil(t, got.Failure, "Update returns the history even unchanged")
}

// TestSeedSilentSkip replays the seed's repair on a real file/position
// master-master pair: the checker with history sees the 1062, and after
// STOP SLAVE; START SLAVE then STOP SLAVE; RESET SLAVE; START SLAVE
// (replication running, lag 0, transactions missing) it says the replica
// may have skipped transactions; the data check names the rows; a reseed
// and a passing data check make it fit again.
func TestSeedSilentSkip(t *testing.T) {
	p := startPair(t, mariadb.FilePos())
	ctx := context.Background()
	store := &HistoryFile{Path: filepath.Join(t.TempDir(), "state.replication.json")}
	check := NewChecker(p.b, 10*time.Second, WithHistory("b-from-a", store))
	p.A.Exec(t, "INSERT INTO lab.t VALUES (1,'seed')")
	p.waitCaughtUp(t, p.A, p.B)
	testenv.Eventually(t, 20*time.Second, "the checker passes on the healthy pair", func() bool { return check.Check(ctx) == nil })

	p.break1062(t, "lab.t", 10)
	p.A.Exec(t, "INSERT INTO lab.t VALUES (20,'later')")
	require.ErrorIs(t, check.Check(ctx), ErrNotRunning)

	p.B.Exec(t, "STOP SLAVE")
	p.B.Exec(t, "START SLAVE")
	st := waitStatus(t, p.b, func(s MySQLStatus) bool { return s.SQLError.Errno == 1062 && s.IORunning == ThreadYes })
	err := check.Check(ctx)
	require.ErrorIs(t, err, ErrNotRunning)
	// The anomaly: gtid_slave_pos moved while stopped on the error.
	require.NotEqual(t, "1-1-3", st.Vars.GTIDSlavePos, "MariaDB 10.11 moves gtid_slave_pos on START SLAVE after a 1062 in file/position mode")
	require.ErrorIs(t, err, ErrSkipped)
	assert.Contains(t, err.Error(), "RESET SLAVE or MASTER_USE_GTID=slave_pos would now skip")

	p.B.Exec(t, "STOP SLAVE; RESET SLAVE; START SLAVE")
	st = waitStatus(t, p.b, func(s MySQLStatus) bool { return s.Running() && s.Lag == 0 })
	require.Equal(t, "Slave_Pos", st.UsingGTID)
	require.NotContains(t, p.rows(t, p.B, "lab.t"), 20, "the seed's repair really lost transactions")
	err = check.Check(ctx)
	require.ErrorIs(t, err, ErrSkipped, "running, lag 0, but not fit")
	assert.Contains(t, err.Error(), "moved past the transaction that failed with error 1062 at mysql-bin.000001")
	t.Log(err)
	p.waitCaughtUp(t, p.A, p.B)
	require.ErrorIs(t, check.Check(ctx), ErrSkipped, "sticky")

	data, err := CompareTables(ctx, p.a, p.b, DataCheckConfig{Tables: []string{"lab.t"}})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"10", "11", "20"}, rowKeys(data))
	_, err = store.Update(ctx, "b-from-a", func(h *History) bool { h.RecordDataCheck(data, time.Now()); return true })
	require.NoError(t, err)
	err = check.Check(ctx)
	require.ErrorIs(t, err, ErrDiverged)

	r, err := NewRepairer(RepairConfig{Source: p.a, Replica: p.b, Schemas: []string{"lab"}, TempDir: t.TempDir()})
	require.NoError(t, err)
	rep, err := r.Repair(ctx, StrategyReseed)
	require.NoError(t, err)
	require.True(t, rep.Converged, rep.String())
	_, err = store.Update(ctx, "b-from-a", func(h *History) bool {
		h.Observe(rep.After, time.Now())
		h.RecordDataCheck(rep.Data, time.Now())
		return true
	})
	require.NoError(t, err)
	require.NoError(t, check.Check(ctx))
}

func rowKeys(r DataReport) []string {
	var out []string
	for _, t := range r.Tables {
		for _, row := range t.Rows {
			out = append(out, row.Key)
		}
	}
	return out
}

// TestGTIDRestartNotSkipped: in GTID mode the article's restart fetches
// the same transaction and fails again: no skip is claimed. replace-row
// moves past the failure; until its data check is recorded, the replica
// stays suspect.
func TestGTIDRestartNotSkipped(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	store := &HistoryFile{Path: filepath.Join(t.TempDir(), "state.replication.json")}
	check := NewChecker(p.b, 10*time.Second, WithHistory("b-from-a", store))
	p.break1062(t, "lab.t", 10)
	require.ErrorIs(t, check.Check(ctx), ErrNotRunning)

	r, err := NewRepairer(RepairConfig{Source: p.a, Replica: p.b, Check: DataCheckConfig{Tables: []string{"lab.t"}}})
	require.NoError(t, err)
	rep, err := r.Repair(ctx, StrategyRestart)
	require.NoError(t, err)
	require.Equal(t, 1062, rep.After.SQLError.Errno, "failed again at the same transaction")
	err = check.Check(ctx)
	require.ErrorIs(t, err, ErrNotRunning)
	assert.NotErrorIs(t, err, ErrSkipped)

	rep, err = r.Repair(ctx, StrategyReplaceRow)
	require.NoError(t, err)
	require.True(t, rep.Converged, rep.String())
	require.ErrorIs(t, check.Check(ctx), ErrSkipped, "moved past the failure: suspect until a data check is recorded")
	_, err = store.Update(ctx, "b-from-a", func(h *History) bool { h.RecordDataCheck(rep.Data, time.Now()); return true })
	require.NoError(t, err)
	require.NoError(t, check.Check(ctx))
}
