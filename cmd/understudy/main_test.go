package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// result is what one in-process run of the CLI printed.
type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// writeConfig writes a configuration into a fresh directory and returns
// its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// twoNodes is a configuration whose primary "a" is checked against
// upURL (critical) and downAddr (notify), and whose standby "b" is
// checked against downAddr (critical).
func twoNodes(upURL, downAddr, extra string) string {
	return fmt.Sprintf(`state_file: state.json
interval: 2s
check_timeout: 1s
log: {level: warn}
nodes:
  - name: a
    address: 127.0.0.1
    checks:
      - {name: web, type: http, url: %q, body_contains: "hello"}
      - {name: ssh, type: tcp, address: %q, role: notify}
  - name: b
    address: 127.0.0.2
    checks:
      - {name: web, type: tcp, address: %q}
%s`, upURL, downAddr, downAddr, extra)
}

func upServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "usage: understudy"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"bad global flag", []string{"-x", "check"}, exitUsage, "flag provided but not defined: -x"},
		{"missing config", []string{"-c", "/nonexistent/understudy.yaml", "check"}, exitUsage, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.args...)
			assert.Equal(t, tt.code, r.code)
			assert.Contains(t, r.stderr, tt.want)
		})
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, "version")
	assert.Equal(t, exitOK, r.code)
	assert.True(t, strings.HasPrefix(r.stdout, "understudy "), r.stdout)
}

func TestValidate(t *testing.T) {
	good := writeConfig(t, twoNodes("http://127.0.0.1:1/", "127.0.0.1:1", ""))
	bad := writeConfig(t, `interval: 1 m
nodes:
  - name: a
    address: 127.0.0.1
    checks:
      - {name: web, type: http, url: "http://x/", timout: 1s}
      - {name: db, type: mysql, address: "127.0.0.1:3306", user: u, password: hunter2}
`)
	missingCmd := writeConfig(t, `nodes: [{name: a, address: 127.0.0.1}]
switchers:
  - {type: exec, command: [/nonexistent/on-switch]}
`)
	tsig := func(key string) string {
		p := writeConfig(t, `nodes: [{name: a, address: 127.0.0.1}]
switchers:
  - {type: rfc2136, zone: test.ru, name: "@", servers: ["127.0.0.1:53"], tsig_key_file: ddns.key}
`)
		require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(p), "ddns.key"), []byte(key), 0o600))
		return p
	}
	goodKey := tsig("key \"ddns\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXZhbHVlLWZvci10ZXN0cy1vbmx5\";\n};\n")
	badKey := tsig("key \"ddns\" { algorithm hmac-sha256; };\n")
	tests := []struct {
		name   string
		config string
		code   int
		stdout string
		stderr []string
	}{
		{"good", good, exitOK, "ok\n", nil},
		{"tsig key", goodKey, exitOK, "ok\n", nil},
		{"bad tsig key", badKey, exitUsage, "", []string{badKey + ":3:5: switchers[0]: rfc2136 switcher:"}},
		{"bad", bad, exitUsage, "", []string{
			bad + `:1:11: interval: invalid duration "1 m"`,
			bad + `:6:51: nodes[0].checks[0]: unknown field "timout" (did you mean "timeout"?)`,
			bad + `:7:69: nodes[0].checks[1]: field "password": secrets are not written in the configuration; use password_file`,
		}},
		{"component fails to build", missingCmd, exitUsage, "", []string{
			missingCmd + `:3:5: switchers[0]: exec switcher:`, "/nonexistent/on-switch",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "-c", tt.config, "validate")
			assert.Equal(t, tt.code, r.code, r.stderr)
			assert.Equal(t, tt.stdout, r.stdout)
			for _, w := range tt.stderr {
				assert.Contains(t, r.stderr, w)
			}
			assert.NotContains(t, r.stderr, "hunter2")
		})
	}
}

func TestValidateFromEnvironment(t *testing.T) {
	t.Setenv("UNDERSTUDY_CONFIG", writeConfig(t, "nodes: [{name: a, address: 127.0.0.1}]\n"))
	r := runCLI(t, "validate")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "ok\n", r.stdout)
}

var spaces = regexp.MustCompile(` +`)

func TestCheck(t *testing.T) {
	srv := upServer(t)
	down := closedPort(t)
	tests := []struct {
		name   string
		config string
		code   int
		rows   []string // table rows with runs of spaces collapsed, latency cut
	}{
		{
			name:   "critical check on the standby fails",
			config: twoNodes(srv.URL+"/", down, ""),
			code:   exitFailure,
			rows: []string{
				"NODE CHECK ROLE RESULT LATENCY ERROR",
				"a web critical ok",
				"a ssh notify FAIL",
				"b web critical FAIL",
			},
		},
		{
			name: "only a notify check fails",
			config: fmt.Sprintf(`nodes:
  - name: a
    address: 127.0.0.1
    checks:
      - {name: web, type: http, url: %q}
      - {name: ssh, type: tcp, address: %q, role: notify}
witness:
  - {name: internet, type: http, url: %q}
`, srv.URL, down, srv.URL),
			code: exitOK,
			rows: []string{
				"NODE CHECK ROLE RESULT LATENCY ERROR",
				"a web critical ok",
				"a ssh notify FAIL",
				"- internet witness ok",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "-c", writeConfig(t, tt.config), "check")
			assert.Equal(t, tt.code, r.code, r.stderr)
			lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
			require.Len(t, lines, len(tt.rows), r.stdout)
			for i, want := range tt.rows {
				assert.True(t, strings.HasPrefix(spaces.ReplaceAllString(lines[i], " "), want), "row %d: %q, want prefix %q", i, lines[i], want)
			}
			// Columns are aligned: every row has RESULT where the header has it.
			col := strings.Index(lines[0], "RESULT")
			for _, l := range lines[1:] {
				assert.Regexp(t, `^(ok|FAIL)`, l[col:], "aligned column in %q", l)
			}
			if tt.code == exitFailure {
				assert.Contains(t, r.stdout, down, "the error names the address")
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	srv := upServer(t)
	down := closedPort(t)
	r := runCLI(t, "-c", writeConfig(t, twoNodes(srv.URL+"/", down, "")), "check", "-json")
	assert.Equal(t, exitFailure, r.code, r.stderr)
	var rows []checkRow
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows), r.stdout)
	require.Len(t, rows, 3)
	assert.Equal(t, checkRow{Node: "a", Check: "web", Role: failover.RoleCritical, OK: true, Latency: rows[0].Latency}, rows[0])
	assert.False(t, rows[2].OK)
	assert.Equal(t, "b", rows[2].Node)
	assert.Contains(t, rows[2].Error, down)
}

// TestTickAndStatus runs two rounds from the command line and reads the
// state file back with status.
func TestTickAndStatus(t *testing.T) {
	srv := upServer(t)
	down := closedPort(t)
	const secret = "webhook-secret-value-9f2c"
	hook, _ := hookServer(t)
	cfgPath := writeConfig(t, twoNodes(srv.URL+"/", down, fmt.Sprintf(`notify:
  - {type: webhook, url: %q, secret_file: hook.secret}
`, hook.URL)))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "hook.secret"), []byte(secret+"\n"), 0o600))

	r := runCLI(t, "-c", cfgPath, "status")
	assert.Equal(t, exitFailure, r.code, "no state file before the first tick")
	assert.Contains(t, r.stderr, "no such file")

	r1 := runCLI(t, "-c", cfgPath, "tick", "-v")
	require.Equal(t, exitOK, r1.code, "a round with failing checks still ran: %s", r1.stderr)
	assert.Contains(t, r1.stdout, "active a, 2 of 3 checks failed")
	r2 := runCLI(t, "-c", cfgPath, "tick", "-v")
	require.Equal(t, exitOK, r2.code, r2.stderr)

	snap, err := failover.ReadSnapshot(filepath.Join(filepath.Dir(cfgPath), "state.json"))
	require.NoError(t, err)
	assert.Equal(t, "a", snap.Active)
	fails := map[string]int{}
	for _, c := range snap.Checks {
		fails[c.Name] = c.Fails
	}
	assert.Equal(t, map[string]int{"a/web": 0, "a/ssh": 2, "b/web": 2}, fails, "two ticks, two failures counted")

	st := runCLI(t, "-c", cfgPath, "status")
	require.Equal(t, exitOK, st.code, st.stderr)
	assert.Contains(t, st.stdout, "active:      a")
	assert.Regexp(t, `(?m)^a\s+127\.0\.0\.1\s+2\s+up\s+.*\*$`, st.stdout)
	assert.Regexp(t, `(?m)^b/web\s+critical\s+unknown\s+2\s`, st.stdout)
	assert.Contains(t, st.stdout, "recent events:")

	sj := runCLI(t, "-c", cfgPath, "status", "-json", "-n", "1")
	require.Equal(t, exitOK, sj.code, sj.stderr)
	var got failover.Snapshot
	require.NoError(t, json.Unmarshal([]byte(sj.stdout), &got))
	assert.Equal(t, "a", got.Active)
	assert.Len(t, got.Events, 1, "-n 1 keeps the last event")

	for _, out := range []string{r1.stdout, r1.stderr, r2.stdout, r2.stderr, st.stdout, st.stderr, sj.stdout} {
		assert.NotContains(t, out, secret)
	}
	state, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), "state.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(state), secret)
	var kinds []failover.EventKind
	for _, e := range snap.Events {
		kinds = append(kinds, e.Kind)
	}
	assert.Contains(t, kinds, failover.EventCheckWarn)
	assert.NotContains(t, kinds, failover.EventCheckDown, "2 failures, not yet 3")
}

func TestTickWithoutStateFile(t *testing.T) {
	r := runCLI(t, "-c", writeConfig(t, "nodes: [{name: a, address: 127.0.0.1}]\n"), "tick")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "state_file is required")
}

// hookServer is a webhook receiver; heard returns the kinds of the
// events it was sent so far.
func hookServer(t *testing.T) (srv *httptest.Server, heard func() []failover.EventKind) {
	t.Helper()
	var mu sync.Mutex
	var kinds []failover.EventKind
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Event failover.Event }
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		kinds = append(kinds, p.Event.Kind)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []failover.EventKind {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(kinds)
	}
}

// TestSwitch runs a real exec switcher (a script) through `switch`, and
// a webhook notifier filtered to switch_done.
func TestSwitch(t *testing.T) {
	srv := upServer(t)
	down := closedPort(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "switched")
	script := filepath.Join(dir, "on-switch")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"$UNDERSTUDY_NODE $UNDERSTUDY_ADDRESS\" >> \"$1\"\n"), 0o755))
	hook, heard := hookServer(t)
	cfgPath := writeConfig(t, twoNodes(srv.URL+"/", down, fmt.Sprintf(`switchers:
  - {type: exec, command: [%q, %q]}
notify:
  - {type: webhook, url: %q, events: [switch_done]}
`, script, out, hook.URL)))

	r := runCLI(t, "-c", cfgPath, "switch", "b")
	assert.Equal(t, exitFailure, r.code, "b is not up: refused without -force")
	_, err := os.Stat(out)
	assert.ErrorIs(t, err, os.ErrNotExist, "the switcher did not run")

	r = runCLI(t, "-c", cfgPath, "switch", "-force", "b")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "active node: b\n", r.stdout)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "b 127.0.0.2\n", string(data))
	assert.Equal(t, []failover.EventKind{failover.EventSwitchDone}, heard(), "only the kinds asked for")

	st := runCLI(t, "-c", cfgPath, "status")
	require.Equal(t, exitOK, st.code, st.stderr)
	assert.Contains(t, st.stdout, "active:      b")

	r = runCLI(t, "-c", cfgPath, "switch")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "usage: understudy switch [flags] NODE")
}

func TestExecSwitcherEnv(t *testing.T) {
	rec := &cmdrun.Recorder{}
	s, err := newExecSwitcher([]string{"/usr/local/bin/on-switch", "--quiet"}, rec)
	require.NoError(t, err)
	n := failover.Node{Name: "slave", Address: netip.MustParseAddr("10.2.0.2")}
	require.NoError(t, s.Switch(context.Background(), n))
	require.Len(t, rec.Cmds, 1)
	assert.Equal(t, [][]string{{"/usr/local/bin/on-switch", "--quiet"}}, rec.Argvs(), "the node is never in argv")
	assert.Equal(t, []string{"UNDERSTUDY_NODE=slave", "UNDERSTUDY_ADDRESS=10.2.0.2", "UNDERSTUDY_ADDRESS6="}, rec.Cmds[0].Env)

	rec.Respond = func(cmdrun.Cmd) (cmdrun.Result, error) {
		return cmdrun.Result{ExitCode: 3}, &cmdrun.Error{Cmd: "on-switch", ExitCode: 3, Err: fmt.Errorf("exit status 3")}
	}
	err = s.Switch(context.Background(), n)
	var ce *cmdrun.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 3, ce.ExitCode)
}

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// inProcessDaemon is `understudy run` in this process with its status
// endpoint on a free loopback port, found in its JSON log.
type inProcessDaemon struct {
	addr   string
	down   string // the closed port node b's check targets
	stderr *syncBuffer
	stop   func() // cancels run and asserts it returns exitOK
}

func startInProcessDaemon(t *testing.T) *inProcessDaemon {
	t.Helper()
	srv := upServer(t)
	down := closedPort(t)
	cfg := strings.Replace(twoNodes(srv.URL+"/", down, `http: {listen: "127.0.0.1:0"}`+"\n"), "log: {level: warn}", "log: {format: json, level: info}", 1)
	cfgPath := writeConfig(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncBuffer
	d := &inProcessDaemon{stderr: &syncBuffer{}, down: down}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", cfgPath, "run"}, &stdout, d.stderr) }()
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				assert.Equal(t, exitOK, code, d.stderr.String())
			case <-time.After(10 * time.Second):
				t.Error("run did not return after its context ended")
			}
		})
	}
	t.Cleanup(d.stop)
	listening := regexp.MustCompile(`"msg":"status endpoint listening","addr":"([^"]+)"`)
	require.Eventually(t, func() bool {
		m := listening.FindStringSubmatch(d.stderr.String())
		if m != nil {
			d.addr = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "no listening line")
	return d
}

// TestRun starts the daemon with a status endpoint on a free loopback
// port, reads /status and /healthz, then stops it with its context.
func TestRun(t *testing.T) {
	d := startInProcessDaemon(t)
	addr := d.addr

	var snap failover.Snapshot
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		snap = failover.Snapshot{}
		return json.NewDecoder(resp.Body).Decode(&snap) == nil && !snap.LastRound.IsZero()
	}, 10*time.Second, 20*time.Millisecond, "the first round never showed in /status")
	assert.Equal(t, "a", snap.Active)

	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Post("http://"+addr+"/status", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	d.stop()
	assert.Contains(t, d.stderr.String(), `"msg":"understudy stopped"`)
}

// Without -v, tick prints nothing on stdout, so a cron job mails only the
// transitions (logged on stderr), not one line per round.
func TestTickQuietForCron(t *testing.T) {
	cfgPath := writeConfig(t, "state_file: state.json\nnodes: [{name: a, address: 127.0.0.1}]\n")
	r := runCLI(t, "-c", cfgPath, "tick")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "switch_done", "the first round's transition is logged")
	r = runCLI(t, "-c", cfgPath, "tick")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Empty(t, r.stderr, "a round without transitions is silent")
}
