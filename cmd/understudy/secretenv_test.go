package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A secret given by *_env is removed from the environment once loaded, so
// the commands the daemon runs (here an exec check running printenv) do
// not inherit it.
func TestSecretEnvNotInherited(t *testing.T) {
	const name = "UNDERSTUDY_TEST_WEBHOOK_SECRET"
	t.Setenv(name, "s3cr3t-value")
	printenv, err := lookPathT("printenv")
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`nodes:
  - name: a
    address: 127.0.0.1
    checks:
      - {name: env, type: exec, command: [`+printenv+`, `+name+`]}
notify:
  - {type: webhook, url: "http://127.0.0.1:9/hook", secret_env: `+name+`}
`), 0o644))

	var out, errb strings.Builder
	code := run(t.Context(), []string{"-c", cfg, "check"}, &out, &errb)
	assert.Equal(t, 1, code, "printenv fails: the variable is gone\n%s%s", out.String(), errb.String())
	_, set := os.LookupEnv(name)
	assert.False(t, set)
	assert.NotContains(t, out.String()+errb.String(), "s3cr3t-value")
}

func lookPathT(name string) (string, error) {
	for _, d := range []string{"/usr/bin", "/bin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}
