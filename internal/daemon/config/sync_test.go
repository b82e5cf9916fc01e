package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const syncNodes = `nodes:
  - name: a
    address: 10.1.0.1
`

func TestSyncs(t *testing.T) {
	c, err := Parse("/etc/understudy/understudy.yaml", []byte(syncNodes+`
syncs:
  - name: mail
    local: /var/mail
    remote: /var/mail
    direction: pull
    ssh: {user: root, host: cybelle, port: 22, identity_file: keys/id, known_hosts_file: keys/known_hosts}
    after: [find, /var/mail, -name, "*cybelle*", -delete]
    every: 24h
    jitter: 5m
  - name: web
    tool: unison
    local: web
    remote: /site/web
    ssh: {host: 10.2.0.2}
    prefer: newer
    every: 5m
    max_age: 15m
  - name: live
    tool: lsyncd
    local: /srv/www
    remote: /srv/www
    ssh: {host: peer}
    delete: true
  - name: fast
    tool: watcher
    local: /srv/www
    remote: /srv/www
    ssh: {host: peer}
    every: 10m
    max_age: 1m
`))
	require.NoError(t, err)
	require.Len(t, c.Syncs, 4)
	mail := c.Syncs[0]
	assert.Equal(t, "rsync", mail.Tool)
	assert.Equal(t, "pull", mail.Direction)
	assert.Equal(t, "/etc/understudy/keys/id", mail.SSH.IdentityFile)
	assert.Equal(t, []string{"find", "/var/mail", "-name", "*cybelle*", "-delete"}, mail.After)
	assert.Equal(t, 5*time.Minute, mail.Jitter)
	assert.Equal(t, filepath.Join("/etc/understudy", "web"), c.Syncs[1].Local)
	assert.Equal(t, "push", c.Syncs[1].Direction)
	assert.Equal(t, DefaultSyncDelay, c.Syncs[2].Delay)
	assert.Equal(t, "syncs[1]", c.Syncs[1].Pos.Path)
	fast := c.Syncs[3]
	assert.Equal(t, DefaultWatcherDelay, fast.Delay)
	assert.Equal(t, DefaultWatcherMaxDelay, fast.MaxDelay)
	assert.Equal(t, 10*time.Minute, fast.Every)
}

func TestSyncsBad(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"relative remote": {"- {name: x, local: /a, remote: b, ssh: {host: h}}", "syncs[0].remote: must be an absolute path"},
		"pull local":      {"- {name: x, local: /a, remote: /b, direction: pull}", "pull needs tool rsync and ssh.host"},
		"prefer rsync":    {"- {name: x, local: /a, remote: /b, prefer: newer}", "only unison"},
		"unknown tool":    {"- {name: x, tool: scp, local: /a, remote: /b}", "invalid value \"scp\""},
		"after local":     {"- {name: x, local: /a, remote: /b, after: [rm]}", "needs ssh.host"},
		"jitter":          {"- {name: x, local: /a, remote: /b, every: 1m, jitter: 1m}", "must be shorter than every"},
		"duplicate":       {"- {name: x, local: /a, remote: /b}\n  - {name: x, local: /a, remote: /c}", "given twice"},
		"lsyncd every":    {"- {name: x, tool: lsyncd, local: /a, remote: /b, every: 1m}", "lsyncd runs continuously"},
		"watcher jitter":  {"- {name: x, tool: watcher, local: /a, remote: /b, every: 1m, jitter: 1s}", "watcher runs continuously"},
		"watcher after":   {"- {name: x, tool: watcher, local: /a, remote: /b, ssh: {host: h}, after: [rm]}", "not the watcher"},
		"max_delay rsync": {"- {name: x, local: /a, remote: /b, max_delay: 1s}", "max_delay is for watcher"},
		"max_delay short": {"- {name: x, tool: watcher, local: /a, remote: /b, delay: 1s, max_delay: 10ms}", "must not be shorter than delay"},
		"missing remote":  {"- {name: x, local: /a}", "missing required field \"remote\""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("u.yaml", []byte(syncNodes+"syncs:\n  "+tc.yaml+"\n"))
			require.Error(t, err)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			assert.True(t, strings.Contains(err.Error(), tc.want), "%v", err)
		})
	}
}
