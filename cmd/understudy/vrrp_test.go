package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/netns"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/ippool"
)

// keepalivedYAML is a configuration with a keepalived section whose
// notify_master runs the test binary as a recording exec switcher
// (switchHelper in e2e_test.go).
func keepalivedYAML(t *testing.T, netnsName, extra string) string {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf(`nodes:
  - {name: a, address: 10.77.0.1}
  - {name: b, address: 10.77.0.2}
keepalived:
  self: a
  dir: ka
  netns: %q
  interface: nosuch0
  vrid: 53
  priority: 200
  virtual_addresses: [10.77.0.100/24]
  source_ip: 10.77.0.1
  peers: [10.77.0.2]
  notify_master:
    - {type: exec, command: [%q], timeout: 5s}
%s`, netnsName, os.Args[0], extra)
	p := filepath.Join(dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(p, []byte(y), 0o644))
	return p
}

// TestValidateRendersKeepalived: validate writes the generated
// keepalived.conf, whose callbacks are this binary on this file.
func TestValidateRendersKeepalived(t *testing.T) {
	cfg := keepalivedYAML(t, "understudy-elsewhere", "")
	out := filepath.Join(t.TempDir(), "keepalived.conf")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-c", cfg, "validate", "-keepalived-conf", out}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	assert.Equal(t, "ok\n", stdout.String())

	text, err := os.ReadFile(out)
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	lines := map[string]bool{}
	for l := range strings.Lines(string(text)) {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{
		fmt.Sprintf(`script "%s -c %s check -node a"`, exe, cfg),
		fmt.Sprintf(`notify_master "%s -c %s notify master"`, exe, cfg),
		fmt.Sprintf(`file "%s"`, filepath.Join(filepath.Dir(cfg), "ka", "steer")),
		"interface nosuch0",
		"virtual_router_id 53",
		"priority 200",
		"unicast_src_ip 10.77.0.1",
		"10.77.0.2",
		"10.77.0.100/24 dev nosuch0",
		"understudy_steer weight -254",
		"interval 2",
	} {
		assert.True(t, lines[want], "missing line %q in:\n%s", want, text)
	}
}

// TestValidateRunsKeepaliveConfigTest: without netns, validate runs
// keepalived --config-test, which refuses an interface this host lacks.
func TestValidateRunsKeepalivedConfigTest(t *testing.T) {
	testenv.Require(t, "keepalived", "keepalived")
	cfg := keepalivedYAML(t, "", "")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-c", cfg, "validate"}, &stdout, &stderr)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), "keepalived rejected the configuration")
	assert.Contains(t, stderr.String(), "nosuch0")
}

// TestNotifyMaster: the notify_master callback runs the configured
// switchers toward keepalived.self, and tries again after a failure.
func TestNotifyMaster(t *testing.T) {
	t.Run("runs the switchers toward self", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("UNDERSTUDY_E2E_SWITCH_DIR", dir)
		cfg := keepalivedYAML(t, "x", "")
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-c", cfg, "notify", "master"}, &stdout, &stderr)
		require.Equal(t, exitOK, code, stderr.String())
		calls, err := os.ReadFile(filepath.Join(dir, "calls"))
		require.NoError(t, err)
		assert.Equal(t, "a\n", string(calls))
	})
	t.Run("tries notify_tries times", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("UNDERSTUDY_E2E_SWITCH_DIR", dir)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "block-a"), nil, 0o644))
		cfg := keepalivedYAML(t, "x", "  notify_tries: 2\n  notify_delay: 10ms\n")
		require.NoError(t, os.WriteFile(cfg, bytes.Replace(must(os.ReadFile(cfg)), []byte("timeout: 5s"), []byte("timeout: 300ms"), 1), 0o644))
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-c", cfg, "notify", "master"}, &stdout, &stderr)
		assert.Equal(t, exitFailure, code)
		calls, err := os.ReadFile(filepath.Join(dir, "calls"))
		require.NoError(t, err)
		assert.Equal(t, "a\na\n", string(calls), "two tries")
	})
	t.Run("refuses other states", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-c", keepalivedYAML(t, "x", ""), "notify", "backup"}, &stdout, &stderr)
		assert.Equal(t, exitUsage, code)
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestRunVRRPInNamespaces runs `understudy run` with a vrrp section in
// its own process, its speaker in namespace node0 of a lab, against a
// native speaker in node1 (this process, lower priority). The daemon's
// speaker takes the VIP; the arbiter then moves it away through the
// vrrp switcher when node a's check fails; and on SIGTERM the speaker
// resigns and removes the VIP before the process exits.
func TestRunVRRPInNamespaces(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	vip := lab.Host(100)

	peer, err := ippool.NewVRRP(ippool.VRRPConfig{
		Self: "b", Interface: "veth0", NetNS: lab.Node(1), VRID: 51, Priority: 50,
		Advert: 100 * time.Millisecond, VIPs: []netip.Prefix{vip},
	})
	require.NoError(t, err)
	peerDone := make(chan error, 1)
	go func() { peerDone <- peer.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, peer.Stop(ctx))
		<-peerDone
	})

	dir := t.TempDir()
	flag := filepath.Join(dir, "a-healthy")
	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	cfg := filepath.Join(dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`interval: 200ms
check_timeout: 150ms
log: {level: debug}
policy: {fail_after: 1, rise_after: 1}
nodes:
  - name: a
    address: %s
    checks:
      - {name: up, type: exec, command: [/usr/bin/test, -e, %q]}
  - name: b
    address: %s
vrrp:
  - name: vip1
    self: a
    netns: %s
    interface: veth0
    vrid: 51
    priority: 150
    advert: 100ms
    virtual_addresses: [%s]
switchers:
  - {type: vrrp, vrrp: vip1}
`, lab.Addr(0).Addr(), flag, lab.Addr(1).Addr(), lab.Node(0), vip)), 0o644))

	s := &e2eSetup{cfg: cfg, switchDir: dir}
	d := s.startDaemon(t)
	has := func(node int) bool {
		l, err := ippool.OpenLink(lab.Node(node), "veth0")
		require.NoError(t, err)
		defer l.Close()
		ok, err := l.HasAddress(vip.Addr())
		require.NoError(t, err)
		return ok
	}
	// The peer may be master for a moment before the daemon's speaker
	// (priority 150) preempts it: wait for the settled state.
	eventually(t, 10*time.Second, "the daemon's speaker alone holds the VIP, the peer is backup", func() bool {
		return has(0) && !has(1) && peer.State() == ippool.VRRPBackup
	})

	// Node a fails its check: the arbiter switches to b, and the vrrp
	// switcher demotes the daemon's speaker, so the peer takes over.
	require.NoError(t, os.Remove(flag))
	eventually(t, 10*time.Second, "the VIP moves to node1, whose speaker is master", func() bool {
		return has(1) && !has(0) && peer.State() == ippool.VRRPMaster
	})
	// Back: a is healthy again, failback is auto, the speaker preempts.
	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	eventually(t, 10*time.Second, "the VIP returns to node0", func() bool { return has(0) && !has(1) })

	d.kill(syscall.SIGTERM)
	assert.Equal(t, 0, d.cmd.ProcessState.ExitCode(), d.output())
	assert.False(t, has(0), "removed on graceful shutdown, before the daemon exited")
	assert.Contains(t, d.output(), "to=master")
	eventually(t, 10*time.Second, "the peer takes over", func() bool { return peer.State() == ippool.VRRPMaster && has(1) })
}

// TestCheckNode: check -node runs only that node's checks.
func TestCheckNode(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "understudy.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`nodes:
  - name: a
    address: 10.77.0.1
    checks: [{name: ok, type: exec, command: [/bin/true]}]
  - name: b
    address: 10.77.0.2
    checks: [{name: down, type: exec, command: [/bin/false]}]
`), 0o644))
	for _, c := range []struct {
		args []string
		code int
	}{{nil, exitFailure}, {[]string{"-node", "a"}, exitOK}, {[]string{"-node", "b"}, exitFailure}, {[]string{"-node", "z"}, exitUsage}} {
		t.Run(strings.Join(append([]string{"check"}, c.args...), " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"-c", cfg, "check"}, c.args...), &stdout, &stderr)
			assert.Equal(t, c.code, code, stdout.String()+stderr.String())
			if len(c.args) > 0 && c.code != exitUsage {
				assert.NotContains(t, stdout.String(), map[string]string{"a": "down", "b": " ok "}[c.args[1]])
			}
		})
	}
}

// TestVRRPSwitcherOutsideRun: tick and switch do not run the speaker,
// so its switcher fails instead of pretending.
func TestVRRPSwitcherOutsideRun(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "understudy.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`state_file: state.json
nodes:
  - {name: a, address: 10.77.0.1}
  - {name: b, address: 10.77.0.2}
vrrp:
  - {name: v, self: a, interface: veth0, vrid: 1, virtual_addresses: [10.77.0.100/24]}
switchers:
  - {type: vrrp, vrrp: v}
switch: {retries: 1}
`), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-c", cfg, "switch", "-force", "b"}, &stdout, &stderr)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr.String(), "runs inside")
}

// TestRunStopsWhenASpeakerCannotStart: a speaker on an interface that
// does not exist stops the daemon with exit status 1.
func TestRunStopsWhenASpeakerCannotStart(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "understudy.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`nodes:
  - {name: a, address: 10.77.0.1}
vrrp:
  - {name: v, self: a, interface: nosuch0, vrid: 1, virtual_addresses: [10.77.0.100/24]}
`), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-c", cfg, "run"}, &stdout, &stderr)
	assert.Equal(t, exitFailure, code)
	assert.NoError(t, ctx.Err(), "stopped by the failure, not by the test's deadline")
	assert.Contains(t, stderr.String(), "vrrp v")
	assert.Contains(t, stderr.String(), "nosuch0")
}
