package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/replicate"
)

// cmdReplicationDoctor checks, for each replication entry (or the one
// named), that the configured accounts may run what the commands need:
// reading the status, the data check, fencing (read_only), and the
// repairs in allow_repair (every repair with -all). It prints one line
// per statement and the GRANT for each missing privilege; exit 1 when
// one is missing or cannot be told.
func cmdReplicationDoctor(e *env, args []string) int {
	fs := newFlags(e, "replication doctor", "[NAME]")
	all := fs.Bool("all", false, "check every repair strategy, not only those in allow_repair")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	reps, ok := pickReplications(e, fs.Arg(0))
	if !ok {
		return exitUsage
	}
	code := exitOK
	for i, r := range reps {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		cfg := replicate.PrivilegeConfig{Tables: r.Tables, Schemas: r.Schemas}
		if *all {
			cfg.Repairs = []replicate.Strategy{replicate.StrategyRestart, replicate.StrategySkip, replicate.StrategyReplaceRow, replicate.StrategyReseed}
		} else {
			for _, s := range r.AllowRepair {
				cfg.Repairs = append(cfg.Repairs, replicate.Strategy(s))
			}
		}
		if doctor(e, r.Name, r.Replica, r.Source, r.Connection, cfg) != exitOK {
			code = exitFailure
		}
	}
	return code
}

func doctor(e *env, name string, replicaConf, sourceConf config.MySQLServer, connection string, cfg replicate.PrivilegeConfig) int {
	replica, err := openMySQL(e, replicaConf, connection)
	if err != nil {
		fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
		return exitFailure
	}
	defer replica.Close()
	var source *replicate.MySQL
	if sourceConf.Address != "" {
		if source, err = openMySQL(e, sourceConf, ""); err != nil {
			fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
			return exitFailure
		}
		defer source.Close()
	}
	rep, err := replicate.CheckPrivileges(e.ctx, replica, source, cfg)
	if err != nil {
		fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
		return exitFailure
	}
	head := fmt.Sprintf("%s: replica %s as %s", name, replica.Name(), rep.Accounts["replica"])
	if source != nil {
		head += fmt.Sprintf(", source %s as %s", source.Name(), rep.Accounts["source"])
	} else {
		head += " (no source configured: its account is not checked)"
	}
	fmt.Fprintln(e.stdout, head)
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  OPERATION\tON\tSTATEMENT\tSTATE\tNEEDS\tFIX")
	for _, c := range rep.Checks {
		fix := c.Grant
		if fix == "" && c.State != replicate.PrivilegeOK {
			fix = c.Detail
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Operation, c.Role, c.Statement, c.State, c.Needs, fix)
	}
	w.Flush()
	missing := rep.Missing()
	if len(missing) == 0 {
		fmt.Fprintf(e.stdout, "%s: every privilege present\n", name)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%s: %d missing or unknown; global privileges apply to new connections (restart `understudy run` after granting)\n", name, len(missing))
	for _, c := range missing {
		if c.Detail != "" {
			fmt.Fprintf(e.stdout, "  %s on %s: %s: %s\n", c.Statement, c.Role, c.State, c.Detail)
		}
	}
	return exitFailure
}
