package replicate

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/understudy-ha/understudy/cmdrun"
)

// reseed stops the replica, dumps the schemas from the source with a
// consistent GTID position, loads the dump on the replica with
// sql_log_bin=0 and starts the replica. The dump is written to a file by
// mariadb-dump --result-file (argv, no shell) and fed to the client's
// stdin; passwords are in 0600 option files, never in argv.
func (r *Repairer) reseed(ctx context.Context, a *attempt) error {
	rep := a.RepairReport
	v := rep.Before.Vars
	if err := r.exec(ctx, rep, r.stmt("STOP", v)); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(r.cfg.TempDir, "understudy-reseed-")
	if err != nil {
		return fmt.Errorf("replicate: reseed: %w", err)
	}
	defer os.RemoveAll(dir)
	srcOpts, err := writeOptionFile(dir, "source.cnf", r.cfg.Source.cfg)
	if err != nil {
		return err
	}
	repOpts, err := writeOptionFile(dir, "replica.cnf", r.cfg.Replica.cfg)
	if err != nil {
		return err
	}
	dumpFile := filepath.Join(dir, "dump.sql")
	dump := cmdrun.Cmd{Path: r.cfg.DumpPath, Args: append([]string{
		"--defaults-extra-file=" + srcOpts,
		"--single-transaction", "--gtid", "--master-data=1", "--triggers",
		"--result-file=" + dumpFile, "--databases", "--"}, r.cfg.Schemas...)}
	if _, err := r.cfg.Runner.Run(ctx, dump); err != nil {
		rep.Failed = "dump: " + dump.String() + ": " + err.Error()
		return fmt.Errorf("replicate: reseed: dump %s: %w", r.cfg.Source.Name(), err)
	}
	rep.Statements = append(rep.Statements, "dump: "+dump.String())
	f, err := os.Open(dumpFile)
	if err != nil {
		return fmt.Errorf("replicate: reseed: %w", err)
	}
	defer f.Close()
	load := cmdrun.Cmd{Path: r.cfg.ClientPath, Args: []string{"--defaults-extra-file=" + repOpts, "--batch"},
		Stdin: io.MultiReader(strings.NewReader("SET SESSION sql_log_bin=0;\n"), f)}
	loadShow := "load: SET SESSION sql_log_bin=0; then the dump | " + load.String()
	a.noRestore = fmt.Sprintf("the load of the dump began: replication on %s is left stopped, the schemas %v may be partly loaded; run the reseed again", r.cfg.Replica.Name(), r.cfg.Schemas)
	if _, err := r.cfg.Runner.Run(ctx, load); err != nil {
		rep.Failed = loadShow + ": " + err.Error()
		return fmt.Errorf("replicate: reseed: load into %s failed part-way; its replication is left stopped and the schemas %v partly loaded, run the reseed again: %w",
			r.cfg.Replica.Name(), r.cfg.Schemas, err)
	}
	rep.Statements = append(rep.Statements, loadShow)
	return r.exec(ctx, rep, r.stmt("START", v))
}

// writeOptionFile writes a [client] option file (mode 0600) with the
// server's host, port, user and password.
func writeOptionFile(dir, name string, cfg MySQLConfig) (string, error) {
	host, port, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return "", fmt.Errorf("replicate: reseed: address %q: %w", cfg.Address, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[client]\nhost=%s\nport=%s\nprotocol=TCP\nuser=%s\n", optionValue(host), port, optionValue(cfg.User))
	if cfg.Password != "" {
		fmt.Fprintf(&b, "password=%s\n", optionValue(cfg.Password))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("replicate: reseed: option file: %w", err)
	}
	return p, nil
}

// optionValue quotes a value for a MySQL option file.
func optionValue(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
