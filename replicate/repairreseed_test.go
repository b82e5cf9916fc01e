package replicate

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteOptionFile(t *testing.T) {
	p, err := writeOptionFile(t.TempDir(), "x.cnf", MySQLConfig{Address: "10.0.0.1:3306", User: "admin", Password: `p"a\ss`})
	require.NoError(t, err)
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "[client]\nhost=\"10.0.0.1\"\nport=3306\nprotocol=TCP\nuser=\"admin\"\npassword=\"p\\\"a\\\\ss\"\n", string(b))
}
