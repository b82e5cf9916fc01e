// Command rsync-cron is Soutade's daily replication script ("La
// réplication quand on est auto hébergé", 2015) rebuilt with Understudy's
// syncer: pull the peer's mail, delete what was pulled on the peer, push
// the web sites and projects. Run it from cron (the default: one pass) or
// as a daemon with -every. See README.md for the line-by-line mapping.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/syncer"
)

func main() {
	peer := flag.String("peer", "cybelle", "the peer's host name or address")
	key := flag.String("key", "/root/.ssh/id_ed25519", "ssh private key")
	known := flag.String("known-hosts", "/root/.ssh/known_hosts", "file pinning the peer's host key")
	every := flag.Duration("every", 0, "run on this period instead of once (cron mode)")
	lock := flag.String("lock", "/run/lock/rsync-cron.lock", "overlap lock (flock)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ssh := syncer.SSH{User: "root", Host: *peer, IdentityFile: *key, KnownHostsFile: *known}
	job, err := newJob(ssh, *lock, log)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	if *every == 0 {
		if _, err := job.Sync(ctx); err != nil {
			log.Error("replication failed", "err", err)
			os.Exit(1)
		}
		return
	}
	err = syncer.Schedule{Name: "replication", Every: *every, Jitter: *every / 20, Logger: log}.Run(ctx, job)
	if !errors.Is(err, context.Canceled) {
		log.Error("schedule", "err", err)
		os.Exit(1)
	}
}

// job is the whole script: one Syncer, so the schedule and the lock treat
// it as one run.
type job struct {
	ssh  syncer.SSH
	lock *syncer.Lock
	log  *slog.Logger
}

func newJob(ssh syncer.SSH, lockFile string, log *slog.Logger) (*job, error) {
	if err := ssh.Validate(); err != nil {
		return nil, err
	}
	return &job{ssh: ssh, lock: &syncer.Lock{Path: lockFile}, log: log}, nil
}

// steps builds the script's commands over peer (the shared connection).
func (j *job) steps(peer syncer.SSH) ([]syncer.Syncer, error) {
	// rsync -auz root@cybelle:/var/mail /var
	mail, err := syncer.NewRsync(syncer.RsyncConfig{Source: "/var/mail", Dest: "/var/mail", SSH: &peer, Pull: true, Compress: true, Logger: j.log})
	if err != nil {
		return nil, err
	}
	// ssh root@cybelle 'find /var/mail -name "*cybelle*" -delete', only after the pull succeeded.
	steps := []syncer.Syncer{syncer.Then(mail, syncer.RemoteCommand{SSH: peer, Argv: []string{"find", "/var/mail", "-name", "*cybelle*", "-delete"}})}
	// rsync -auz /var/www root@cybelle:/var  (and the two others)
	for _, dir := range []string{"/var/www", "/var/projects", "/home/soutade/www"} {
		push, err := syncer.NewRsync(syncer.RsyncConfig{Source: dir, Dest: dir, SSH: &peer, Compress: true, Logger: j.log})
		if err != nil {
			return nil, err
		}
		steps = append(steps, push)
	}
	return steps, nil
}

// Sync takes the lock, checks that the peer answers (the script's ping)
// by opening one ssh master connection that every step then shares, and
// runs the steps in order, stopping at the first failure.
func (j *job) Sync(ctx context.Context) (syncer.Report, error) {
	var total syncer.Report
	start := time.Now()
	unlock, err := j.lock.TryLock()
	if err != nil {
		return total, err
	}
	defer unlock()
	master, err := j.ssh.StartMaster(ctx) // ping -c 1 cybelle || cybelle_not_here
	if err != nil {
		return total, fmt.Errorf("peer not here: %w", err)
	}
	defer master.Close()
	steps, err := j.steps(master.SSH())
	if err != nil {
		return total, err
	}
	for _, s := range steps {
		rep, err := s.Sync(ctx)
		total.Files += rep.Files
		total.Bytes += rep.Bytes
		total.Deleted += rep.Deleted
		if err != nil {
			return total, err
		}
	}
	total.Duration = time.Since(start)
	return total, nil
}
