package syncer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/understudy-ha/understudy/syncer"
)

// Mirror a directory locally and report what changed.
func ExampleRsync() {
	base, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(base)
	src := filepath.Join(base, "www")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>"), 0o644)

	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: src, Dest: filepath.Join(base, "mirror"), Delete: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := r.Sync(context.Background())
	fmt.Println(rep.Files, rep.Bytes, err)
	// Output: 1 11 <nil>
}

// Replicate only the paths a watcher saw change, over one kept-open ssh
// connection.
func ExampleRsync_SyncPaths() {
	peer := syncer.SSH{User: "root", Host: "10.2.0.2", IdentityFile: "/root/.ssh/id_ed25519", KnownHostsFile: "/etc/understudy/known_hosts"}
	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: "/srv/www", Dest: "/srv/www", SSH: &peer, Delete: true})
	if err != nil {
		return
	}
	ctx := context.Background()
	if err := r.Connect(ctx); err != nil { // ssh ControlMaster, reused by every run
		return
	}
	defer r.Close()
	// Deleted paths are deleted on the peer (--delete-missing-args).
	rep, err := r.SyncPaths(ctx, []string{"index.html", "img/new logo.png", "old page.html"})
	_, _ = rep, err
}

// Pull, then delete what was pulled on the peer, only if the pull worked.
func ExampleThen() {
	peer := syncer.SSH{User: "root", Host: "cybelle", KnownHostsFile: "/etc/understudy/known_hosts"}
	pull, err := syncer.NewRsync(syncer.RsyncConfig{Source: "/var/mail", Dest: "/var/mail", SSH: &peer, Pull: true})
	if err != nil {
		return
	}
	job := syncer.Then(pull, syncer.RemoteCommand{SSH: peer, Argv: []string{"find", "/var/mail", "-name", "*cybelle*", "-delete"}})
	_, _ = job.Sync(context.Background())
}

// Two-way sync every 5 minutes, with a health check that fails when the
// last success is older than 15 minutes.
func ExampleSchedule() {
	u, err := syncer.NewUnison(syncer.UnisonConfig{Root1: "/site/web", Root2: "/site/web",
		SSH: &syncer.SSH{User: "root", Host: "10.2.0.2"}, Prefer: "newer", LockFile: "/run/lock/web.lock"})
	if err != nil {
		return
	}
	tracked := syncer.Track(u)
	fresh := tracked.Fresh("web", 15*time.Minute) // a health.Checker for the arbiter
	_ = fresh
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go syncer.Schedule{Name: "web", Every: 5 * time.Minute, Jitter: 30 * time.Second,
		OnEvent: func(e syncer.Event) {
			if e.Kind == syncer.EventOverran {
				fmt.Println("sync outlived its slot; skipped", e.Missed)
			}
		}}.Run(ctx, tracked)
}

// The Lua configuration generated for lsyncd.
func ExampleLuaQuote() {
	fmt.Println(syncer.LuaQuote("/srv/it's \"quoted\"\n"))
	// Output: "/srv/it's \"quoted\"\010"
}
