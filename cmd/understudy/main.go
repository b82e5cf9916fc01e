// Command understudy is the reference daemon and CLI of Understudy: it
// reads one YAML configuration file (see internal/daemon/config/testdata/
// understudy.yaml) and watches, switches and reports.
//
//	understudy [-c FILE] COMMAND [flags] [args]
//
// The configuration file is FILE, else $UNDERSTUDY_CONFIG, else
// ./understudy.yaml. Logs go to stderr, as text or JSON (log.format).
//
// Commands:
//
//	run          watch and switch until SIGINT or SIGTERM; serve http.listen; run the
//	             scheduled syncs (syncs[].every), lsyncd entries and ddns (ddns.every) alongside
//	             and the VRRP speakers (vrrp:) and keepalived (keepalived:), which resign on exit
//	tick         run one round (for cron); exit 0 if the round ran
//	check        run every check once and print a table (-json); exit 1 if a critical check failed
//	             (-node NAME: only that node's checks, keepalived's track script)
//	status       print the state file: active node, nodes, checks, pending switch, events
//	switch       switch to a node by hand, through the arbiter's rules (-force to override)
//	validate     load the configuration and build everything; exit 2 if invalid
//	             (renders keepalived.conf, -keepalived-conf FILE, and runs keepalived --config-test)
//	notify       keepalived's notify_master callback: notify master runs keepalived.notify_master's
//	             switchers toward keepalived.self (notify_tries tries, notify_delay apart)
//	version      print the version
//	sync         run the configured syncs now, with progress: sync [-dry-run] [NAME];
//	             each run is recorded next to the state file for the checks of type sync
//	replication  replica status and explicit repairs: replication status [-data] [NAME]
//	             (MySQL replicas, then the DRBD resources of drbd checks, switchers and
//	             group steps), replication repair NAME STRATEGY (only strategies in allow_repair),
//	             replication doctor [-all] [NAME] (the grants the accounts lack)
//	ddns         point ddns.record at this host's address if it moved; exit 34 when it changed
//	demo         watch a failover and a failback on loopback, no setup needed
//	bench        measure: bench failover (on a real named) | bench checks
//
// Exit codes: 0 success, 1 failure, 2 usage or configuration error.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand. Commands in other files of this package
// (demo, bench) add themselves to extraCommands from an init function.
type command struct {
	name    string
	summary string
	// needsConfig says whether the configuration is loaded before run.
	needsConfig bool
	run         func(e *env, args []string) int
}

// extraCommands are appended by other files of this package.
var extraCommands []command

func commands() []command {
	cmds := []command{
		{"run", "watch and switch until SIGINT or SIGTERM", true, cmdRun},
		{"tick", "run one round (for cron)", true, cmdTick},
		{"check", "run every check once and print the results", true, cmdCheck},
		{"status", "print the state: active node, checks, pending switch, events", true, cmdStatus},
		{"switch", "switch to a node by hand: switch [-force] NODE", true, cmdSwitch},
		{"validate", "check the configuration; exit 2 if it is invalid", false, cmdValidate},
		{"version", "print the version", false, cmdVersion},
	}
	cmds = append(cmds, extraCommands...)
	slices.SortStableFunc(cmds, func(a, b command) int { return cmp.Compare(a.name, b.name) })
	return cmds
}

// env is what a command runs with.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
	configPath     string
	// cfg and app are set for commands that need the configuration.
	app *app
}

// run is the whole program minus os.Exit, so that tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("understudy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := cmp.Or(os.Getenv("UNDERSTUDY_CONFIG"), "understudy.yaml")
	configPath := fs.String("c", def, "configuration `file` ($UNDERSTUDY_CONFIG sets the default)")
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		usage(stderr, fs)
		return exitUsage
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		fmt.Fprintf(stderr, "understudy: unknown command %q\n", name)
		usage(stderr, fs)
		return exitUsage
	}
	c := commands()[i]
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, configPath: *configPath}
	if c.needsConfig {
		a, err := loadApp(e.configPath, stderr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		e.app = a
	}
	return c.run(e, rest)
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: understudy [-c FILE] COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nRun understudy COMMAND -h for a command's flags.")
}

// newFlags returns a flag set for a subcommand.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: understudy %s %s\n", name, strings.TrimSpace("[flags] "+args))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and returns the exit code to use when parsing
// failed (or -h was asked), or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	return -1
}
