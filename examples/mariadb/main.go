// Command mariadb rebuilds the MariaDB article (seeds 003 and 004): it
// watches one replica of a master-master pair, alerts when replication
// breaks (error 1062 and friends), shows the repair choices with what each
// really does, and runs one only when asked with -repair.
//
//	UNDERSTUDY_MYSQL_PASSWORD=... mariadb -source 10.134.23.164:3306 -replica 10.134.4.220:3306 -user admin -tables frenchy
//	mariadb ... -repair replace-row
//
// See README.md for the article's commands and their counterparts here.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
	"github.com/understudy-ha/understudy/replicate"
)

// setup is what the article types by hand: the two servers, the account,
// the replicated tables, and (article 004) where the admin's mail goes.
type setup struct {
	Source, Replica string // host:port of the master and of the watched slave
	User, Password  string
	Tables          []string      // schema or schema.table, compared after a break
	MaxLag          time.Duration // beyond it the slave is not fit to take over
	Every           time.Duration // time between two looks
	// SMTP is mutt's smtp_url (host:port) and Admin its $EMAIL; with no
	// SMTP the alert is only logged.
	SMTP, Admin string
}

func main() {
	s := setup{Source: "127.0.0.1:3307", Replica: "127.0.0.1:3308", User: "root", MaxLag: 30 * time.Second, Every: 10 * time.Second, Admin: "admin@my.com"}
	flag.StringVar(&s.Source, "source", s.Source, "the master (host:port)")
	flag.StringVar(&s.Replica, "replica", s.Replica, "the watched slave (host:port)")
	flag.StringVar(&s.User, "user", s.User, "account with SLAVE MONITOR (and SUPER for repairs)")
	tables := flag.String("tables", "", "comma-separated schema or schema.table compared after a break")
	flag.DurationVar(&s.MaxLag, "max-lag", s.MaxLag, "lag beyond which the slave is not fit to take over")
	flag.DurationVar(&s.Every, "every", s.Every, "time between two looks")
	flag.StringVar(&s.SMTP, "smtp", s.SMTP, "mail alerts through this relay (host:port; the article's 10.6.6.6:25); empty: log only")
	flag.StringVar(&s.Admin, "mail-to", s.Admin, "who gets the alerts")
	repair := flag.String("repair", "", "run this repair once and exit: replace-row, reseed, skip, restart")
	flag.Parse()
	if *tables != "" {
		s.Tables = strings.Split(*tables, ",")
	}
	s.Password = os.Getenv("UNDERSTUDY_MYSQL_PASSWORD") // never on the command line
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	w, err := newWatcher(s, os.Stdout, log)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	defer w.Close()

	if *repair != "" { // STOP SLAVE; RESET SLAVE; START SLAVE and the others, explicitly
		report, err := w.repair(ctx, *repair)
		fmt.Print(report)
		if err != nil || !report.Converged {
			log.Error("not converged", "err", err)
			os.Exit(1)
		}
		return
	}
	for { // the article's cron, every few seconds
		w.look(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.Every):
		}
	}
}

// watcher is one replica under watch, the master it follows, and where
// alerts go.
type watcher struct {
	src, rep *replicate.MySQL
	fit      *replicate.Checker
	check    replicate.DataCheckConfig
	alert    failover.Notifier // nil: log only
	out      io.Writer         // the explanation for the admin
	log      *slog.Logger
	wasOK    bool
}

func newWatcher(s setup, out io.Writer, log *slog.Logger) (*watcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	open := func(addr string) (*replicate.MySQL, error) {
		return replicate.NewMySQL(replicate.MySQLConfig{Address: addr, User: s.User, Password: s.Password, Logger: log})
	}
	src, err := open(s.Source)
	if err != nil {
		return nil, err
	}
	rep, err := open(s.Replica)
	if err != nil {
		src.Close()
		return nil, err
	}
	w := &watcher{src: src, rep: rep, fit: replicate.NewChecker(rep, s.MaxLag), check: replicate.DataCheckConfig{Tables: s.Tables},
		out: out, log: log, wasOK: true}
	if s.SMTP != "" { // mutt -e "set smtp_url=smtp://10.6.6.6" -s "Server problem" $EMAIL
		w.alert, err = notify.NewMail(notify.MailConfig{Server: s.SMTP, From: s.Admin, To: []string{s.Admin}})
		if err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

// Close closes both connections.
func (w *watcher) Close() { w.src.Close(); w.rep.Close() }

// look is one SHOW SLAVE STATUS\G by eye: Slave_IO_Running,
// Slave_SQL_Running, Last_SQL_Errno, Seconds_Behind_Master. It alerts
// once when replication stops being fit, and logs when it is fit again.
func (w *watcher) look(ctx context.Context) {
	err := w.fit.Check(ctx)
	switch {
	case err != nil && w.wasOK:
		e := failover.Event{Time: time.Now(), Kind: failover.EventCheckDown, Node: w.rep.Name(), Check: "replication",
			Err: err.Error(), Message: "replication not fit: " + err.Error()}
		if w.alert == nil {
			w.log.Error("replication not fit: alert", "err", err)
		} else if nerr := w.alert.Notify(ctx, e); nerr != nil {
			w.log.Error("alert not sent", "err", errors.Join(err, nerr))
		}
		w.explain(ctx)
	case err == nil && !w.wasOK:
		w.log.Info("replication fit again", "replica", w.rep.Name())
	}
	w.wasOK = err == nil
}

// repair runs one strategy, followed by a data check.
func (w *watcher) repair(ctx context.Context, name string) (replicate.RepairReport, error) {
	strategy, err := replicate.ParseStrategy(name)
	if err != nil {
		return replicate.RepairReport{}, err
	}
	r, err := replicate.NewRepairer(replicate.RepairConfig{Source: w.src, Replica: w.rep, Check: w.check, Schemas: w.check.Tables, Logger: w.log,
		OnEvent: func(e replicate.Event) { w.log.Info(e.Message, "event", e.Kind) }})
	if err != nil {
		return replicate.RepairReport{}, err
	}
	return r.Repair(ctx, strategy)
}

// explain prints what broke, which rows differ, and the repair choices.
func (w *watcher) explain(ctx context.Context) {
	st, err := w.rep.ReplicaStatus(ctx)
	if err != nil {
		fmt.Fprintln(w.out, err)
		return
	}
	fmt.Fprintf(w.out, "%s: IO %s, SQL running %t: %s\n", w.rep.Name(), st.IORunning, st.SQLRunning, st.Err())
	if len(w.check.Tables) > 0 {
		if data, err := replicate.CompareTables(ctx, w.src, w.rep, w.check); err == nil {
			fmt.Fprintln(w.out, data)
		}
	}
	fmt.Fprintln(w.out, `repair choices (run one with -repair NAME; each is followed by a data check):
  replace-row  1062 only: delete the slave's conflicting row unlogged; the master's row is applied (converges)
  reseed       reload the schemas from a GTID-consistent dump of the master (converges; slave-only writes are lost)
  skip         skip the failing transaction: replication resumes, the copies differ in the named rows
  restart      the article's STOP/RESET/START: with GTID it replays the same failing event and fixes nothing
  (slave_exec_mode=IDEMPOTENT is refused: no effect with MIXED binlogs, silent overwrites with ROW)`)
}
