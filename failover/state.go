package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// stateVersion is the version of the state file format this package
// writes. A file with a higher version is refused rather than reset, so an
// older binary never destroys a newer one's state.
const stateVersion = 1

// ErrLocked is returned by [Arbiter.Tick] when another arbiter (another
// process, or another Arbiter in this one) holds the state file's lock.
var ErrLocked = errors.New("failover: another arbiter holds the lock")

// ErrStateVersion is returned when the state file was written by a newer
// version of this package. The file is left as it is.
var ErrStateVersion = errors.New("failover: state file version not supported")

// errCorrupt marks a state file that could be read but not understood: it
// is moved aside and the arbiter starts afresh. It never leaves this file.
var errCorrupt = errors.New("corrupt state file")

// PendingSwitch is a switch that was decided and written to the state
// file before any switcher ran, and has not completed yet.
type PendingSwitch struct {
	// ID identifies this intent; a new decision gets a new ID.
	ID string `json:"id"`
	// From and To are the nodes of the switch; From may be empty when the
	// active node was unknown.
	From string `json:"from"`
	To   string `json:"to"`
	// Reason is the Policy's reason ("node_down", "failback", "manual"…).
	Reason string `json:"reason"`
	// Time is when the switch was decided.
	Time time.Time `json:"time"`
	// Running is true while the switchers are being run. Found true when
	// the state is loaded, it means the arbiter that ran them died or was
	// stopped mid-switch, and the switch is resumed.
	Running bool `json:"running,omitempty"`
	// Failures counts the rounds in which a switcher failed after its
	// retries; LastErr is the last such error.
	Failures int    `json:"failures,omitempty"`
	LastErr  string `json:"last_error,omitempty"`
	// Notified is true once EventSwitchFailed was sent for this intent:
	// it is sent once per intent, not every round.
	Notified bool `json:"notified,omitempty"`
}

// CheckRecord is the arbiter's record of a check's last run.
type CheckRecord struct {
	// Time is when the check last ran, Latency how long it took.
	Time    time.Time     `json:"time"`
	Latency time.Duration `json:"latency"`
	// Err is the error text of the last run; empty on success.
	Err string `json:"error,omitempty"`
	// Note qualifies a success, for instance that the service answered
	// but reported itself degraded.
	Note string `json:"note,omitempty"`
}

// nodeInfo is the part of a Node the state file keeps, so that status can
// be printed without the configuration. Labels are left out: they are not
// needed and could carry provider data nobody asked to have printed.
type nodeInfo struct {
	Name     string     `json:"name"`
	Address  netip.Addr `json:"address,omitzero"`
	Priority int        `json:"priority"`
}

// stateFile is everything the arbiter persists between rounds. It holds
// no secrets by construction: node names and addresses, check names and
// roles, counters, error texts and events.
type stateFile struct {
	Version int `json:"version"`
	// Nodes and Checks describe the configuration of the arbiter that
	// last wrote the file (for ReadSnapshot).
	Nodes  []nodeInfo  `json:"nodes"`
	Checks []CheckSpec `json:"checks"`
	// Policy is the Policy's State.
	Policy State `json:"policy"`
	// Pending is the switch intended and not yet completed, if any.
	Pending   *PendingSwitch         `json:"pending,omitempty"`
	LastRound time.Time              `json:"last_round,omitzero"`
	Records   map[string]CheckRecord `json:"check_records,omitempty"`
	// Events are the last events, oldest first.
	Events []Event `json:"events,omitempty"`
}

// decodeState parses a state file. A parse failure, an empty file or a
// missing version wraps errCorrupt; a version from the future wraps
// ErrStateVersion.
func decodeState(data []byte) (*stateFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty", errCorrupt)
	}
	var sf stateFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	switch {
	case sf.Version == 0:
		return nil, fmt.Errorf("%w: no version", errCorrupt)
	case sf.Version > stateVersion:
		return nil, fmt.Errorf("%w: version %d, this build reads up to %d", ErrStateVersion, sf.Version, stateVersion)
	}
	if sf.Pending != nil && sf.Pending.To == "" {
		return nil, fmt.Errorf("%w: pending switch without a target", errCorrupt)
	}
	return &sf, nil
}

// loadState reads the state file at path. A missing file is a fresh start
// (nil, nil). Read errors other than "not exist" are returned as they
// are: a file that could not be read is never reset, since it may be fine.
func loadState(path string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	sf, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return sf, nil
}

// saveState writes sf to path atomically: a temporary file in the same
// directory is written, synced and renamed over path, and the directory is
// synced so that the rename itself survives a power cut. The file is
// readable by its owner only.
func saveState(path string, sf *stateFile) error {
	data, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod makes it independent of that.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// moveAside renames a corrupt state file to path+".corrupt" (replacing an
// older one) so that it can be looked at, and is not read again.
func moveAside(path string) error {
	if err := os.Rename(path, path+".corrupt"); err != nil {
		return fmt.Errorf("move corrupt state aside: %w", err)
	}
	return nil
}

// lockPollInterval is how often a waiting lockState retries.
const lockPollInterval = 100 * time.Millisecond

// lockState takes an exclusive flock on path+".lock" and returns the
// function that releases it. With wait false it fails at once with
// ErrLocked when the lock is held; with wait true it retries until the
// lock is free or ctx is done. Polling rather than a blocking flock keeps
// the wait cancellable.
//
// flock locks belong to the open file, so two Arbiters in one process
// exclude each other as two processes do, and a process that dies releases
// its lock with it: a crash never leaves a stale lock behind.
func lockState(ctx context.Context, path string, wait bool) (unlock func(), err error) {
	lockPath := path + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	var timer *time.Timer
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				// Closing the file releases the lock.
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock state %s: %w", lockPath, err)
		}
		if !wait {
			f.Close()
			return nil, fmt.Errorf("lock state %s: %w", lockPath, ErrLocked)
		}
		if timer == nil {
			timer = time.NewTimer(lockPollInterval)
			defer timer.Stop()
		} else {
			timer.Reset(lockPollInterval)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock state %s: %w: %w", lockPath, ErrLocked, ctx.Err())
		case <-timer.C:
		}
	}
}

// clone returns a deep copy of sf, so that a Snapshot shares nothing
// with the state the arbiter goes on mutating.
func (sf *stateFile) clone() *stateFile {
	c := *sf
	c.Nodes = slices.Clone(sf.Nodes)
	c.Checks = slices.Clone(sf.Checks)
	c.Events = slices.Clone(sf.Events)
	c.Records = maps.Clone(sf.Records)
	if sf.Pending != nil {
		p := *sf.Pending
		c.Pending = &p
	}
	c.Policy = cloneState(sf.Policy)
	return &c
}

// cloneState returns a deep copy of a Policy State.
func cloneState(st State) State {
	c := st
	c.Latches = maps.Clone(st.Latches)
	if st.Checks != nil {
		c.Checks = make(map[string]*CheckState, len(st.Checks))
		for k, v := range st.Checks {
			if v != nil {
				cs := *v
				c.Checks[k] = &cs
			}
		}
	}
	if st.Nodes != nil {
		c.Nodes = make(map[string]*NodeState, len(st.Nodes))
		for k, v := range st.Nodes {
			if v != nil {
				ns := *v
				c.Nodes[k] = &ns
			}
		}
	}
	return c
}

// NodeStatus is one node as shown by status.
type NodeStatus struct {
	Name     string     `json:"name"`
	Address  netip.Addr `json:"address,omitzero"`
	Priority int        `json:"priority"`
	// Status is up, down or unknown; Since is when it last changed.
	Status Status    `json:"status"`
	Since  time.Time `json:"since,omitzero"`
	// Active is true for the node that carries the traffic.
	Active bool `json:"active"`
}

// CheckStatus is one check as shown by status.
type CheckStatus struct {
	CheckSpec
	Status Status    `json:"status"`
	Since  time.Time `json:"since,omitzero"`
	// Fails counts the consecutive failures.
	Fails int `json:"fails"`
	// LastErr is the text of the last failure the Policy saw.
	LastErr string `json:"last_error,omitempty"`
	// Last is the record of the last run (time, latency, error, note).
	Last CheckRecord `json:"last"`
}

// Snapshot is the arbiter's situation as `understudy status` prints it.
// It holds no secrets: names, addresses, counters, error texts, events.
type Snapshot struct {
	// LastRound is when the last round ran; zero if none has.
	LastRound time.Time `json:"last_round,omitzero"`
	// Active is the node carrying the traffic, "" if unknown.
	Active     string    `json:"active"`
	LastSwitch time.Time `json:"last_switch,omitzero"`
	// Isolated is true while the witness checks fail.
	Isolated bool `json:"isolated"`
	// Nodes are in descending priority.
	Nodes []NodeStatus `json:"nodes"`
	// Checks are in configuration order.
	Checks []CheckStatus `json:"checks"`
	// Pending is the switch intended and not completed, if any.
	Pending *PendingSwitch `json:"pending,omitempty"`
	// Events are the most recent events, oldest first.
	Events []Event `json:"events"`
}

// snapshot builds a Snapshot from sf, which it does not retain.
func (sf *stateFile) snapshot() Snapshot {
	c := sf.clone()
	s := Snapshot{
		LastRound:  c.LastRound,
		Active:     c.Policy.Active,
		LastSwitch: c.Policy.LastSwitch,
		Isolated:   c.Policy.Isolated,
		Pending:    c.Pending,
		Events:     c.Events,
		Nodes:      []NodeStatus{},
		Checks:     []CheckStatus{},
	}
	if s.Events == nil {
		s.Events = []Event{}
	}
	for _, n := range c.Nodes {
		ns := NodeStatus{Name: n.Name, Address: n.Address, Priority: n.Priority, Status: StatusUnknown, Active: n.Name == c.Policy.Active}
		if st := c.Policy.Nodes[n.Name]; st != nil {
			ns.Status, ns.Since = st.Status, st.Since
		}
		s.Nodes = append(s.Nodes, ns)
	}
	// Stable: ties keep the configuration order, as the Policy does.
	slices.SortStableFunc(s.Nodes, func(a, b NodeStatus) int { return b.Priority - a.Priority })
	for _, spec := range c.Checks {
		cs := CheckStatus{CheckSpec: spec, Status: StatusUnknown, Last: c.Records[spec.Name]}
		if st := c.Policy.Checks[spec.Name]; st != nil {
			cs.Status, cs.Since, cs.Fails, cs.LastErr = st.Status, st.Since, st.Fails, st.LastErr
		}
		if cs.Status == "" {
			cs.Status = StatusUnknown
		}
		s.Checks = append(s.Checks, cs)
	}
	for i := range s.Nodes {
		if s.Nodes[i].Status == "" {
			s.Nodes[i].Status = StatusUnknown
		}
	}
	return s
}

// ReadSnapshot reads the state file an [Arbiter] keeps at path and returns
// the situation it records, without taking the lock (the file is replaced
// atomically, so a reader sees one whole version). A missing file is an
// error wrapping fs.ErrNotExist.
func ReadSnapshot(path string) (Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read state: %w", err)
	}
	sf, err := decodeState(data)
	if err != nil {
		return Snapshot{}, fmt.Errorf("state file %s: %w", path, err)
	}
	return sf.snapshot(), nil
}
