package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/syncer"
)

// lsyncdRep is lsyncd under measurement: default.rsync locally,
// default.rsyncssh to the peer, delay=0 either way. It is run here rather
// than through syncer.Lsyncd because that one generates default.rsync
// only.
type lsyncdRep struct {
	remote bool
	log    string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{}
}

// lsyncdLua writes the configuration for src → dst (on peer when set).
func lsyncdLua(dir, src, dst string, peer *syncer.SSH) string {
	q := syncer.LuaQuote
	var b strings.Builder
	fmt.Fprintf(&b, "settings {\n    logfile = %s,\n    statusFile = %s,\n    statusInterval = 1,\n    nodaemon = true,\n    insist = true,\n}\n",
		q(filepath.Join(dir, "lsyncd.log")), q(filepath.Join(dir, "lsyncd.status")))
	if peer == nil {
		fmt.Fprintf(&b, "sync {\n    default.rsync,\n    source = %s,\n    target = %s,\n    delay = 0,\n    delete = true,\n    rsync = { archive = true },\n}\n",
			q(src+"/"), q(dst+"/"))
		return b.String()
	}
	ssh := peer.Args()[0]
	fmt.Fprintf(&b, "sync {\n    default.rsyncssh,\n    source = %s,\n    host = %s,\n    targetdir = %s,\n    delay = 0,\n    delete = true,\n    rsync = { archive = true },\n",
		q(src+"/"), q(peer.Destination()), q(dst+"/"))
	fmt.Fprintf(&b, "    ssh = {\n        binary = %s,\n        port = %d,\n        identityFile = %s,\n        options = {\n", q(ssh), peer.Port, q(peer.IdentityFile))
	for _, kv := range [][2]string{{"BatchMode", "yes"}, {"StrictHostKeyChecking", "yes"}, {"IdentitiesOnly", "yes"},
		{"UserKnownHostsFile", peer.KnownHostsFile}, {"GlobalKnownHostsFile", "/dev/null"}} {
		fmt.Fprintf(&b, "            %s = %s,\n", kv[0], q(kv[1]))
	}
	b.WriteString("        },\n    },\n}\n")
	return b.String()
}

func startLsyncd(ctx context.Context, dir, src, dst string, peer *syncer.SSH, timeout time.Duration) (*lsyncdRep, error) {
	lsyncd, err := cmdrun.LookPath("lsyncd")
	if err != nil {
		return nil, fmt.Errorf("lsyncd (Debian package lsyncd): %w", err)
	}
	conf := filepath.Join(dir, "lsyncd.conf.lua")
	if err := os.WriteFile(conf, []byte(lsyncdLua(dir, src, dst, peer)), 0o600); err != nil {
		return nil, err
	}
	r := &lsyncdRep{remote: peer != nil, log: filepath.Join(dir, "lsyncd.log"), done: make(chan struct{})}
	ctx, r.cancel = context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, lsyncd, conf)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = cmdrun.WaitDelay
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.cancel()
		return nil, fmt.Errorf("lsyncd: %w", err)
	}
	r.cmd = cmd
	go func() { cmd.Wait(); close(r.done) }()
	if err := waitFor(ctx, timeout, func() bool {
		select {
		case <-r.done:
			return true
		default:
		}
		b, _ := os.ReadFile(r.log)
		return startupDone.Match(b)
	}); err != nil {
		r.stop()
		b, _ := os.ReadFile(r.log)
		return nil, fmt.Errorf("lsyncd startup: %w: %s", err, lastLines(string(b), 8))
	}
	select {
	case <-r.done:
		b, _ := os.ReadFile(r.log)
		return nil, fmt.Errorf("lsyncd exited at startup: %s %s", out.String(), b)
	default:
	}
	return r, nil
}

var startupDone = regexp.MustCompile(`Normal: Startup of .* finished`)

// counts returns the rsync runs lsyncd started and finished so far.
func (r *lsyncdRep) counts() (started, finished int) {
	b, _ := os.ReadFile(r.log)
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(line, "Normal: Calling rsync"):
			started++
		case strings.Contains(line, "Normal: Finished"):
			finished++
		}
	}
	return started, finished
}

// via is lsyncd's layer: default.rsync locally, default.rsyncssh (a
// new ssh connection per run) to a peer.
func (r *lsyncdRep) via() string {
	if r.remote {
		return "rsyncssh"
	}
	return "rsync"
}

// sessionStart: lsyncd measures none.
func (r *lsyncdRep) sessionStart() time.Duration { return 0 }

func (r *lsyncdRep) runs() int {
	n, _ := r.counts()
	return n
}

// idle waits until every rsync lsyncd started has finished and nothing
// new started for 20 ms (lsyncd at delay=0 starts the next run at once).
func (r *lsyncdRep) idle(ctx context.Context) error {
	stableSince, last := time.Time{}, -1
	return waitFor(ctx, time.Minute, func() bool {
		s, f := r.counts()
		if s != f {
			last = -1
			return false
		}
		if s != last {
			last, stableSince = s, time.Now()
		}
		return time.Since(stableSince) >= 20*time.Millisecond
	})
}

func (r *lsyncdRep) stop() {
	r.cancel()
	<-r.done
}

// String names the process for messages.
func (r *lsyncdRep) String() string { return "lsyncd pid " + strconv.Itoa(r.cmd.Process.Pid) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
