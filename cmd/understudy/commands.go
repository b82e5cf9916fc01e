package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovermetrics"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func cmdVersion(e *env, args []string) int {
	fs := newFlags(e, "version", "")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	fmt.Fprintln(e.stdout, "understudy", v)
	return exitOK
}

// cmdValidate loads the configuration and builds every component from
// it (which resolves commands in PATH and parses key files), reporting
// every problem with its place in the file.
func cmdValidate(e *env, args []string) int {
	fs := newFlags(e, "validate", "")
	kaConf := fs.String("keepalived-conf", "", "also write the generated keepalived.conf to `file`")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	a, err := loadApp(e.configPath, e.stderr)
	if err == nil {
		_, err = buildArbiter(a.cfg, deps{log: a.log})
	}
	if err == nil {
		err = validateFloating(e.ctx, a.cfg, *kaConf, deps{log: a.log}) // build_vrrp.go
	}
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitUsage
	}
	fmt.Fprintln(e.stdout, "ok")
	return exitOK
}

func requireState(e *env) bool {
	if e.app.cfg.StateFile == "" {
		fmt.Fprintf(e.stderr, "%s: state_file is required for this command\n", e.app.cfg.File)
		return false
	}
	return true
}

// arbiter builds the arbiter, printing why when it cannot.
func (e *env) arbiter() *failover.Arbiter {
	a, err := buildArbiter(e.app.cfg, deps{log: e.app.log, onEvent: e.app.events.Observe, floating: e.app.floating})
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return nil
	}
	return a
}

// cmdTick runs one round. It prints nothing on its own (only the
// transitions logged on stderr), so that cron, which mails whatever a job
// prints, mails once per transition and not once per round; -v prints a
// summary line of the round.
func cmdTick(e *env, args []string) int {
	fs := newFlags(e, "tick", "")
	verbose := fs.Bool("v", false, "print a summary line of the round")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if !requireState(e) {
		return exitUsage
	}
	a := e.arbiter()
	if a == nil {
		return exitUsage
	}
	rep, err := a.Tick(e.ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "understudy tick: %v\n", err)
		return exitFailure
	}
	if !*verbose {
		return exitOK
	}
	failed := 0
	for _, r := range rep.Results {
		if r.Err != nil {
			failed++
		}
	}
	fmt.Fprintf(e.stdout, "round %s: active %s, %d of %d checks failed, %d events",
		rep.Time.Format(time.RFC3339), orDash(a.Snapshot().Active), failed, len(rep.Results), len(rep.Events))
	if rep.Switched {
		fmt.Fprint(e.stdout, ", switched")
	}
	if rep.SwitchErr != nil {
		fmt.Fprintf(e.stdout, ", switch failed: %v", rep.SwitchErr)
	}
	fmt.Fprintln(e.stdout)
	return exitOK
}

func cmdSwitch(e *env, args []string) int {
	fs := newFlags(e, "switch", "NODE")
	force := fs.Bool("force", false, "switch even to a node that is not up, while isolated or within the hold-down")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if !requireState(e) {
		return exitUsage
	}
	a := e.arbiter()
	if a == nil {
		return exitUsage
	}
	to := fs.Arg(0)
	if err := a.Switch(e.ctx, to, *force); err != nil {
		fmt.Fprintf(e.stderr, "understudy switch: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "active node: %s\n", a.Snapshot().Active)
	return exitOK
}

// checkRow is one line of `understudy check -json`.
type checkRow struct {
	Node    string        `json:"node,omitempty"`
	Check   string        `json:"check"`
	Role    failover.Role `json:"role"`
	OK      bool          `json:"ok"`
	Latency string        `json:"latency"`
	Error   string        `json:"error,omitempty"`
	Note    string        `json:"note,omitempty"`
}

func cmdCheck(e *env, args []string) int {
	fs := newFlags(e, "check", "")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	node := fs.String("node", "", "run only this `node`'s checks (keepalived's track script)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *node != "" {
		cfg, err := restrictToNode(e.app.cfg, *node) // keepalived.go
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return exitUsage
		}
		e.app.cfg = cfg
	}
	a := e.arbiter()
	if a == nil {
		return exitUsage
	}
	results := a.CheckAll(e.ctx)
	code := exitOK
	rows := make([]checkRow, 0, len(results))
	for _, r := range results {
		row := checkRow{
			Node: r.Node, Check: strings.TrimPrefix(r.Name, r.Node+"/"), Role: r.Role,
			OK: r.Err == nil, Latency: r.Latency.Round(100 * time.Microsecond).String(), Note: r.Note,
		}
		if r.Err != nil {
			row.Error = oneLine(r.Err.Error())
			if r.Role == failover.RoleCritical || r.Role == "" {
				code = exitFailure
			}
		}
		rows = append(rows, row)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			fmt.Fprintln(e.stderr, err)
			return exitFailure
		}
		return code
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tCHECK\tROLE\tRESULT\tLATENCY\tERROR")
	for _, r := range rows {
		result := "ok"
		if !r.OK {
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", orDash(r.Node), r.Check, r.Role, result, r.Latency, orDash(cmpOr(r.Error, r.Note)))
	}
	if err := tw.Flush(); err != nil {
		return exitFailure
	}
	return code
}

func cmdStatus(e *env, args []string) int {
	fs := newFlags(e, "status", "")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	n := fs.Int("n", 10, "number of recent events to show")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if !requireState(e) {
		return exitUsage
	}
	snap, err := failover.ReadSnapshot(e.app.cfg.StateFile)
	if err != nil {
		fmt.Fprintf(e.stderr, "understudy status: %v\n", err)
		return exitFailure
	}
	if *n >= 0 && len(snap.Events) > *n {
		snap.Events = snap.Events[len(snap.Events)-*n:]
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(snap); err != nil {
			fmt.Fprintln(e.stderr, err)
			return exitFailure
		}
		return exitOK
	}
	printStatus(e.stdout, snap)
	return exitOK
}

func printStatus(w io.Writer, s failover.Snapshot) {
	fmt.Fprintf(w, "active:      %s\n", orDash(s.Active))
	fmt.Fprintf(w, "last round:  %s\n", when(s.LastRound))
	fmt.Fprintf(w, "last switch: %s\n", when(s.LastSwitch))
	if s.Isolated {
		fmt.Fprintln(w, "ISOLATED: the witness checks fail; no switch will be made")
	}
	if p := s.Pending; p != nil {
		fmt.Fprintf(w, "pending switch: %s -> %s (%s, decided %s, %d failed rounds", orDash(p.From), p.To, p.Reason, when(p.Time), p.Failures)
		if p.LastErr != "" {
			fmt.Fprintf(w, ", last error: %s", oneLine(p.LastErr))
		}
		fmt.Fprintln(w, ")")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tPRIORITY\tSTATUS\tSINCE\tACTIVE")
	for _, n := range s.Nodes {
		active := ""
		if n.Active {
			active = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", n.Name, n.Address, n.Priority, n.Status, when(n.Since), active)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tROLE\tSTATUS\tFAILS\tLAST RUN\tLATENCY\tLAST ERROR")
	for _, c := range s.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", c.Name, c.Role, c.Status, c.Fails,
			when(c.Last.Time), c.Last.Latency.Round(100*time.Microsecond), orDash(oneLine(cmpOr(c.Last.Err, c.LastErr))))
	}
	tw.Flush()
	if len(s.Events) > 0 {
		fmt.Fprintln(w, "\nrecent events:")
		for _, ev := range s.Events {
			fmt.Fprintf(w, "  %s  %-16s %s\n", ev.Time.Format(time.RFC3339), ev.Kind, oneLine(ev.Message))
		}
	}
}

// cmdRun is the daemon: rounds every interval until the context ends
// (SIGINT or SIGTERM), and the status endpoint if configured.
func cmdRun(e *env, args []string) int {
	fs := newFlags(e, "run", "")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	fl, err := newFloating(e.app.cfg, deps{log: e.app.log}) // build_vrrp.go
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitUsage
	}
	e.app.floating = fl
	a := e.arbiter()
	if a == nil {
		return exitUsage
	}
	log := e.app.log
	cfg := e.app.cfg
	if cfg.StateFile == "" {
		log.Warn("no state_file: the state is kept in memory and lost on restart")
	}
	var srv *http.Server
	if cfg.HTTP.Listen != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			fmt.Fprintf(e.stderr, "understudy run: status endpoint: %v\n", err)
			return exitFailure
		}
		srv = &http.Server{Handler: statusHandler(a, cfg.Interval, e.app.events), ReadHeaderTimeout: 5 * time.Second}
		log.Info("status endpoint listening", "addr", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("status endpoint stopped", "error", err)
			}
		}()
	}
	// The syncs run beside the rounds and stop with them.
	syncCtx, stopSyncs := context.WithCancel(e.ctx)
	defer stopSyncs()
	waitSyncs, err := startSyncs(syncCtx, cfg, log)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		fmt.Fprintf(e.stderr, "understudy run: %v\n", err)
		return exitUsage
	}
	// So does the dynamic DNS updater, when ddns.every is given.
	waitDDNS, err := startDDNS(syncCtx, cfg, deps{log: log})
	if err != nil {
		stopSyncs()
		waitSyncs()
		if srv != nil {
			srv.Close()
		}
		fmt.Fprintf(e.stderr, "understudy run: ddns: %v\n", err)
		return exitUsage
	}
	log.Info("understudy running", "nodes", len(cfg.Nodes), "checks", len(cfg.Checks()), "syncs", len(cfg.Syncs), "interval", cfg.Interval)
	// The VRRP speakers and keepalived hold the floating addresses; a
	// failing one stops the daemon, and they resign on the way out.
	err = a.Run(fl.start(e.ctx))
	ferr := fl.stop()
	stopSyncs()
	waitSyncs()
	waitDDNS()
	if srv != nil {
		srv.Close()
	}
	if err = errors.Join(err, ferr); err != nil {
		fmt.Fprintf(e.stderr, "understudy run: %v\n", err)
		return exitFailure
	}
	log.Info("understudy stopped")
	return exitOK
}

// statusHandler serves GET /status (the snapshot as JSON: names,
// addresses, counters, events, never a secret), GET /healthz (200 while
// rounds run on time, 503 otherwise) and GET /metrics (Prometheus,
// metrics.go).
func statusHandler(a *failover.Arbiter, interval time.Duration, events *failovermetrics.Events) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(a, events))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(a.Snapshot()) // a write error means the client went away
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		last := a.Snapshot().LastRound
		if last.IsZero() || time.Since(last) > 3*interval {
			http.Error(w, "no recent round", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.DateTime)
}
