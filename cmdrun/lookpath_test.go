package cmdrun_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
)

// sbinProgram returns the name of an executable in /usr/sbin.
func sbinProgram(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir("/usr/sbin")
	require.NoError(t, err)
	for _, e := range entries {
		if st, err := os.Stat(filepath.Join("/usr/sbin", e.Name())); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return e.Name()
		}
	}
	t.Skip("no executable in /usr/sbin")
	return ""
}

func TestLookPath(t *testing.T) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "understudy-tool"), []byte("#!/bin/sh\n"), 0o755))
	sbin := sbinProgram(t)
	t.Setenv("PATH", bin) // no sbin directory in PATH
	for _, tc := range []struct {
		name, program, want string
	}{
		{"in PATH", "understudy-tool", filepath.Join(bin, "understudy-tool")},
		{"in /usr/sbin only", sbin, filepath.Join("/usr/sbin", sbin)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cmdrun.LookPath(tc.program)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("nowhere", func(t *testing.T) {
		_, err := cmdrun.LookPath("understudy-no-such-program")
		require.ErrorIs(t, err, exec.ErrNotFound)
	})
}
