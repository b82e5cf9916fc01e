package syncer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/understudy-ha/understudy/syncer"
)

// A cron job runs the sync and records it; another process (a cron
// `understudy tick`) checks that the copy is fresh from the record alone.
func ExampleFresh() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store := &syncer.FileStore{Path: filepath.Join(dir, "state.syncs.json")}

	// In the cron job: syncer.Track(rsync, syncer.WithStore("www", store)).Sync(ctx)
	// records each run. Here, a run that ended a minute ago:
	_ = store.Update(context.Background(), "www", time.Now().Add(-time.Minute), nil)

	// In the checking process:
	check := syncer.Fresh(store, "www", 10*time.Minute)
	fmt.Println("fresh:", check.Check(context.Background()) == nil)
	check = syncer.Fresh(store, "www", 30*time.Second)
	fmt.Println("fresh within 30s:", check.Check(context.Background()) == nil)
	// Output:
	// fresh: true
	// fresh within 30s: false
}
