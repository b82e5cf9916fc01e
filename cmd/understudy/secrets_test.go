package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/fakes/doreservedip"
)

// TestSecretsNeverShown sets every kind of secret the configuration
// takes (MySQL, SMTP, webhook HMAC secret, a webhook URL with a token in
// its path, API tokens, a TSIG key), lets everything that uses them fail
// (closed ports, a reserved-IP API that refuses the token), and checks
// that no secret shows in what validate, check, tick, status,
// replication status and the daemon print, in the state file, or in
// GET /status and /metrics.
func TestSecretsNeverShown(t *testing.T) {
	const (
		mysqlPW    = "mysql-pw-S3CRET-1"
		smtpPW     = "smtp-pw-S3CRET-2"
		hookSecret = "hook-hmac-S3CRET-3"
		urlToken   = "URLTOKEN-S3CRET-4"
		apiToken   = "dop_v1_S3CRET-5"
		tsigPlain  = "tsig-key-S3CRET-6-padding"
	)
	tsigB64 := base64.StdEncoding.EncodeToString([]byte(tsigPlain))
	secrets := []string{mysqlPW, smtpPW, hookSecret, urlToken, apiToken, tsigPlain, tsigB64}

	srv := upServer(t)
	down := closedPort(t)
	// The API knows another token: every call with ours is refused (401).
	api := doreservedip.New(t, "dop_v1_other")
	api.AddDroplet(1111, 2222)
	api.AddReservedIP("203.0.113.177", 2222)

	dir := t.TempDir()
	for name, value := range map[string]string{
		"mysql.pw":    mysqlPW,
		"smtp.pw":     smtpPW,
		"hook.secret": hookSecret,
		"api.token":   apiToken,
		"ddns.key":    "key \"ddns\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + tsigB64 + "\";\n};\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o600))
	}
	cfgPath := filepath.Join(dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_file: state.json
interval: 2s
check_timeout: 1s
log: {format: json, level: debug}
http: {listen: "127.0.0.1:0"}
nodes:
  - name: a
    address: 127.0.0.1
    labels: {droplet_id: "1111"}
    checks:
      - {name: web, type: http, url: %[1]q}
      - {name: db, type: mysql, address: %[2]q, user: monitor, password_file: mysql.pw, role: notify}
  - name: b
    address: 127.0.0.2
    labels: {droplet_id: "2222"}
    checks:
      - {name: web, type: tcp, address: %[2]q}
switchers:
  - {type: do_reserved_ip, ip: 203.0.113.177, token_file: api.token, api_url: %[3]q, no_metadata: true, poll_interval: 1ms, deadline: 2s}
  - {type: rfc2136, zone: example.test, name: www, servers: [%[2]q], tsig_key_file: ddns.key}
notify:
  - {type: mail, server: %[2]q, from: u@example.test, to: [admin@example.test], username: u, password_file: smtp.pw, starttls: never}
  - {type: webhook, url: "http://%[2]s/services/T0/B0/%[4]s", secret_file: hook.secret}
replication:
  - name: r
    replica: {address: %[2]q, user: monitor, password_file: mysql.pw}
    source: {address: %[2]q, user: repair, password_file: mysql.pw}
ddns:
  source_url: http://%[2]s/ip
  record: {type: libdns, provider: digitalocean, zone: example.org, name: www, token_file: api.token}
`, srv.URL+"/", down, api.URL, urlToken)), 0o600))

	var outputs []string
	cli := func(args ...string) {
		r := runCLI(t, append([]string{"-c", cfgPath}, args...)...)
		outputs = append(outputs, strings.Join(args, " ")+" stdout:\n"+r.stdout, strings.Join(args, " ")+" stderr:\n"+r.stderr)
	}
	cli("validate")
	require.Contains(t, outputs[0], "ok", "the configuration is valid: %s", outputs[1])
	cli("check")
	cli("check", "-json")
	cli("tick") // the switch to a fails at the API: switch_failed with its error
	cli("status")
	cli("status", "-json")
	cli("replication", "status")
	state, err := os.ReadFile(filepath.Join(dir, "state.json"))
	require.NoError(t, err)
	outputs = append(outputs, "state file:\n"+string(state))
	require.Contains(t, string(state), "switch_failed", "the switcher ran and failed")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		run(ctx, []string{"-c", cfgPath, "run"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	addr := ""
	listening := regexp.MustCompile(`"msg":"status endpoint listening","addr":"([^"]+)"`)
	require.Eventually(t, func() bool {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	}, 10*time.Second, 10*time.Millisecond, "no listening line")
	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// Wait for the daemon's own rounds: a check goes down (third
	// failure, after the tick's one), which is notified (and fails).
	var status string
	require.Eventually(t, func() bool {
		status = get("/status")
		return strings.Contains(status, `"check_down"`) && strings.Contains(stderr.String(), `"notify failed"`)
	}, 20*time.Second, 50*time.Millisecond, "the daemon's checks never went down")
	metrics := get("/metrics")
	require.Contains(t, metrics, "understudy_switch_failures_total")
	cancel()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	outputs = append(outputs, "GET /status:\n"+status, "GET /metrics:\n"+metrics,
		"run stdout:\n"+stdout.String(), "run stderr:\n"+stderr.String())

	for _, out := range outputs {
		for _, s := range secrets {
			assert.NotContains(t, out, s, "a secret in %s", strings.SplitN(out, "\n", 2)[0])
		}
	}
}
