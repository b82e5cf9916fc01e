package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/websvc"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/bindtest"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// The test binary doubles as the understudy binary (UNDERSTUDY_E2E_MAIN)
// and as a switch command that records its calls and can hang
// (UNDERSTUDY_E2E_SWITCH_DIR), so the end-to-end tests run real processes
// they can SIGKILL without building anything.
func TestMain(m *testing.M) {
	if dir := os.Getenv("UNDERSTUDY_E2E_SWITCH_DIR"); dir != "" && os.Getenv("UNDERSTUDY_NODE") != "" {
		os.Exit(switchHelper(dir, os.Getenv("UNDERSTUDY_NODE")))
	}
	if os.Getenv("UNDERSTUDY_E2E_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// switchHelper appends node to DIR/calls and, if DIR/block-NODE exists,
// hangs until killed, after writing its PID to DIR/helper.pid.
func switchHelper(dir, node string) int {
	f, err := os.OpenFile(filepath.Join(dir, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 1
	}
	fmt.Fprintln(f, node)
	f.Close()
	if _, err := os.Stat(filepath.Join(dir, "block-"+node)); err == nil {
		os.WriteFile(filepath.Join(dir, "helper.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		select {}
	}
	return 0
}

// startWeb starts a stoppable web service on ip, stopped when the test ends.
func startWeb(t *testing.T, ip string) *websvc.Service {
	t.Helper()
	w, err := websvc.Start(ip+":0", "ok")
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	return w
}

// e2eSetup is a real named carrying www.example.test, two web services
// and a configuration for the daemon.
type e2eSetup struct {
	ns              *bindtest.Server
	primary, backup *websvc.Service
	dir, cfg, state string
	switchDir       string
}

func newE2E(t *testing.T, failback string, execSwitcher bool) *e2eSetup {
	t.Helper()
	s := &e2eSetup{dir: t.TempDir()}
	s.ns = bindtest.Start(t, bind.Options{Zones: []bind.Zone{{
		Name:    "example.test",
		Updates: true,
		Content: "$TTL 10\n@ IN SOA ns1 hostmaster 1 60 30 3600 10\n  IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 127.0.0.1\nwww IN TXT \"keep me\"\n",
	}}})
	s.primary = startWeb(t, "127.0.0.1")
	s.backup = startWeb(t, "127.0.0.2")
	s.state = filepath.Join(s.dir, "state.json")
	s.switchDir = filepath.Join(s.dir, "switch")
	require.NoError(t, os.Mkdir(s.switchDir, 0o755))
	extra := ""
	if execSwitcher {
		extra = fmt.Sprintf("  - {type: exec, command: [%q], timeout: 60s}\n", os.Args[0])
	}
	cfg := fmt.Sprintf(`state_file: %s
interval: 100ms
check_timeout: 80ms
log: {level: debug}
policy: {fail_after: 3, rise_after: 2, failback: %s}
switch: {timeout: 60s, retries: 3, backoff: 50ms}
nodes:
  - name: primary
    address: 127.0.0.1
    checks:
      - {name: http, type: http, url: "http://%s/", body_contains: ok}
  - name: backup
    address: 127.0.0.2
    checks:
      - {name: http, type: http, url: "http://%s/", body_contains: ok}
switchers:
%s  - {type: rfc2136, zone: example.test, name: www, ttl: 10s, servers: [%q], tsig_key_file: %s}
`, s.state, failback, s.primary.Addr(), s.backup.Addr(), extra, s.ns.Addr, s.ns.KeyFile)
	s.cfg = filepath.Join(s.dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(s.cfg, []byte(cfg), 0o644))
	return s
}

// daemon is `understudy run` in its own process.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *strings.Builder
}

func (s *e2eSetup) startDaemon(t *testing.T) *daemon {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-c", s.cfg, "run")
	cmd.Env = append(os.Environ(), "UNDERSTUDY_E2E_MAIN=1", "UNDERSTUDY_E2E_SWITCH_DIR="+s.switchDir)
	d := &daemon{cmd: cmd, done: make(chan struct{}), log: &strings.Builder{}}
	cmd.Stdout = &syncWriter{b: d.log}
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	go func() { cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.kill(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.output())
		}
	})
	return d
}

// kill signals the daemon and waits for it to exit.
func (d *daemon) kill(sig syscall.Signal) {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) output() string {
	w := d.cmd.Stdout.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// answer is what named answers for www.example.test A.
func (s *e2eSetup) answer() string {
	m := new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, s.ns.Addr)
	if err != nil {
		return "error: " + err.Error()
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return strings.Join(out, ",")
}

func (s *e2eSetup) snapshot() failover.Snapshot {
	snap, _ := failover.ReadSnapshot(s.state)
	return snap
}

// eventually polls cond every 10 ms until it holds, failing after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, d, what, cond)
}

func countEvents(snap failover.Snapshot, kind failover.EventKind, to string) int {
	n := 0
	for _, e := range snap.Events {
		if e.Kind == kind && (to == "" || e.To == to) {
			n++
		}
	}
	return n
}

// The article's setup, end to end: the daemon watches two web services
// and points www.example.test at the healthy one on a real named.
func TestEndToEndFailoverAndFailback(t *testing.T) {
	for _, mode := range []string{"auto", "manual"} {
		t.Run(mode, func(t *testing.T) {
			s := newE2E(t, mode, false)
			d := s.startDaemon(t)
			eventually(t, 10*time.Second, "the daemon knows the primary is active", func() bool {
				return s.snapshot().Active == "primary"
			})
			require.Equal(t, "127.0.0.1", s.answer())
			serial := s.ns.Serial(t, "example.test")

			s.primary.Stop()
			// fail_after 3 at 100 ms: about 0.3 s; the bound leaves room
			// for a loaded CI machine.
			eventually(t, 10*time.Second, "named answers the backup", func() bool { return s.answer() == "127.0.0.2" })
			assert.Equal(t, serial+1, s.ns.Serial(t, "example.test"), "one update for one switch")
			txt := s.ns.Query(t, "www.example.test.", dns.TypeTXT)
			require.Len(t, txt.Answer, 1, "the TXT record of the same name survives the switch")

			require.NoError(t, s.primary.Start())
			switch mode {
			case "auto":
				eventually(t, 10*time.Second, "named answers the primary again", func() bool { return s.answer() == "127.0.0.1" })
				// The switchers are done before the state records it: wait
				// for the record, not just for named.
				eventually(t, 10*time.Second, "the state records the failback", func() bool {
					snap := s.snapshot()
					return snap.Active == "primary" && snap.Pending == nil
				})
			case "manual":
				eventually(t, 10*time.Second, "failback_pending is reported", func() bool {
					return countEvents(s.snapshot(), failover.EventFailbackPending, "") > 0
				})
				assert.Equal(t, "127.0.0.2", s.answer(), "manual failback: traffic stays on the backup")
				var out, errb strings.Builder
				code := run(t.Context(), []string{"-c", s.cfg, "switch", "primary"}, &out, &errb)
				require.Equal(t, 0, code, "switch: %s%s", out.String(), errb.String())
				assert.Equal(t, "127.0.0.1", s.answer())
			}
			d.kill(syscall.SIGTERM)
			snap := s.snapshot()
			assert.Equal(t, "primary", snap.Active)
			assert.Equal(t, 1, countEvents(snap, failover.EventSwitchDone, "backup"), "exactly one switch to the backup")
		})
	}
}

// Kill the arbiter between "switch intended" and "switch done", restart
// it, and the switch completes exactly once.
func TestEndToEndCrashBetweenIntentAndDone(t *testing.T) {
	s := newE2E(t, "manual", true)
	block := filepath.Join(s.switchDir, "block-backup")
	require.NoError(t, os.WriteFile(block, nil, 0o644))

	d := s.startDaemon(t)
	eventually(t, 10*time.Second, "the daemon knows the primary is active", func() bool {
		return s.snapshot().Active == "primary"
	})
	serial := s.ns.Serial(t, "example.test")

	s.primary.Stop()
	pidFile := filepath.Join(s.switchDir, "helper.pid")
	eventually(t, 10*time.Second, "the switch to the backup is intended and its first switcher hangs", func() bool {
		_, err := os.Stat(pidFile)
		snap := s.snapshot()
		return err == nil && snap.Pending != nil && snap.Pending.To == "backup"
	})
	d.kill(syscall.SIGKILL) // the crash
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(b))
	require.NoError(t, err)
	syscall.Kill(pid, syscall.SIGKILL) // the hung switch command we started, by its PID

	assert.Equal(t, "127.0.0.1", s.answer(), "the crash left DNS untouched")
	snap := s.snapshot()
	require.NotNil(t, snap.Pending, "the intent survived the crash")
	assert.Equal(t, 0, countEvents(snap, failover.EventSwitchDone, "backup"))

	require.NoError(t, os.Remove(block))
	d = s.startDaemon(t)
	eventually(t, 10*time.Second, "the restarted daemon finishes the switch", func() bool { return s.answer() == "127.0.0.2" })
	eventually(t, 10*time.Second, "the state records the switch", func() bool {
		snap := s.snapshot()
		return snap.Active == "backup" && snap.Pending == nil
	})
	// Let a few more rounds pass so a second switch would show.
	last := s.snapshot().LastRound
	eventually(t, 10*time.Second, "more rounds ran", func() bool { return s.snapshot().LastRound.After(last.Add(300 * time.Millisecond)) })
	d.kill(syscall.SIGTERM)

	snap = s.snapshot()
	assert.Equal(t, 1, countEvents(snap, failover.EventSwitchDone, "backup"), "switch_done exactly once")
	assert.GreaterOrEqual(t, countEvents(snap, failover.EventSwitchResumed, "backup"), 1, "the switch was resumed")
	assert.Equal(t, serial+1, s.ns.Serial(t, "example.test"), "named was updated exactly once")
	calls, err := os.ReadFile(filepath.Join(s.switchDir, "calls"))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(calls), "backup\n"), "the switch command ran once before the crash and once to resume")
}
