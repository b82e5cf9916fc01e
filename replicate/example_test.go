package replicate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/replicate"
)

// The article's SHOW SLAVE STATUS\G, read by column name.
func ExampleParseSlaveStatusText() {
	out := `*************************** 1. row ***************************
             Slave_IO_Running: Yes
            Slave_SQL_Running: No
        Seconds_Behind_Master: NULL
                Last_IO_Errno: 0
               Last_SQL_Errno: 1062
               Last_SQL_Error: Error 'Duplicate entry '56-724' for key 'PRIMARY'' on query. Default database: 'frenchy'. Query: 'INSERT INTO wp_term_relationships VALUES (56, 724)'
1 row in set (0.00 sec)`
	all, err := replicate.ParseSlaveStatusText(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := all[0]
	fmt.Println(s.Running(), s.Lag, s.SQLError.Errno, s.SQLError.Class)
	dk, _ := replicate.ParseDuplicateKey(s.SQLError.Message)
	fmt.Printf("%s.%s %s=%s\n", dk.Schema, dk.Table, dk.Key, dk.Value)
	// Output:
	// false -1ns 1062 duplicate_key
	// frenchy.wp_term_relationships PRIMARY=56-724
}

// A standby is fit to take over only if its replica runs and is less
// than 30 seconds behind.
func ExampleNewChecker() {
	replica, err := replicate.NewMySQL(replicate.MySQLConfig{Address: "10.134.4.220:3306", User: "monitor", Password: "from a file"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer replica.Close()
	check := replicate.NewChecker(replica, 30*time.Second)
	_ = check // a health.Checker: give it to the failover policy as a critical check
}

// An explicit repair: the source's row wins, then the data check says
// whether the copies converged.
func ExampleRepairer() {
	source, _ := replicate.NewMySQL(replicate.MySQLConfig{Address: "10.134.23.164:3306", User: "admin"})
	replica, _ := replicate.NewMySQL(replicate.MySQLConfig{Address: "10.134.4.220:3306", User: "admin"})
	r, err := replicate.NewRepairer(replicate.RepairConfig{
		Source: source, Replica: replica,
		Check:   replicate.DataCheckConfig{Tables: []string{"frenchy"}},
		OnEvent: func(e replicate.Event) { fmt.Println(e.Message) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := r.Repair(context.Background(), replicate.StrategyReplaceRow)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(rep)
}

// The database step of a switch: refuse a replica more than 10 s behind,
// set read_only on the old primary, clear it on the new one.
func ExampleMySQLSwitcher() {
	a, _ := replicate.NewMySQL(replicate.MySQLConfig{Address: "10.1.0.1:3306", User: "admin"})
	b, _ := replicate.NewMySQL(replicate.MySQLConfig{Address: "10.2.0.2:3306", User: "admin"})
	sw, err := replicate.NewMySQLSwitcher(replicate.MySQLSwitcherConfig{
		Servers: map[string]*replicate.MySQL{"master": a, "slave": b},
		MaxLag:  10 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ failover.Switcher = sw
}

// The promotion gate: a replica that runs with lag 0 but moved past a
// transaction that had failed, with no data check since, is refused.
func ExamplePromotable() {
	seen := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var h replicate.History
	// What the replica said while broken, then after the article's
	// STOP SLAVE; RESET SLAVE; START SLAVE.
	h.Observe(replicate.MySQLStatus{Server: "10.134.4.220:3306", IORunning: replicate.ThreadYes, Lag: -1,
		SQLError:          replicate.ReplError{Errno: 1062, Class: replicate.ClassDuplicateKey},
		ExecSourceLogFile: "mariadb-bin.000210", ExecSourceLogPos: 1563407}, seen)
	now := replicate.MySQLStatus{Server: "10.134.4.220:3306", IORunning: replicate.ThreadYes, SQLRunning: true,
		ExecSourceLogFile: "mariadb-bin.000210", ExecSourceLogPos: 2753885}
	h.Observe(now, seen.Add(time.Minute))

	v := replicate.Promotable(h.Input(now, nil, 30*time.Second))
	fmt.Println(v.Fit, v.Reasons())
	fmt.Println(errors.Is(v.Err(), replicate.ErrSkipped))
	// Output:
	// false [skipped_transactions]
	// true
}

// Before a switch, read semi-sync on the primary: did the standby
// acknowledge everything committed?
func ExampleSemiSync_Acknowledged() {
	last := replicate.SemiSync{Server: "10.134.23.164:3306", Available: true, MasterEnabled: true,
		MasterActive: false, NoTx: 3, Timeout: 10 * time.Second}
	ok, why := last.Acknowledged(nil)
	fmt.Println(ok)
	fmt.Println(why)
	// Output:
	// false
	// semi-sync is enabled but inactive on 10.134.23.164:3306 (Rpl_semi_sync_master_status=OFF, 0 semi-sync replica(s) connected, 3 transaction(s) committed without acknowledgement): it fell back to asynchronous after rpl_semi_sync_master_timeout=10s, data may be missing on the standby
}

// The preflight: what a monitoring account lacks, and the GRANT for it.
func ExampleCheckPrivileges() {
	replica, _ := replicate.NewMySQL(replicate.MySQLConfig{Address: "10.134.4.220:3306", User: "monitor"})
	source, _ := replicate.NewMySQL(replicate.MySQLConfig{Address: "10.134.23.164:3306", User: "monitor"})
	rep, err := replicate.CheckPrivileges(context.Background(), replica, source, replicate.PrivilegeConfig{
		Tables: []string{"frenchy"}, Repairs: []replicate.Strategy{replicate.StrategyReplaceRow}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range rep.Missing() {
		fmt.Printf("%s on %s: %s\n", c.Statement, c.Role, c.Grant)
	}
}
