package syncer_test

import (
	"context"
	"log"
	"time"

	"github.com/understudy-ha/understudy/syncer"
)

// Replicate a served tree to the standby within milliseconds of each
// change, and make a health check of it: the standby is fit to take over
// while the watcher's last success is younger than a minute.
func ExampleWatcher() {
	peer := syncer.SSH{User: "sync", Host: "10.2.0.2", IdentityFile: "/etc/understudy/sync_ed25519", KnownHostsFile: "/etc/understudy/known_hosts"}
	r, err := syncer.NewRsync(syncer.RsyncConfig{Source: "/srv/www", Dest: "/srv/www", SSH: &peer, Delete: true})
	if err != nil {
		log.Fatal(err)
	}
	w, err := syncer.NewWatcher(syncer.WatcherConfig{
		Rsync: r, // Delay 5ms, MaxDelay 50ms, a full pass every 5 minutes
		OnEvent: func(e syncer.WatchEvent) {
			switch e.Kind {
			case syncer.WatchFallback: // out of inotify watches: full passes every 10 s
				log.Print(e.Err)
			case syncer.WatchConnected: // an rsync daemon on the peer, reached through the ssh connection
				log.Printf("connected via %v; an ssh session starts in %v there", e.Connection.Transport, e.Connection.SessionStart)
				if e.Err != nil { // no daemon possible on the peer: ssh sessions for a minute
					log.Print(e.Err)
				}
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	go w.Run(ctx) // keeps one ssh connection open for every batch, and no shell per batch

	tracked := syncer.Track(w)
	fresh := tracked.Fresh("www", time.Minute) // a health.Checker for the arbiter
	_ = fresh
	go syncer.Schedule{Name: "www", Every: 15 * time.Second}.Run(ctx, tracked)
}
