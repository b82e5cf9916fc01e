package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/fakes/doreservedip"
)

const (
	doToken    = "do-token-secret-0123456789"
	reservedIP = "203.0.113.177"
	masterID   = 1111111
	backupID   = 2222222
)

// TestNotifyMaster is master.sh, run on ubuntu-master when it becomes
// master: the metadata service says whether this droplet already holds
// the reserved IP; if it does nothing is asked of the API, if not the IP
// is assigned through the real godo client and the action polled until
// it completes.
func TestNotifyMaster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		holder   int // droplet holding the IP at the start (0: none)
		assigns  int // POST /v2/reserved_ips/{ip}/actions
		apiCalls bool
	}{
		{"already held here", masterID, 0, false},
		{"held by the backup", backupID, 1, true},
		{"unassigned", 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.holder)
			arb, err := newArbiter(w.setup, nil)
			require.NoError(t, err)

			rep := tick(t, arb)
			require.True(t, rep.Switched, "no switch to the master: %v", rep.SwitchErr)
			assert.Equal(t, "ubuntu-master", rep.Active)
			assert.Equal(t, masterID, w.api.Holder(reservedIP))
			assert.Equal(t, tc.assigns, w.api.Count(http.MethodPost, "/v2/reserved_ips/"+reservedIP+"/actions"))
			if !tc.apiCalls {
				assert.Empty(t, w.api.Requests(), "API asked although the metadata says the IP is here")
			} else {
				// in-progress once (ActionPolls), then completed.
				assert.Equal(t, 2, w.api.Count(http.MethodGet, "/v2/reserved_ips/"+reservedIP+"/actions/"), "action polls")
			}
			assert.Positive(t, w.metadata.Hits(), "metadata service not asked")

			// The next round, all healthy, asks nothing more.
			n := len(w.api.Requests())
			rep = tick(t, arb)
			assert.False(t, rep.Decision.Switch)
			assert.Len(t, w.api.Requests(), n)
		})
	}
}

// TestFailover: nginx on ubuntu-master stops answering; after FailAfter
// (2) rounds the reserved IP moves to ubuntu-backup, and back after
// RiseAfter (2) good rounds once nginx is back (keepalived's preemption).
func TestFailover(t *testing.T) {
	t.Parallel()
	w := newWorld(t, masterID)
	w.api.ActionPolls = 0 // polling is TestNotifyMaster's; one poll each here
	arb, err := newArbiter(w.setup, nil)
	require.NoError(t, err)
	tick(t, arb)
	require.Equal(t, masterID, w.api.Holder(reservedIP))

	w.masterNginx.down.Store(true)
	rep := tick(t, arb)
	assert.False(t, rep.Decision.Switch, "switched after one failure")
	assert.Equal(t, masterID, w.api.Holder(reservedIP))
	rep = tick(t, arb)
	require.True(t, rep.Switched, "no switch after 2 failures: %v", rep.SwitchErr)
	assert.Equal(t, "ubuntu-backup", rep.Active)
	assert.Equal(t, backupID, w.api.Holder(reservedIP))

	w.masterNginx.down.Store(false)
	rep = tick(t, arb)
	assert.False(t, rep.Decision.Switch, "failed back after one success")
	rep = tick(t, arb)
	require.True(t, rep.Switched, "no failback: %v", rep.SwitchErr)
	assert.Equal(t, masterID, w.api.Holder(reservedIP))
	assert.Equal(t, 2, w.api.Count(http.MethodPost, "/v2/reserved_ips/"+reservedIP+"/actions"))
}

// world is the API and ubuntu-master's metadata service (fakes), nginx
// on both droplets (loopback HTTP), and a setup pointing at them.
type world struct {
	setup       setup
	api         *doreservedip.Server
	metadata    *doreservedip.Metadata
	masterNginx *nginx
}

func newWorld(t *testing.T, holder int) *world {
	w := &world{api: doreservedip.New(t, doToken)}
	w.api.AddDroplet(masterID, backupID)
	w.api.AddReservedIP(reservedIP, holder)
	w.api.ActionPolls = 1
	w.metadata = w.api.Metadata(t, masterID) // the arbiter runs on ubuntu-master
	w.masterNginx = startNginx(t)
	backupNginx := startNginx(t)
	tok := filepath.Join(t.TempDir(), "do-token")
	require.NoError(t, os.WriteFile(tok, []byte(doToken+"\n"), 0o600))

	w.setup = articleSetup()
	w.setup.Master.Address, w.setup.Master.Nginx = "127.0.0.1", w.masterNginx.url
	w.setup.Backup.Address, w.setup.Backup.Nginx = "127.0.0.2", backupNginx.url
	w.setup.Master.ID, w.setup.Backup.ID = "1111111", "2222222"
	w.setup.APIURL = w.api.URL
	w.setup.MetadataURL = w.metadata.URL
	w.setup.TokenFile = tok
	w.setup.StateFile = filepath.Join(t.TempDir(), "keepalived-do.json")
	return w
}

// tick runs one round, like one interval of keepalived's track_script.
func tick(t *testing.T, arb *failover.Arbiter) failover.RoundReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := arb.Tick(ctx)
	require.NoError(t, err)
	return rep
}

// nginx serves /load.html on loopback, or 502 while down is set.
type nginx struct {
	url  string
	down atomic.Bool
}

func startNginx(t *testing.T) *nginx {
	n := &nginx{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	n.url = "http://" + l.Addr().String() + "/load.html"
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.down.Load() || r.URL.Path != "/load.html" {
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			}
			_, _ = io.WriteString(w, "ok\n")
		}),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return n
}
