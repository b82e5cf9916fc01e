package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const libdnsYAML = `
nodes:
  - name: demeter
    address: 203.0.113.1
  - name: cybelle
    address: 198.51.100.7
switchers:
  - type: libdns
    provider: gandi
    zone: soutade.fr
    name: "@"
    ttl: 300s
    token_file: gandi.token
ddns:
  source_url: http://checkip.dyndns.com/
  family: ipv4
  node: demeter
  record:
    type: libdns
    provider: gandi
    zone: soutade.fr
    name: "@"
    ttl: 300s
    token_env: GANDI_TOKEN
  hook: [/usr/local/bin/repoint-cybelle]
`

func TestLibdnsAndDDNS(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gandi.token"), []byte("pat-from-file\n"), 0o644))
	t.Setenv("GANDI_TOKEN", "pat-from-env")
	path := filepath.Join(dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(libdnsYAML), 0o600))
	cfg, err := Load(path)
	require.NoError(t, err)
	l := cfg.Switchers[0].Libdns
	require.NotNil(t, l)
	assert.Equal(t, "gandi", l.Provider)
	assert.Equal(t, "soutade.fr.", l.Zone)
	assert.Equal(t, "pat-from-file", l.Token.Reveal())
	require.Len(t, cfg.Warnings, 1, "a world-readable token file is warned about")
	assert.Contains(t, cfg.Warnings[0], "readable by everyone")
	assert.NotContains(t, strings.Join(cfg.Warnings, ""), "pat-from-file")

	assert.True(t, cfg.DDNS.IsSet())
	assert.Equal(t, "pat-from-env", cfg.DDNS.Record.Libdns.Token.Reveal())
	assert.Equal(t, []string{"/usr/local/bin/repoint-cybelle"}, cfg.DDNS.Hook)
}

func TestLibdnsBadInput(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"inline token", "token: abc", `secrets are not written in the configuration`},
		{"missing token file", "token_file: nope.token", "nope.token"},
		{"unknown provider", "provider: route53", "route53"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			y := strings.Replace(libdnsYAML, "    token_file: gandi.token", "    "+tc.yaml, 1)
			if tc.name == "unknown provider" {
				y = strings.Replace(libdnsYAML, "    provider: gandi\n    zone: soutade.fr\n    name: \"@\"\n    ttl: 300s\n    token_file", "    provider: route53\n    zone: soutade.fr\n    name: \"@\"\n    ttl: 300s\n    token_file", 1)
				require.NoError(t, os.WriteFile(filepath.Join(dir, "gandi.token"), []byte("x"), 0o600))
			}
			t.Setenv("GANDI_TOKEN", "x")
			path := filepath.Join(dir, "understudy.yaml")
			require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
			_, err := Load(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestDDNSEvery: ddns.every, the daemon's period, loads as given and
// must be positive when given.
func TestDDNSEvery(t *testing.T) {
	t.Setenv("GANDI_TOKEN", "x")
	base := strings.Replace(libdnsYAML, "    token_file: gandi.token\n", "    token_env: GANDI_TOKEN\n", 1)
	for _, tc := range []struct {
		name, every string
		want        time.Duration
		wantErr     string
	}{
		{"absent", "", 0, ""},
		{"five minutes", "  every: 5m\n", 5 * time.Minute, ""},
		{"zero", "  every: 0s\n", 0, "ddns.every: must be positive"},
		{"negative", "  every: -1m\n", 0, "ddns.every: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("ddns.yaml", []byte(base+tc.every))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg.DDNS.Every)
		})
	}
}
