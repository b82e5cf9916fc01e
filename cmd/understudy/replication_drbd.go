package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/replicate"
)

// drbdEntry is a DRBD resource `replication status` shows. The resources
// are those the configuration already names, so nothing is written
// twice: the drbd checks, the drbd switchers and the drbd steps of
// groups, each distinct resource once.
type drbdEntry struct {
	conf config.DRBD
	// maxLag is the first drbd check's max_lag (0: the default).
	maxLag time.Duration
}

// drbdEntries lists the distinct DRBD resources of cfg, checks first.
func drbdEntries(cfg *config.Config) []drbdEntry {
	var out []drbdEntry
	add := func(c config.DRBD, maxLag time.Duration) {
		c.Self, c.Force = "", false // how to read it, not what to do with it
		for i := range out {
			if reflect.DeepEqual(out[i].conf, c) {
				out[i].maxLag = cmpOrDuration(out[i].maxLag, maxLag)
				return
			}
		}
		out = append(out, drbdEntry{conf: c, maxLag: maxLag})
	}
	for _, ch := range cfg.Checks() {
		if ch.DRBD != nil {
			add(drbdOfCheck(*ch.DRBD), ch.DRBD.MaxLag)
		}
	}
	for _, s := range cfg.Switchers {
		if s.DRBD != nil {
			add(*s.DRBD, 0)
		}
		if s.Group != nil {
			for _, st := range s.Group.Steps {
				if st.DRBD != nil {
					add(*st.DRBD, 0)
				}
			}
		}
	}
	return out
}

func cmpOrDuration(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// drbdStatus prints one row per DRBD resource: its role, connection,
// disk states, resync progress and whether it is fit to take over.
// exitFailure when one is not (or cannot be read).
func drbdStatus(e *env, drbds []drbdEntry) int {
	code := exitOK
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DRBD\tROLE\tCONNECTION\tDISK\tPEER_DISK\tSYNC%\tFIT\tPROBLEM")
	for _, d := range drbds {
		res, err := newDRBD(d.conf, "", deps{log: e.app.log})
		var r replicate.DRBDResource
		if err == nil {
			r, err = res.Resource(e.ctx)
		}
		if err != nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\tno\t%v\n", d.conf.Resource, err)
			code = exitFailure
			continue
		}
		fitText, problem := "yes", ""
		// Judge the state just read, as the drbd check would.
		running, lag, health := r.Health()
		read := readStatus{Server: d.conf.Resource, Running: running, Lag: lag, Err: health, Detail: r}
		if err := replicate.NewChecker(read, d.maxLag).Check(e.ctx); err != nil {
			fitText, problem, code = "no", err.Error(), exitFailure
		}
		var conns, disks, peerDisks []string
		sync := "-"
		for _, v := range r.Volumes {
			disks = append(disks, v.Disk)
		}
		for _, p := range r.Peers {
			conns = append(conns, p.Connection)
			for _, v := range p.Volumes {
				peerDisks = append(peerDisks, v.PeerDisk)
				if v.Sync != nil {
					sync = fmt.Sprintf("%.1f", v.Sync.Done)
				}
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.conf.Resource, r.Role, strings.Join(conns, ","),
			strings.Join(disks, ","), orDash(strings.Join(peerDisks, ",")), sync, fitText, problem)
	}
	w.Flush()
	return code
}

// readStatus is a Status already read, as a Replicator.
type readStatus replicate.Status

func (s readStatus) Status(context.Context) (replicate.Status, error) {
	return replicate.Status(s), nil
}
