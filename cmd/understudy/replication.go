package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/replicate"
)

func init() {
	extraCommands = append(extraCommands, command{
		name:        "replication",
		summary:     "replica and DRBD status, explicit repairs, privileges: replication status [-data] [NAME] | repair NAME STRATEGY | doctor [NAME]",
		needsConfig: true,
		run:         cmdReplication,
	})
}

func cmdReplication(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: understudy replication status [-data] [NAME] | repair NAME STRATEGY | doctor [-all] [NAME]")
		return exitUsage
	}
	switch args[0] {
	case "status":
		return cmdReplicationStatus(e, args[1:])
	case "repair":
		return cmdReplicationRepair(e, args[1:])
	case "doctor":
		return cmdReplicationDoctor(e, args[1:])
	}
	fmt.Fprintf(e.stderr, "understudy: replication: unknown subcommand %q (status, repair, doctor)\n", args[0])
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

// replicationHistory is where what the replication commands see is
// remembered (failures, skipped transactions, data checks): next to the
// state file, "state.json" → "state.replication.json". nil without a
// state file.
func replicationHistory(cfg *config.Config) *replicate.HistoryFile {
	if cfg.StateFile == "" {
		return nil
	}
	base := strings.TrimSuffix(cfg.StateFile, filepath.Ext(cfg.StateFile))
	return &replicate.HistoryFile{Path: base + ".replication.json"}
}

// updateHistory applies f to the entry's history: in the store when
// there is one, else to mem (this run only).
func updateHistory(e *env, name string, mem *replicate.History, f func(*replicate.History) bool) (replicate.History, error) {
	store := replicationHistory(e.app.cfg)
	if store == nil {
		f(mem)
		return *mem, nil
	}
	return store.Update(e.ctx, name, f)
}

// cmdReplicationStatus prints each replica's state, then each DRBD
// resource's; exit 1 when one is not fit to take over (stopped, broken,
// lagging, disconnected, unreadable, moved past a failed transaction
// without a data check since, last data check found differences) or
// when -data found differences or could not compare.
func cmdReplicationStatus(e *env, args []string) int {
	fs := newFlags(e, "replication status", "[NAME]")
	data := fs.Bool("data", false, "also compare the configured tables with the source (after waiting for the replica to catch up); differences, or a check that cannot run, make the exit status 1")
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

// dataCatchUp bounds the wait for the replica to catch up before
// `status -data` compares.
const dataCatchUp = 10 * time.Second

// mysqlStatus prints the replicas' table, then the data checks and the
// other details.
func mysqlStatus(e *env, reps []config.Replication, data bool) int {
	code := exitOK
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tREPLICA\tIO\tSQL\tLAG\tGTID\tREAD_ONLY\tFIT\tPROBLEM")
	var details []string
	for _, r := range reps {
		lines, fit := replicaStatus(e, w, r, data)
		details = append(details, lines...)
		if !fit {
			code = exitFailure
		}
	}
	w.Flush()
	for _, d := range details {
		fmt.Fprintln(e.stdout, d)
	}
	if replicationHistory(e.app.cfg) == nil {
		fmt.Fprintln(e.stdout, "note: no state_file: what this command saw is not remembered, so a replica that moved past a failed transaction between two runs is not noticed")
	}
	return code
}

// replicaStatus prints one replica's row and returns the lines to print
// after the table, and whether it is fit (and its data check, if asked
// for, passed).
func replicaStatus(e *env, w io.Writer, r config.Replication, data bool) ([]string, bool) {
	m, err := openMySQL(e, r.Replica, r.Connection)
	if err != nil {
		fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t-\tno\t%v\n", r.Name, r.Replica.Address, err)
		return nil, false
	}
	defer m.Close()
	var details []string
	ok := true
	var src *replicate.MySQL
	if r.Source.Address != "" {
		if src, err = openMySQL(e, r.Source, ""); err != nil {
			details, src = append(details, fmt.Sprintf("%s: source: %v", r.Name, err)), nil
		} else {
			defer src.Close()
		}
	}
	var mem replicate.History
	st, statusErr := m.ReplicaStatus(e.ctx)
	h, err := updateHistory(e, r.Name, &mem, func(h *replicate.History) bool {
		return statusErr == nil && h.Observe(st, time.Now())
	})
	if err != nil {
		details, ok = append(details, fmt.Sprintf("%s: %v", r.Name, err)), false
	}
	if data {
		line, equal, checked := dataCheck(e, r, src, m, st, statusErr)
		details = append(details, line)
		ok = ok && equal
		if checked != nil {
			if h, err = updateHistory(e, r.Name, &mem, func(h *replicate.History) bool { h.RecordDataCheck(*checked, time.Now()); return true }); err != nil {
				details, ok = append(details, fmt.Sprintf("%s: data check not recorded: %v", r.Name, err)), false
			}
		}
	}
	in := h.Input(st, statusErr, r.MaxLag)
	in.Server, in.RequireConnected = r.Replica.Address, true
	v := replicate.Promotable(in)
	fit := "yes"
	if !v.Fit {
		fit, ok = "no", false
	}
	problem := strings.Join(problemTexts(v), "; ")
	if statusErr != nil {
		fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t-\t%s\t%s\n", r.Name, r.Replica.Address, fit, problem)
		return details, ok
	}
	lag := "unknown"
	if st.Lag >= 0 {
		lag = st.Lag.String()
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\t%t\t%s\t%s\n", r.Name, r.Replica.Address, st.IORunning, st.SQLRunning, lag,
		st.Vars.GTIDSlavePos, st.Vars.ReadOnly, fit, problem)
	if line := semiSyncLine(e, r.Name, src, m); line != "" {
		details = append(details, line)
	}
	return details, ok
}

// problemTexts are the verdict's problems, then its notes.
func problemTexts(v replicate.PromotionVerdict) []string {
	var out []string
	for _, p := range v.Problems {
		out = append(out, string(p.Reason)+": "+p.Detail)
	}
	return append(out, v.Notes...)
}

// dataCheck compares the configured tables, after waiting (bounded) for
// a running replica to catch up. It returns the line to print, whether
// the copies are equal, and the report to record (nil when the check
// could not run).
func dataCheck(e *env, r config.Replication, src, replica *replicate.MySQL, st replicate.MySQLStatus, statusErr error) (string, bool, *replicate.DataReport) {
	if src == nil || len(r.Tables)+len(r.Schemas) == 0 {
		return fmt.Sprintf("%s: data: not checked: the data check needs a reachable source and tables (or schemas)", r.Name), false, nil
	}
	tables := r.Tables
	if len(tables) == 0 {
		tables = r.Schemas
	}
	note := ""
	if statusErr == nil && st.Running() {
		if caught, err := replicate.WaitCaughtUp(e.ctx, src, replica, dataCatchUp); err != nil || !caught {
			note = fmt.Sprintf(" (the replica had not caught up with its source within %v: a difference may be in flight)", dataCatchUp)
		}
	}
	rep, err := replicate.CompareTables(e.ctx, src, replica, replicate.DataCheckConfig{Tables: tables})
	if err != nil {
		return fmt.Sprintf("%s: data: not checked: %v", r.Name, err), false, nil
	}
	return fmt.Sprintf("%s: data: %s%s", r.Name, rep, note), rep.Equal(), &rep
}

// semiSyncLine reports semi-synchronous replication when the source or
// the replica has it enabled ("" otherwise).
func semiSyncLine(e *env, name string, src, replica *replicate.MySQL) string {
	rs, err := replica.SemiSync(e.ctx)
	if err != nil {
		return fmt.Sprintf("%s: semi-sync: %v", name, err)
	}
	var ss replicate.SemiSync
	if src != nil {
		if ss, err = src.SemiSync(e.ctx); err != nil {
			return fmt.Sprintf("%s: semi-sync: %v", name, err)
		}
	}
	if !ss.MasterEnabled && !rs.SlaveEnabled {
		return ""
	}
	line := fmt.Sprintf("%s: semi-sync: replica %s slave_enabled=%t active=%t", name, replica.Name(), rs.SlaveEnabled, rs.SlaveActive)
	if src != nil {
		_, msg := ss.Acknowledged(nil)
		line += "; " + msg
	}
	return line
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
	if len(rep.Statements) > 0 || rep.Failed != "" || err == nil {
		fmt.Fprint(e.stdout, rep)
	}
	// What the repair saw and found is remembered: a replica moved past
	// its failure is suspect until a data check passes, which the
	// repair's own check may be.
	var mem replicate.History
	if _, herr := updateHistory(e, r.Name, &mem, func(h *replicate.History) bool {
		now := time.Now()
		if rep.Before.Server != "" {
			h.Observe(rep.Before, now)
		}
		if rep.After.Server != "" {
			h.Observe(rep.After, now)
		}
		if rep.DataChecked {
			h.RecordDataCheck(rep.Data, now)
		}
		return true
	}); herr != nil {
		fmt.Fprintln(e.stderr, "understudy:", herr)
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
