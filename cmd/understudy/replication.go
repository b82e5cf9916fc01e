package main

import (
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/replicate"
)

func init() {
	extraCommands = append(extraCommands, command{
		name:        "replication",
		summary:     "replica and DRBD status, explicit repairs: replication status [-data] [NAME] | repair NAME STRATEGY",
		needsConfig: true,
		run:         cmdReplication,
	})
}

func cmdReplication(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: understudy replication status [-data] [NAME] | repair NAME STRATEGY")
		return exitUsage
	}
	switch args[0] {
	case "status":
		return cmdReplicationStatus(e, args[1:])
	case "repair":
		return cmdReplicationRepair(e, args[1:])
	}
	fmt.Fprintf(e.stderr, "understudy: replication: unknown subcommand %q (status, repair)\n", args[0])
	return exitUsage
}

// pickReplications returns the named replication, or all of them.
func pickReplications(e *env, name string) ([]config.Replication, bool) {
	reps := e.app.cfg.Replication
	if name == "" {
		if len(reps) == 0 {
			fmt.Fprintf(e.stderr, "understudy: %s has no replication entries\n", e.configPath)
			return nil, false
		}
		return reps, true
	}
	i := slices.IndexFunc(reps, func(r config.Replication) bool { return r.Name == name })
	if i < 0 {
		fmt.Fprintf(e.stderr, "understudy: no replication named %q in %s\n", name, e.configPath)
		return nil, false
	}
	return reps[i : i+1], true
}

func openMySQL(e *env, s config.MySQLServer, connection string) (*replicate.MySQL, error) {
	return replicate.NewMySQL(replicate.MySQLConfig{Address: s.Address, User: s.User, Password: s.Password.Reveal(),
		Connection: connection, Logger: e.app.log})
}

// cmdReplicationStatus prints each replica's state, then each DRBD
// resource's; exit 1 when one is not fit to take over (stopped, broken,
// lagging, disconnected, unreadable).
func cmdReplicationStatus(e *env, args []string) int {
	fs := newFlags(e, "replication status", "[NAME]")
	data := fs.Bool("data", false, "also compare the configured tables with the source")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	reps, drbds := e.app.cfg.Replication, drbdEntries(e.app.cfg)
	if name := fs.Arg(0); name != "" {
		reps = slices.DeleteFunc(slices.Clone(reps), func(r config.Replication) bool { return r.Name != name })
		drbds = slices.DeleteFunc(drbds, func(d drbdEntry) bool { return d.conf.Resource != name })
		if len(reps)+len(drbds) == 0 {
			fmt.Fprintf(e.stderr, "understudy: no replication named %q and no drbd resource %q in %s\n", name, name, e.configPath)
			return exitUsage
		}
	}
	if len(reps)+len(drbds) == 0 {
		fmt.Fprintf(e.stderr, "understudy: %s has no replication entries and no drbd resources\n", e.configPath)
		return exitUsage
	}
	code := exitOK
	if len(reps) > 0 {
		code = mysqlStatus(e, reps, *data)
	}
	if len(drbds) > 0 {
		if len(reps) > 0 {
			fmt.Fprintln(e.stdout)
		}
		if drbdStatus(e, drbds) != exitOK {
			code = exitFailure
		}
	}
	return code
}

// mysqlStatus prints the replicas' table (and the data checks).
func mysqlStatus(e *env, reps []config.Replication, data bool) int {
	code := exitOK
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tREPLICA\tIO\tSQL\tLAG\tGTID\tREAD_ONLY\tFIT\tPROBLEM")
	var details []string
	for _, r := range reps {
		m, err := openMySQL(e, r.Replica, r.Connection)
		if err != nil {
			fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t-\tno\t%v\n", r.Name, r.Replica.Address, err)
			code = exitFailure
			continue
		}
		st, err := m.ReplicaStatus(e.ctx)
		fit := replicate.NewChecker(m, r.MaxLag).Check(e.ctx)
		if err != nil {
			fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t-\tno\t%v\n", r.Name, r.Replica.Address, err)
			code = exitFailure
			m.Close()
			continue
		}
		lag, fitText, problem := "unknown", "yes", st.Err()
		if st.Lag >= 0 {
			lag = st.Lag.String()
		}
		if fit != nil {
			fitText, code = "no", exitFailure
			if problem == "" {
				problem = fit.Error()
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\t%t\t%s\t%s\n", r.Name, r.Replica.Address, st.IORunning, st.SQLRunning, lag,
			st.Vars.GTIDSlavePos, st.Vars.ReadOnly, fitText, problem)
		if data {
			details = append(details, dataCheck(e, r, m))
		}
		m.Close()
	}
	w.Flush()
	for _, d := range details {
		fmt.Fprintln(e.stdout, d)
	}
	return code
}

func dataCheck(e *env, r config.Replication, replica *replicate.MySQL) string {
	if r.Source.Address == "" || len(r.Tables)+len(r.Schemas) == 0 {
		return fmt.Sprintf("%s: data check needs source and tables (or schemas)", r.Name)
	}
	src, err := openMySQL(e, r.Source, "")
	if err != nil {
		return fmt.Sprintf("%s: %v", r.Name, err)
	}
	defer src.Close()
	tables := r.Tables
	if len(tables) == 0 {
		tables = r.Schemas
	}
	rep, err := replicate.CompareTables(e.ctx, src, replica, replicate.DataCheckConfig{Tables: tables})
	if err != nil {
		return fmt.Sprintf("%s: %v", r.Name, err)
	}
	return fmt.Sprintf("%s: %s", r.Name, rep)
}

// cmdReplicationRepair runs one repair that the configuration allows,
// prints its report and exits 0 only when the copies converged (or, for
// report, when replication runs and the data matches).
func cmdReplicationRepair(e *env, args []string) int {
	fs := newFlags(e, "replication repair", "NAME STRATEGY")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		fmt.Fprintln(e.stderr, "strategies: report, replace-row, reseed, skip, restart (see the replicate package)")
		return exitUsage
	}
	reps, ok := pickReplications(e, fs.Arg(0))
	if !ok {
		return exitUsage
	}
	r := reps[0]
	strategy, err := replicate.ParseStrategy(fs.Arg(1))
	if err != nil {
		fmt.Fprintln(e.stderr, "understudy:", err)
		return exitUsage
	}
	if strategy != replicate.StrategyReport && !slices.Contains(r.AllowRepair, string(strategy)) {
		fmt.Fprintf(e.stderr, "understudy: replication %q: strategy %s is not in allow_repair %v; nothing done\n", r.Name, strategy, r.AllowRepair)
		return exitUsage
	}
	if r.Source.Address == "" {
		fmt.Fprintf(e.stderr, "understudy: replication %q: repairs need source\n", r.Name)
		return exitUsage
	}
	replica, err := openMySQL(e, r.Replica, r.Connection)
	if err != nil {
		fmt.Fprintln(e.stderr, "understudy:", err)
		return exitUsage
	}
	defer replica.Close()
	src, err := openMySQL(e, r.Source, "")
	if err != nil {
		fmt.Fprintln(e.stderr, "understudy:", err)
		return exitUsage
	}
	defer src.Close()
	repairer, err := replicate.NewRepairer(replicate.RepairConfig{Source: src, Replica: replica,
		Check: replicate.DataCheckConfig{Tables: r.Tables}, Schemas: r.Schemas, Logger: e.app.log,
		OnEvent: func(ev replicate.Event) {
			e.app.log.Info(ev.Message, "event", ev.Kind, "strategy", ev.Strategy, "server", ev.Server)
		}})
	if err != nil {
		fmt.Fprintln(e.stderr, "understudy:", err)
		return exitUsage
	}
	rep, err := repairer.Repair(e.ctx, strategy)
	if len(rep.Statements) > 0 || err == nil {
		fmt.Fprint(e.stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "understudy:", err)
		return exitFailure
	}
	if rep.Converged {
		return exitOK
	}
	return exitFailure
}
