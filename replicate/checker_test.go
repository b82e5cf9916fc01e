package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/health"
)

type fakeReplicator struct {
	st  Status
	err error
}

func (f fakeReplicator) Status(context.Context) (Status, error) { return f.st, f.err }

func TestChecker(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		r    fakeReplicator
		want error
	}{
		{"fit", fakeReplicator{st: Status{Server: "db2", Running: true, Lag: time.Second}}, nil},
		{"stopped", fakeReplicator{st: Status{Server: "db2", Lag: -1, Err: "SQL thread: error 1062"}}, ErrNotRunning},
		{"lag unknown", fakeReplicator{st: Status{Server: "db2", Running: true, Lag: -1}}, ErrLagging},
		{"lag at bound", fakeReplicator{st: Status{Server: "db2", Running: true, Lag: 10 * time.Second}}, ErrLagging},
		{"status error", fakeReplicator{err: boom}, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewChecker(tt.r, 10*time.Second).Check(context.Background())
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			var he *health.Error
			require.ErrorAs(t, err, &he)
			assert.Equal(t, "replication", he.Kind)
			assert.NotEmpty(t, he.Target)
		})
	}
}
