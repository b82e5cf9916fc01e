package replicate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMySQLStatusReal(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()

	st, err := p.b.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Running)
	assert.GreaterOrEqual(t, st.Lag, time.Duration(0))
	ms := st.Detail.(MySQLStatus)
	assert.Equal(t, "Slave_Pos", ms.UsingGTID)
	assert.Equal(t, p.A.Port, ms.SourcePort)
	assert.True(t, ms.Vars.MariaDB)
	assert.Equal(t, "ROW", ms.Vars.BinlogFormat)
	assert.NotEmpty(t, ms.Vars.GTIDSlavePos)
	require.NoError(t, NewChecker(p.b, 10*time.Second).Check(ctx))

	t.Run("1062 as in the article", func(t *testing.T) {
		p.break1062(t, "lab.t", 10)
		ms, err := p.b.ReplicaStatus(ctx)
		require.NoError(t, err)
		assert.Equal(t, ThreadYes, ms.IORunning)
		assert.False(t, ms.SQLRunning)
		assert.Equal(t, 1062, ms.SQLError.Errno)
		assert.Equal(t, ClassDuplicateKey, ms.SQLError.Class)
		assert.Contains(t, ms.SQLError.Message, "Duplicate entry '10' for key 'PRIMARY'")
		assert.Equal(t, time.Duration(-1), ms.Lag)
		err = NewChecker(p.b, 10*time.Second).Check(ctx)
		require.ErrorIs(t, err, ErrNotRunning)
		assert.Contains(t, err.Error(), p.B.Addr)
		t.Log(ms.SQLError.Message)
	})
}
