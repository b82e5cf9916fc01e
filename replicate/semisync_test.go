package replicate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

func TestParseSemiSync(t *testing.T) {
	tests := []struct {
		name         string
		vars, status []string
		want         SemiSync
		wantErr      error
	}{
		{name: "MariaDB 10.11 default", vars: []string{"rpl_semi_sync_master_enabled", "OFF", "rpl_semi_sync_master_timeout", "10000",
			"rpl_semi_sync_master_wait_point", "AFTER_COMMIT", "rpl_semi_sync_slave_enabled", "OFF"},
			status: []string{"Rpl_semi_sync_master_status", "OFF", "Rpl_semi_sync_master_clients", "0", "Rpl_semi_sync_master_yes_tx", "0",
				"Rpl_semi_sync_master_no_tx", "0", "Rpl_semi_sync_slave_status", "OFF"},
			want: SemiSync{Available: true, Timeout: 10 * time.Second, WaitPoint: "AFTER_COMMIT"}},
		{name: "MySQL 8.0.26 source spelling", vars: []string{"rpl_semi_sync_source_enabled", "ON", "rpl_semi_sync_source_timeout", "500",
			"rpl_semi_sync_source_wait_point", "AFTER_SYNC"},
			status: []string{"Rpl_semi_sync_source_status", "ON", "Rpl_semi_sync_source_clients", "1", "Rpl_semi_sync_source_yes_tx", "42", "Rpl_semi_sync_source_no_tx", "3"},
			want:   SemiSync{Available: true, MasterEnabled: true, MasterActive: true, Clients: 1, YesTx: 42, NoTx: 3, Timeout: 500 * time.Millisecond, WaitPoint: "AFTER_SYNC"}},
		{name: "MySQL without the plugin", want: SemiSync{}},
		{name: "garbage", vars: []string{"rpl_semi_sync_master_enabled", "maybe"}, wantErr: ErrUnknownFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSemiSync(varRows(tt.vars...), varRows(tt.status...))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSemiSyncAcknowledged(t *testing.T) {
	base := SemiSync{Server: "a", Available: true, MasterEnabled: true, MasterActive: true, Clients: 1, YesTx: 10, NoTx: 2,
		Time: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	later := base
	later.YesTx = 15
	tests := []struct {
		name string
		s    SemiSync
		base *SemiSync
		ok   bool
		msg  string
	}{
		{"not available", SemiSync{Server: "a"}, nil, false, "not available on a"},
		{"disabled", SemiSync{Server: "a", Available: true}, nil, false, "rpl_semi_sync_master_enabled=OFF"},
		{"fell back", SemiSync{Server: "a", Available: true, MasterEnabled: true, NoTx: 1, Timeout: time.Second}, nil, false, "Rpl_semi_sync_master_status=OFF"},
		{"old unacknowledged commits, no base", later, nil, false, "2 transaction(s) committed on a without acknowledgement since the server started"},
		{"none since base", later, &base, true, "every transaction committed since 2026-11-21T10:00:00Z was acknowledged"},
		{"base from before a restart", SemiSync{Server: "a", Available: true, MasterEnabled: true, MasterActive: true, YesTx: 1}, &base, true, "since the server started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, msg := tt.s.Acknowledged(tt.base)
			assert.Equal(t, tt.ok, ok, msg)
			assert.Contains(t, msg, tt.msg)
		})
	}
}

// TestSemiSyncReal turns on MariaDB 10.11's built-in semi-sync from A to
// B, then cuts B's IO thread so that A falls back to asynchronous.
func TestSemiSyncReal(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	off, err := p.a.SemiSync(ctx)
	require.NoError(t, err)
	assert.True(t, off.Available)
	assert.False(t, off.MasterEnabled)
	ok, msg := off.Acknowledged(nil)
	assert.False(t, ok)
	assert.Contains(t, msg, "asynchronous")

	// The server's own timeout (not a test sleep) bounds the commit that
	// finds no replica below.
	p.A.Exec(t, "SET GLOBAL rpl_semi_sync_master_enabled = ON; SET GLOBAL rpl_semi_sync_master_timeout = 300")
	p.B.Exec(t, "SET GLOBAL rpl_semi_sync_slave_enabled = ON; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD")
	waitSemiSync(t, p.a, func(s SemiSync) bool { return s.Clients == 1 && s.MasterActive })
	base, err := p.a.SemiSync(ctx)
	require.NoError(t, err)
	p.A.Exec(t, "INSERT INTO lab.t VALUES (1, 'acknowledged')")
	on, err := p.a.SemiSync(ctx)
	require.NoError(t, err)
	assert.Greater(t, on.YesTx, base.YesTx)
	ok, msg = on.Acknowledged(&base)
	assert.True(t, ok, msg)
	replica, err := p.b.SemiSync(ctx)
	require.NoError(t, err)
	assert.True(t, replica.SlaveEnabled)
	assert.True(t, replica.SlaveActive)

	p.B.Exec(t, "STOP SLAVE IO_THREAD")
	waitSemiSync(t, p.a, func(s SemiSync) bool { return s.Clients == 0 })
	p.A.Exec(t, "INSERT INTO lab.t VALUES (2, 'not acknowledged')") // waits 300 ms, then commits
	lost, err := p.a.SemiSync(ctx)
	require.NoError(t, err)
	assert.False(t, lost.MasterActive, "fell back to asynchronous")
	assert.Greater(t, lost.NoTx, base.NoTx)
	ok, msg = lost.Acknowledged(&base)
	assert.False(t, ok)
	assert.Contains(t, msg, "data may be missing")
	t.Log(msg)
}

func waitSemiSync(t *testing.T, m *MySQL, cond func(SemiSync) bool) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "semi-sync state on "+m.Name(), func() bool {
		s, err := m.SemiSync(context.Background())
		require.NoError(t, err)
		return cond(s)
	})
}
