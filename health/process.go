package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultProcDir is where a process check looks for processes when
// ProcessConfig.ProcDir is empty.
const DefaultProcDir = "/proc"

// ProcessConfig configures a [Process] check. The zero value of each
// field means its documented default.
type ProcessConfig struct {
	// Name is the program name to look for (required), as pidof takes
	// it: a process matches when its /proc/PID/comm equals Name, or the
	// base name of its argv[0] does (comm is cut at 15 bytes, argv[0] is
	// not).
	Name string
	// MinCount is how many matching processes must run (default 1).
	MinCount int
	// ProcDir is the proc file system to read (default DefaultProcDir);
	// tests point it at a fixture tree.
	ProcDir string
}

// Validate reports whether the configuration can be used.
func (c ProcessConfig) Validate() error {
	if c.Name == "" {
		return errors.New("health: process: no name")
	}
	if strings.Contains(c.Name, "/") {
		return fmt.Errorf("health: process: name %q: want a program name, not a path", c.Name)
	}
	if c.MinCount < 0 {
		return fmt.Errorf("health: process: min count %d is negative", c.MinCount)
	}
	return nil
}

// Process is pidof: it is healthy when at least MinCount processes of
// that name run. Zombies do not count. Safe for concurrent use.
type Process struct {
	cfg      ProcessConfig
	procDir  string
	minCount int
}

var _ Checker = (*Process)(nil)

// NewProcess validates cfg and returns the check.
func NewProcess(cfg ProcessConfig) (*Process, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Process{cfg: cfg, procDir: cfg.ProcDir, minCount: cfg.MinCount}
	if p.procDir == "" {
		p.procDir = DefaultProcDir
	}
	if p.minCount == 0 {
		p.minCount = 1
	}
	return p, nil
}

// ErrTooFewProcesses is the cause of a failed [Process] check when fewer
// processes than MinCount run.
var ErrTooFewProcesses = errors.New("health: too few processes")

// Check counts the matching processes. It returns nil when there are at
// least MinCount and a *[Error] wrapping [ErrTooFewProcesses] otherwise.
func (p *Process) Check(ctx context.Context) error {
	pids, err := p.PIDs(ctx)
	if err == nil && len(pids) < p.minCount {
		err = fmt.Errorf("%w: %d running, want at least %d", ErrTooFewProcesses, len(pids), p.minCount)
	}
	if err != nil {
		return &Error{Kind: "process", Target: p.cfg.Name, Err: err}
	}
	return nil
}

// PIDs returns the ids of the live processes matching Name, in the
// order the proc directory lists them.
func (p *Process) PIDs(ctx context.Context) ([]int, error) {
	entries, err := os.ReadDir(p.procDir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.procDir, err)
	}
	var pids []int
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if p.matches(filepath.Join(p.procDir, e.Name())) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// matches reads one /proc/PID directory. A process that vanished while
// it was read does not match.
func (p *Process) matches(dir string) bool {
	// A fixture tree may lack stat; a vanished process fails below too.
	if stat, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil && isZombie(stat) {
		return false
	}
	if comm, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil &&
		string(bytes.TrimSuffix(comm, []byte("\n"))) == p.cfg.Name {
		return true
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil || len(cmdline) == 0 {
		return false // gone, or a kernel thread or zombie
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return filepath.Base(string(argv0)) == p.cfg.Name
}

// isZombie reads the state field of /proc/PID/stat: "pid (comm) S ...".
// comm may hold spaces and parentheses, so the state follows the last ')'.
func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state == 'Z' || state == 'X'
}
