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
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/replicate"
)

func main() {
	source := flag.String("source", "127.0.0.1:3307", "the master (host:port)")
	replica := flag.String("replica", "127.0.0.1:3308", "the watched slave (host:port)")
	user := flag.String("user", "root", "account with SLAVE MONITOR (and SUPER for repairs)")
	tables := flag.String("tables", "", "comma-separated schema or schema.table compared after a break")
	maxLag := flag.Duration("max-lag", 30*time.Second, "lag beyond which the slave is not fit to take over")
	every := flag.Duration("every", 10*time.Second, "time between two looks")
	repair := flag.String("repair", "", "run this repair once and exit: replace-row, reseed, skip, restart")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	password := os.Getenv("UNDERSTUDY_MYSQL_PASSWORD") // never on the command line
	open := func(addr string) *replicate.MySQL {
		m, err := replicate.NewMySQL(replicate.MySQLConfig{Address: addr, User: *user, Password: password, Logger: log})
		if err != nil {
			log.Error("configuration", "err", err)
			os.Exit(2)
		}
		return m
	}
	src, rep := open(*source), open(*replica)
	defer src.Close()
	defer rep.Close()
	var check replicate.DataCheckConfig
	if *tables != "" {
		check.Tables = strings.Split(*tables, ",")
	}

	if *repair != "" { // STOP SLAVE; RESET SLAVE; START SLAVE and the others, explicitly
		strategy, err := replicate.ParseStrategy(*repair)
		if err != nil {
			log.Error("repair", "err", err)
			os.Exit(2)
		}
		r, err := replicate.NewRepairer(replicate.RepairConfig{Source: src, Replica: rep, Check: check, Schemas: check.Tables, Logger: log,
			OnEvent: func(e replicate.Event) { log.Info(e.Message, "event", e.Kind) }})
		if err != nil {
			log.Error("repair", "err", err)
			os.Exit(2)
		}
		report, err := r.Repair(ctx, strategy)
		fmt.Print(report)
		if err != nil || !report.Converged {
			log.Error("not converged", "err", err)
			os.Exit(1)
		}
		return
	}

	// SHOW SLAVE STATUS\G by eye, every few seconds: Slave_IO_Running,
	// Slave_SQL_Running, Last_SQL_Errno, Seconds_Behind_Master.
	fit := replicate.NewChecker(rep, *maxLag)
	wasOK := true
	for {
		err := fit.Check(ctx)
		switch {
		case err != nil && wasOK:
			log.Error("replication not fit: alert", "err", err) // hand to a failover.Notifier in a real setup
			explain(ctx, src, rep, check)
		case err == nil && !wasOK:
			log.Info("replication fit again", "replica", rep.Name())
		}
		wasOK = err == nil
		select {
		case <-ctx.Done():
			return
		case <-time.After(*every):
		}
	}
}

// explain prints what broke, which rows differ, and the repair choices.
func explain(ctx context.Context, src, rep *replicate.MySQL, check replicate.DataCheckConfig) {
	st, err := rep.ReplicaStatus(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: IO %s, SQL running %t: %s\n", rep.Name(), st.IORunning, st.SQLRunning, st.Err())
	if len(check.Tables) > 0 {
		if data, err := replicate.CompareTables(ctx, src, rep, check); err == nil {
			fmt.Println(data)
		}
	}
	fmt.Println(`repair choices (run one with -repair NAME; each is followed by a data check):
  replace-row  1062 only: delete the slave's conflicting row unlogged; the master's row is applied (converges)
  reseed       reload the schemas from a GTID-consistent dump of the master (converges; slave-only writes are lost)
  skip         skip the failing transaction: replication resumes, the copies differ in the named rows
  restart      the article's STOP/RESET/START: with GTID it replays the same failing event and fixes nothing
  (slave_exec_mode=IDEMPOTENT is refused: no effect with MIXED binlogs, silent overwrites with ROW)`)
}
