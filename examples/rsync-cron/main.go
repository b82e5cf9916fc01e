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

// dirs is one directory and its counterpart on the peer.
type dirs struct{ Here, Peer string }

// setup is everything the script hard-codes.
type setup struct {
	Peer syncer.SSH
	// Mail is pulled from the peer, then the peer's copies of the files
	// whose names match MailPattern (Maildir names carry the host name)
	// are deleted there.
	Mail        dirs
	MailPattern string
	Sites       []dirs // pushed to the peer, in order
	Lock        string // overlap lock (flock)
	Every       time.Duration
}

// articleSetup is the script's values: root@cybelle, /var/mail, three
// web directories.
func articleSetup() setup {
	same := func(dir string) dirs { return dirs{Here: dir, Peer: dir} }
	return setup{
		Peer:        syncer.SSH{User: "root", Host: "cybelle", IdentityFile: "/root/.ssh/id_ed25519", KnownHostsFile: "/root/.ssh/known_hosts"},
		Mail:        same("/var/mail"),
		MailPattern: "*cybelle*",
		Sites:       []dirs{same("/var/www"), same("/var/projects"), same("/home/soutade/www")},
		Lock:        "/run/lock/rsync-cron.lock",
	}
}

func main() {
	s := articleSetup()
	flag.StringVar(&s.Peer.Host, "peer", s.Peer.Host, "the peer's host name or address")
	flag.StringVar(&s.Peer.IdentityFile, "key", s.Peer.IdentityFile, "ssh private key")
	flag.StringVar(&s.Peer.KnownHostsFile, "known-hosts", s.Peer.KnownHostsFile, "file pinning the peer's host key")
	flag.DurationVar(&s.Every, "every", s.Every, "run on this period instead of once (cron mode)")
	flag.StringVar(&s.Lock, "lock", s.Lock, "overlap lock (flock)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	job, err := newJob(s, log)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	if s.Every == 0 {
		if _, err := job.Sync(ctx); err != nil {
			log.Error("replication failed", "err", err)
			os.Exit(1)
		}
		return
	}
	err = syncer.Schedule{Name: "replication", Every: s.Every, Jitter: s.Every / 20, Logger: log}.Run(ctx, job)
	if !errors.Is(err, context.Canceled) {
		log.Error("schedule", "err", err)
		os.Exit(1)
	}
}

// job is the whole script: one Syncer, so the schedule and the lock treat
// it as one run.
type job struct {
	s    setup
	lock *syncer.Lock
	log  *slog.Logger
}

func newJob(s setup, log *slog.Logger) (*job, error) {
	if err := s.Peer.Validate(); err != nil {
		return nil, err
	}
	return &job{s: s, lock: &syncer.Lock{Path: s.Lock}, log: log}, nil
}

// steps builds the script's commands over peer (the shared connection).
func (j *job) steps(peer syncer.SSH) ([]syncer.Syncer, error) {
	// rsync -auz root@cybelle:/var/mail /var
	mail, err := syncer.NewRsync(syncer.RsyncConfig{Source: j.s.Mail.Peer, Dest: j.s.Mail.Here, SSH: &peer, Pull: true, Compress: true, Logger: j.log})
	if err != nil {
		return nil, err
	}
	// ssh root@cybelle 'find /var/mail -name "*cybelle*" -delete', only after the pull succeeded.
	steps := []syncer.Syncer{syncer.Then(mail, syncer.RemoteCommand{SSH: peer, Argv: []string{"find", j.s.Mail.Peer, "-name", j.s.MailPattern, "-delete"}})}
	// rsync -auz /var/www root@cybelle:/var  (and the two others)
	for _, d := range j.s.Sites {
		push, err := syncer.NewRsync(syncer.RsyncConfig{Source: d.Here, Dest: d.Peer, SSH: &peer, Compress: true, Logger: j.log})
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
	master, err := j.s.Peer.StartMaster(ctx) // ping -c 1 cybelle || cybelle_not_here
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
