package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
)

func TestLoadReference(t *testing.T) {
	t.Setenv("UNDERSTUDY_TEST_MYSQL_PW", "slave-pw")
	c, err := Load("testdata/understudy.yaml")
	require.NoError(t, err)

	assert.Equal(t, "/var/lib/understudy/state.json", c.StateFile)
	assert.Equal(t, time.Minute, c.Interval)
	assert.Equal(t, 5*time.Second, c.CheckTimeout)
	assert.Equal(t, Policy{FailAfter: 3, RiseAfter: 2, WarnAfter: 1, DownWhen: failover.DownAny,
		HoldDown: 5 * time.Minute, Failback: failover.FailbackDelayed, FailbackDelay: 10 * time.Minute}, c.Policy)
	assert.Equal(t, Switch{Timeout: 30 * time.Second, Retries: 3, Backoff: time.Second}, c.Switch)

	require.Len(t, c.Nodes, 2)
	master := c.Nodes[0]
	assert.Equal(t, "10.1.0.1", master.Address.String())
	assert.Equal(t, 100, master.Priority)
	require.Len(t, master.Checks, 7)
	http := master.Checks[0]
	assert.Equal(t, "master/http", http.FullName)
	assert.Equal(t, failover.RoleCritical, http.Role)
	require.NotNil(t, http.HTTP)
	assert.Equal(t, []int{200}, http.HTTP.ExpectStatus)
	assert.Equal(t, "GET", http.HTTP.Method)
	assert.Equal(t, "ok", http.HTTP.BodyContains)
	mysql := master.Checks[1]
	require.NotNil(t, mysql.MySQL)
	assert.Equal(t, "monitor-pw", mysql.MySQL.Password.Reveal(), "trailing newline dropped")
	assert.Equal(t, failover.RoleCritical, mysql.Role, "role defaults to critical")
	assert.Equal(t, "slave-pw", c.Nodes[1].Checks[1].MySQL.Password.Reveal())
	assert.Equal(t, failover.RoleNotify, master.Checks[2].Role)
	assert.Equal(t, "SSH-", master.Checks[2].TCP.Expect)
	assert.Equal(t, "SOA", master.Checks[3].DNS.QType)
	assert.Equal(t, []string{"/usr/bin/pidof", "nginx"}, master.Checks[4].Exec.Command)
	assert.Equal(t, 2*time.Second, master.Checks[4].Timeout)
	assert.Equal(t, 5*time.Second, master.Checks[5].Timeout, "check timeout defaults to check_timeout")
	assert.Equal(t, "nginx", master.Checks[5].Process.Process)

	require.Len(t, c.Witness, 1)
	assert.Equal(t, "internet", c.Witness[0].FullName)
	assert.Equal(t, failover.RoleWitness, c.Witness[0].Role)

	require.Len(t, c.Switchers, 12) // rfc2136, zonefile, exec, then one of each other type
	r := c.Switchers[0].RFC2136
	require.NotNil(t, r)
	assert.Equal(t, "test.ru.", r.Zone)
	assert.Equal(t, 10*time.Second, r.TTL)
	assert.Equal(t, filepath.Join("testdata", "secrets", "ddns.key"), r.TSIGKeyFile, "relative to the config file")
	z := c.Switchers[1].ZoneFile
	require.NotNil(t, z)
	assert.Equal(t, []string{"rndc", "-c", "/etc/bind/rndc.conf"}, z.Rndc)
	assert.Equal(t, []string{"127.0.0.1:53"}, z.Verify)
	assert.Equal(t, time.Minute, c.Switchers[2].Timeout)
	assert.Equal(t, 30*time.Second, c.Switchers[0].Timeout, "inherits switch.timeout")

	require.Len(t, c.Notify, 3)
	m := c.Notify[0].Mail
	require.NotNil(t, m)
	assert.Equal(t, "smtp-pw", m.Password.Reveal())
	assert.Equal(t, "auto", m.StartTLS)
	assert.Contains(t, c.Notify[0].Events, failover.EventSwitchDone)
	assert.Equal(t, "hook-secret", c.Notify[1].Webhook.Secret.Reveal())
	assert.Equal(t, map[string]string{"X-Team": "ops"}, c.Notify[1].Webhook.Headers)
	assert.Equal(t, "127.0.0.1:9790", c.HTTP.Listen)
}

func TestLoadGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			require.NoError(t, err)
			assert.NotEmpty(t, c.Nodes)
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("testdata/good/minimal.yaml")
	require.NoError(t, err)
	assert.Equal(t, DefaultInterval, c.Interval)
	assert.Equal(t, DefaultCheckTimeout, c.CheckTimeout)
	assert.Equal(t, Log{Format: "text", Level: "info"}, c.Log)
	assert.Equal(t, failover.FailbackAuto, c.Policy.Failback)
	assert.Equal(t, 2, c.Nodes[0].Priority, "earlier nodes rank higher")
	assert.Equal(t, 1, c.Nodes[1].Priority)

	p := c.FailoverPolicy()
	assert.Equal(t, []failover.CheckSpec{
		{Name: "a/web", Node: "a", Role: failover.RoleCritical},
		{Name: "b/web", Node: "b", Role: failover.RoleCritical},
	}, p.Checks)
	require.Len(t, p.Nodes, 2)
	assert.Equal(t, "a", p.Nodes[0].Name)
	assert.Equal(t, 3, p.FailAfter)
}

func TestAnchors(t *testing.T) {
	c, err := Load("testdata/good/anchors.yaml")
	require.NoError(t, err)
	assert.Equal(t, "b/ping", c.Nodes[1].Checks[0].FullName, "aliased checks get their own node")
	assert.Equal(t, filepath.Join("testdata", "good", "state.json"), c.StateFile)
}

// TestLoadBad checks that each problem is reported with its file:line:col
// and field path. The message is the feature, so the test matches text.
func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown-field.yaml", []string{
			`unknown-field.yaml:12:9: nodes[0].checks[1]: unknown field "timout" (did you mean "timeout"?)`,
			`unknown-field.yaml:13:9: nodes[0].checks[1]: unknown field "colour"`,
		}},
		{"missing.yaml", []string{
			`missing.yaml:2:5: nodes[0]: missing required field "address"`,
			`missing.yaml:4:9: nodes[0].checks[0]: missing required field "url"`,
			`missing.yaml:5:9: nodes[0].checks[1]: missing required field "name"`,
			`missing.yaml:6:9: nodes[0].checks[2]: missing required field "type"`,
			`missing.yaml:8:5: switchers[0]: missing required field "name"`,
			`missing.yaml:8:5: switchers[0]: missing required field "servers"`,
		}},
		{"values.yaml", []string{
			`values.yaml:1:11: interval: invalid duration "1 m"`,
			`values.yaml:2:16: check_timeout: invalid duration "soon"`,
			`values.yaml:4:3: nodes: give priority on every node or on none`,
			`values.yaml:5:14: nodes[0].address: invalid IP address "10.1.0.300"`,
			`values.yaml:6:15: nodes[0].address6: 10.1.0.1 is not an IPv6 address`,
			`values.yaml:7:15: nodes[0].priority: want a whole number, got "high"`,
			`values.yaml:9:41: nodes[0].checks[0].address: invalid address "10.1.0.1"`,
			`values.yaml:10:38: nodes[0].checks[1].url: invalid URL "ftp://10.1.0.1/"`,
			`values.yaml:10:78: nodes[0].checks[1].expect_status[1]: 999 is not an HTTP status code`,
			`values.yaml:11:40: nodes[0].checks[2].server: invalid address "10.1.0.1:99999"`,
			`values.yaml:11:81: nodes[0].checks[2].qtype: invalid value "BOGUS"`,
			`values.yaml:12:42: nodes[0].checks[3].command: must not be empty`,
			`values.yaml:13:74: nodes[0].checks[4].insecure_skip_verify: want true or false, got "maybe"`,
			`values.yaml:14:11: nodes[1].name: invalid name "bad name"`,
			`values.yaml:17:47: notify[0].from: invalid mail address "not an address"`,
		}},
		{"timings.yaml", []string{
			`timings.yaml:2:16: check_timeout: check_timeout (5s) must be shorter than interval (5s)`,
			`timings.yaml:4:15: policy.fail_after: must be at least 1`,
			`timings.yaml:5:14: policy.hold_down: must not be negative`,
			`timings.yaml:6:13: policy.failback: failback: delayed needs a positive failback_delay`,
			`timings.yaml:7:19: switch.timeout: must be positive`,
			`timings.yaml:7:32: switch.retries: must be at least 1`,
			`timings.yaml:12:65: nodes[0].checks[0].timeout: timeout (10s) must be shorter than interval (5s)`,
			`timings.yaml:14:52: switchers[0].ttl: ttl must be a whole number of seconds`,
		}},
		{"duplicates.yaml", []string{
			`duplicates.yaml:6:16: nodes[0].checks[1].name: duplicate check name "web"`,
			`duplicates.yaml:7:11: nodes[1].name: duplicate node name "master"`,
			`duplicates.yaml:8:14: nodes[1].address: address 10.1.0.1 is already used by nodes[0]`,
			`duplicates.yaml:11:12: witness[1].name: duplicate check name "net"`,
		}},
		{"types.yaml", []string{
			`types.yaml:5:27: nodes[0].checks[0].type: unknown check type "htp" (known: tcp, http,`,
			`types.yaml:7:12: switchers[0].type: unknown switcher type "route53"`,
			`types.yaml:9:12: notify[0].type: unknown notifier type "sms"`,
			`types.yaml:10:68: notify[1].events[1]: unknown event kind "node_dwn"`,
		}},
		{"secrets.yaml", []string{
			`secrets.yaml:5:74: nodes[0].checks[0]: field "password": secrets are not written in the configuration; use password_file`,
			`secrets.yaml:6:90: nodes[0].checks[1].password_file: secret file: stat testdata/bad/secrets/missing.pw: no such file`,
			`secrets.yaml:7:89: nodes[0].checks[2].password_env: environment variable UNDERSTUDY_TEST_UNSET_VAR is not set`,
			`secrets.yaml:8:89: nodes[0].checks[3].password_env: environment variable UNDERSTUDY_TEST_UNSET_X is not set`,
			`secrets.yaml:8:114: nodes[0].checks[3].password_file: give password_file or password_env, not both`,
			`secrets.yaml:10:48: notify[0]: field "secret": secrets are not written in the configuration; use secret_file`,
		}},
		{"remote-http.yaml", []string{
			`remote-http.yaml:4:60: witness[0].role: witness checks have role witness, not critical`,
			`remote-http.yaml:6:11: http.listen: 0.0.0.0:9790 is not a loopback address`,
		}},
		{"syntax.yaml", []string{`syntax.yaml:1: did not find expected '-' indicator`}},
		{"not-a-mapping.yaml", []string{`not-a-mapping.yaml:1:1: want a mapping, got a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", "bad", tt.file))
			require.Error(t, err)
			assert.Nil(t, c)
			msg := err.Error()
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
			lines := strings.Split(msg, "\n")
			assert.Len(t, lines, len(tt.want), "one line per problem, and no other:\n%s", msg)
			var e *Error
			require.True(t, errors.As(err, &e), "errors are *config.Error")
			assert.Equal(t, filepath.Join("testdata", "bad", tt.file), e.File)
		})
	}
}

func TestErrorsSortedByLine(t *testing.T) {
	_, err := Load("testdata/bad/values.yaml")
	require.Error(t, err)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	prev := 0
	for _, e := range joined.Unwrap() {
		var ce *Error
		require.True(t, errors.As(e, &ce))
		assert.GreaterOrEqual(t, ce.Line, prev)
		prev = ce.Line
	}
}

// writeSecret writes a secret file with the given mode and returns its path.
func writeSecret(t *testing.T, dir, name, value string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(value+"\n"), mode))
	require.NoError(t, os.Chmod(p, mode)) // not subject to umask
	return p
}

func TestSecrets(t *testing.T) {
	const value = "s3cr3t-Value-42"
	dir := t.TempDir()
	private := writeSecret(t, dir, "private.pw", value, 0o600)
	public := writeSecret(t, dir, "public.pw", value, 0o644)
	t.Setenv("UNDERSTUDY_TEST_SECRET", value)

	cfg := func(secretLine string) []byte {
		return []byte(fmt.Sprintf(`nodes:
  - name: a
    address: 10.0.0.1
    checks:
      - name: db
        type: mysql
        address: "10.0.0.1:3306"
        user: monitor
        %s
`, secretLine))
	}
	tests := []struct {
		name     string
		line     string
		warning  string
		errWant  string
		revealed string
	}{
		{name: "file", line: "password_file: " + private, revealed: value},
		{name: "relative file", line: "password_file: private.pw", revealed: value},
		{name: "env", line: "password_env: UNDERSTUDY_TEST_SECRET", revealed: value},
		{name: "world-readable file warns", line: "password_file: " + public, revealed: value,
			warning: "understudy.yaml:9:24: nodes[0].checks[0].password_file: secret file " + public + " is readable by everyone (mode 0644)"},
		{name: "inline refused", line: "password: " + value,
			errWant: `understudy.yaml:9:9: nodes[0].checks[0]: field "password": secrets are not written in the configuration; use password_file (a file holding it) or password_env (an environment variable holding it)`},
		{name: "inline as list refused", line: "password: [" + value + "]", errWant: `field "password"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(filepath.Join(dir, "understudy.yaml"), cfg(tt.line))
			if tt.errWant != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errWant)
				assert.NotContains(t, err.Error(), value)
				return
			}
			require.NoError(t, err)
			s := c.Nodes[0].Checks[0].MySQL.Password
			assert.Equal(t, tt.revealed, s.Reveal())
			if tt.warning != "" {
				require.Len(t, c.Warnings, 1)
				assert.Contains(t, c.Warnings[0], tt.warning)
			} else {
				assert.Empty(t, c.Warnings)
			}
			assertHidden(t, c, value)
		})
	}
}

// assertHidden checks that no usual way of printing the config shows the
// secret value.
func assertHidden(t *testing.T, c *Config, value string) {
	t.Helper()
	s := c.Nodes[0].Checks[0].MySQL.Password
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "secret", s, "mysql", c.Nodes[0].Checks[0].MySQL)
	decimal := "%d" // not a constant, so vet lets the test try it
	js, err := json.Marshal(c)
	require.NoError(t, err)
	for name, out := range map[string]string{
		"%v":     fmt.Sprintf("%v", c),
		"%+v":    fmt.Sprintf("%+v", c),
		"%#v":    fmt.Sprintf("%#v", c),
		"%+v sv": fmt.Sprintf("%+v", *c.Nodes[0].Checks[0].MySQL),
		"%#v sv": fmt.Sprintf("%#v", *c.Nodes[0].Checks[0].MySQL),
		"%s":     fmt.Sprintf("%s", s),
		"%d":     fmt.Sprintf(decimal, s),
		"%x":     fmt.Sprintf("%x", s),
		"%q":     fmt.Sprintf("%q", s),
		"slog":   logged.String(),
		"json":   string(js),
	} {
		assert.NotContains(t, out, value, name)
		assert.NotContains(t, out, fmt.Sprintf("%x", value), name)
	}
	assert.Contains(t, fmt.Sprintf("%+v", *c.Nodes[0].Checks[0].MySQL), "[redacted]")
	assert.Contains(t, logged.String(), "[redacted]")
}

func TestSecretZero(t *testing.T) {
	var s Secret
	assert.False(t, s.IsSet())
	assert.Equal(t, "", s.Reveal())
	assert.Equal(t, "", s.String())
}

func TestEmpty(t *testing.T) {
	for _, data := range []string{"", "# only a comment\n", "~\n"} {
		_, err := Parse("understudy.yaml", []byte(data))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "understudy.yaml: the configuration is empty")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// A URL refused by validation is not echoed whole: webhook URLs often
// carry a token in the path, query or user info, and validate's output
// goes to terminals and logs.
func TestInvalidURLHidesToken(t *testing.T) {
	base := "nodes: [{name: a, address: 10.0.0.1}]\nnotify:\n  - {type: webhook, url: %q}\n"
	tests := []struct {
		url, want string
	}{
		{"htps://hooks.example.com/services/T0/B0/S3CRET", `invalid URL "htps://hooks.example.com/..."`},
		{"ftp://hooks.example.com/?token=S3CRET", `invalid URL "ftp://hooks.example.com/..."`},
		{"ftp://user:S3CRET@hooks.example.com/", `invalid URL "ftp://hooks.example.com/..."`},
		{"http:///S3CRET", `invalid URL "http:///..."`},
		{"https://hooks.example.com:bad/S3CRET", "URL does not parse"},
		{"ftp://10.1.0.1/", `invalid URL "ftp://10.1.0.1/"`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := Parse("u.yaml", []byte(fmt.Sprintf(base, tt.url)))
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.want)
			assert.NotContains(t, err.Error(), "S3CRET")
		})
	}
}

func TestHTTPListen(t *testing.T) {
	base := "nodes: [{name: a, address: 10.0.0.1}]\n"
	tests := []struct {
		http string
		ok   bool
	}{
		{`http: {listen: "127.0.0.1:9790"}`, true},
		{`http: {listen: "localhost:9790"}`, true},
		{`http: {listen: "[::1]:9790"}`, true},
		{`http: {listen: "10.0.0.1:9790"}`, false},
		{`http: {listen: "10.0.0.1:9790", allow_remote: true}`, true},
		{`http: {listen: ":9790"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.http, func(t *testing.T) {
			_, err := Parse("u.yaml", []byte(base+tt.http))
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "u.yaml:2:")
			}
		})
	}
}
