package failover

import (
	"errors"
	"time"
)

// FailbackMode says what happens when the preferred node recovers while
// a standby carries the traffic.
type FailbackMode string

const (
	// FailbackAuto switches back as soon as the preferred node is up again
	// (after its RiseAfter successes) and the hold-down has passed. This is
	// what the BIND arbiter article does.
	FailbackAuto FailbackMode = "auto"
	// FailbackDelayed switches back once the preferred node has stayed up
	// for FailbackDelay (keepalived's preempt_delay).
	FailbackDelayed FailbackMode = "delayed"
	// FailbackManual never switches back by itself (Heartbeat's
	// auto_failback off, keepalived's nopreempt); an operator runs a
	// manual switch.
	FailbackManual FailbackMode = "manual"
)

// DownWhen says when a node counts as down.
type DownWhen string

const (
	// DownAny: the node is down as soon as any one of its critical checks
	// is down (the article: "if at least one of these services does not
	// work on the main server").
	DownAny DownWhen = "any"
	// DownAll: the node is down only when all of its critical checks are.
	DownAll DownWhen = "all"
)

// Role says what a check's result is used for.
type Role string

const (
	// RoleCritical checks decide whether their node is up.
	RoleCritical Role = "critical"
	// RoleNotify checks are watched and reported but never move traffic
	// (the article's SSH and DNS checks).
	RoleNotify Role = "notify"
	// RoleWitness checks prove that the arbiter itself can see the world.
	// They belong to no node. When every witness check fails in a round,
	// the arbiter is isolated and no switch is made that round.
	RoleWitness Role = "witness"
)

// CheckSpec describes a check to the Policy.
type CheckSpec struct {
	// Name is unique among the Policy's checks.
	Name string `json:"name"`
	// Node is the node the check judges; empty for witness checks.
	Node string `json:"node,omitempty"`
	// Role is critical (default), notify or witness.
	Role Role `json:"role,omitempty"`
	// FailAfter overrides Policy.FailAfter for this check (0: inherit).
	FailAfter int `json:"fail_after,omitempty"`
	// RiseAfter overrides Policy.RiseAfter for this check (0: inherit).
	RiseAfter int `json:"rise_after,omitempty"`
}

// Policy decides, from check results, which node should carry the traffic.
//
// A Policy is pure: it holds configuration only, never reads a clock and
// does no I/O. The evolving situation lives in a [State] that the caller
// owns and persists; [Policy.Step] takes the State and one [Round] of
// results, updates the State and returns a [Decision]. Feeding the same
// timeline to the same Policy always gives the same decisions, which is
// what makes a policy unit-testable with a table of rounds.
//
// The rules, in the order they are applied each round:
//
//  1. Counting. A check is down after FailAfter consecutive failures and up
//     again after RiseAfter consecutive successes (hysteresis). A check
//     that has never reported is unknown; its first success makes it up at
//     once, and FailAfter failures make it down. A check missing from a
//     round keeps its counters. After WarnAfter consecutive failures (and
//     before FailAfter) an EventCheckWarn is emitted once.
//  2. Nodes. A node is down when its critical checks are down (any or all,
//     per DownWhen), up when none (DownAny) or not all (DownAll) are down
//     and all its critical checks are known, unknown otherwise. A node with
//     no critical checks is always up.
//  3. Witness. If there are witness checks and every one failed this
//     round, the arbiter is isolated: EventIsolated once, no switch.
//  4. Grace. Before Grace has passed since the first round, no switch.
//  5. Failover. If the active node is down, the best standby that is up
//     (highest Priority) is chosen. None: EventNoHealthyNode once, stay.
//  6. Failback. If the active node is up but a node of higher priority is
//     up too, FailbackAuto moves to it, FailbackDelayed moves once it has
//     been up for FailbackDelay, FailbackManual emits
//     EventFailbackPending once and stays.
//  7. Hold-down. A switch wanted less than HoldDown after the previous one
//     is deferred with EventHeldDown (once) and made when the period ends,
//     if still wanted.
//  8. Unknown active. With no active node recorded (first start, lost
//     state), the Policy converges on the best node that is up.
//
// A decision to switch does not change State.Active: the caller carries
// the switch out and then calls [Policy.Complete].
type Policy struct {
	// Nodes are the servers that can carry the traffic. Names must be
	// unique; at least one node is required.
	Nodes []Node `json:"nodes"`
	// Checks are the checks whose results are fed to Step.
	Checks []CheckSpec `json:"checks"`
	// FailAfter is the number of consecutive failures after which a check
	// is down (default 3).
	FailAfter int `json:"fail_after,omitempty"`
	// RiseAfter is the number of consecutive successes after which a down
	// check is up again (default 2).
	RiseAfter int `json:"rise_after,omitempty"`
	// WarnAfter is the number of consecutive failures after which a check
	// that is not yet down emits EventCheckWarn (default 1). A value at or
	// above the check's FailAfter disables the warning.
	WarnAfter int `json:"warn_after,omitempty"`
	// DownWhen says whether any or all critical checks make a node down
	// (default DownAny).
	DownWhen DownWhen `json:"down_when,omitempty"`
	// Grace is the time after the first round during which no switch is
	// made (Heartbeat's initdead). Default 0.
	Grace time.Duration `json:"grace,omitempty"`
	// HoldDown is the minimum time between two switches (anti-flap).
	// Default 0.
	HoldDown time.Duration `json:"hold_down,omitempty"`
	// Failback is the failback mode (default FailbackAuto).
	Failback FailbackMode `json:"failback,omitempty"`
	// FailbackDelay is how long the preferred node must stay up before
	// FailbackDelayed moves traffic back to it.
	FailbackDelay time.Duration `json:"failback_delay,omitempty"`
}

// Status is the health of a check or a node.
type Status string

// The values of [Status].
const (
	StatusUnknown Status = "unknown"
	StatusUp      Status = "up"
	StatusDown    Status = "down"
)

// CheckState is what the Policy remembers about one check.
type CheckState struct {
	Status Status `json:"status"`
	// Fails and Oks count the consecutive failures and successes.
	Fails int `json:"fails"`
	Oks   int `json:"oks"`
	// Since is when Status last changed.
	Since time.Time `json:"since,omitzero"`
	// LastErr is the text of the last failure.
	LastErr string `json:"last_error,omitempty"`
}

// NodeState is what the Policy remembers about one node.
type NodeState struct {
	Status Status    `json:"status"`
	Since  time.Time `json:"since,omitzero"`
}

// State is the evolving situation the Policy works on. It is plain data,
// meant to be persisted as JSON between rounds and across restarts. The
// zero State is a valid fresh start.
type State struct {
	// Active is the node that carries the traffic, or "" if unknown.
	Active string `json:"active"`
	// Started is the time of the first round (for Grace).
	Started time.Time `json:"started,omitzero"`
	// LastSwitch is when the last switch completed (for HoldDown).
	LastSwitch time.Time              `json:"last_switch,omitzero"`
	Checks     map[string]*CheckState `json:"checks,omitempty"`
	Nodes      map[string]*NodeState  `json:"nodes,omitempty"`
	// Isolated is true while the witness checks fail.
	Isolated bool `json:"isolated,omitempty"`
	// Latches remember which once-per-transition events have been emitted
	// (no healthy node, held down, failback pending), keyed by the Policy.
	Latches map[string]bool `json:"latches,omitempty"`
}

// Round is one set of check results, all taken at about the same time.
type Round struct {
	Time time.Time
	// Results maps check names to their result: nil for success. A check
	// absent from the map did not run this round.
	Results map[string]error
}

// Decision is what the Policy wants done after a round.
type Decision struct {
	// Switch is true when traffic should move from From to To.
	Switch bool
	From   string
	To     string
	// Reason says why, in a few words ("node_down", "failback", "manual",
	// "converge").
	Reason string
	// Events are the transitions this round produced, in order.
	Events []Event
}

// ErrUnsafe is returned by [Policy.Manual] when a manual switch would break
// a safety rule and was not forced.
var ErrUnsafe = errors.New("failover: unsafe switch refused")

// ErrUnknownNode is returned for a node name the Policy does not know.
var ErrUnknownNode = errors.New("failover: unknown node")

// Validate reports the first problem with the Policy's configuration.
func (p *Policy) Validate() error { return nil }

// Step applies one round of results to st and returns the decision.
func (p *Policy) Step(st *State, r Round) Decision { return Decision{} }

// Manual returns the decision for an operator's request to move traffic to
// node to at time now. Unless force is set, it refuses (with an error
// wrapping ErrUnsafe) a target that is not up, a switch while isolated, and
// a switch within HoldDown.
func (p *Policy) Manual(st *State, now time.Time, to string, force bool) (Decision, error) {
	return Decision{}, nil
}

// Complete records in st that a switch to node to finished at time now.
func (p *Policy) Complete(st *State, now time.Time, to string) {}
