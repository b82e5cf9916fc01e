package failover

import (
	"errors"
	"fmt"
	"sort"
	"strings"
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
//     before FailAfter) an EventCheckWarn is emitted once; it is emitted
//     again only after the check has passed RiseAfter times in a row, so a
//     flapping check warns once, not every other round.
//  2. Nodes. A node is down when its critical checks are down (any or all,
//     per DownWhen), up when none (DownAny) or not all (DownAll) are down
//     and all its critical checks are known, unknown otherwise. A node with
//     no critical checks is always up. Notify checks are counted and
//     reported but never change a node's status.
//  3. Witness. If there are witness checks and every one failed this
//     round, the arbiter is isolated: EventIsolated once, no switch, until
//     a witness check passes again (EventWitnessOK). Counting goes on
//     while isolated.
//  4. Grace. Before Grace has passed since the first round, no switch.
//  5. Failover. If the active node is down, the best other node that is up
//     (highest Priority, ties in the order of Nodes) is chosen; unknown
//     and down nodes never are. None: EventNoHealthyNode once, stay.
//  6. Failback. If the active node is up but a node of strictly higher
//     priority is up too, FailbackAuto moves to it, FailbackDelayed moves
//     once its NodeState.Since is FailbackDelay old (and emits
//     EventFailbackPending once while it waits), FailbackManual emits
//     EventFailbackPending once and stays.
//  7. Hold-down. A switch wanted less than HoldDown after the previous one
//     is deferred with EventHeldDown (once) and made when the period ends,
//     if still wanted.
//  8. Unknown active. With no active node recorded (first start, lost
//     state), the Policy converges on the best node that is up, once every
//     node preferred to it is known to be down (so a slow first verdict on
//     the primary does not cause a switch and a failback). When every node
//     is known to be down, EventNoHealthyNode once.
//
// An active node whose status is unknown is neither failed over nor
// failed back from. While isolated or in grace, rules 5 to 8 are skipped
// altogether. Events mark transitions only: the once-per-condition events
// are remembered in State.Latches and re-armed when their condition ends,
// so they are not repeated across rounds or across a restart that kept
// the State. A time in the State later than the round's (the clock was
// set back since it was recorded) is taken as the round's time, so a
// period that had started ends at most its own length after the jump.
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
	// (check warnings, no healthy node, held down, failback pending), keyed
	// by the Policy.
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

// The reasons a [Decision] gives for a switch.
const (
	ReasonNodeDown = "node_down"
	ReasonFailback = "failback"
	ReasonManual   = "manual"
	ReasonConverge = "converge"
)

// ErrUnsafe is returned by [Policy.Manual] when a manual switch would break
// a safety rule and was not forced.
var ErrUnsafe = errors.New("failover: unsafe switch refused")

// ErrUnknownNode is returned for a node name the Policy does not know.
var ErrUnknownNode = errors.New("failover: unknown node")

// ErrInvalidPolicy is matched (with errors.Is) by every error that
// [Policy.Validate] returns.
var ErrInvalidPolicy = errors.New("failover: invalid policy")

// policyError is a configuration problem. Its text names the field
// ("policy: check \"http\": unknown node \"x\"") and it matches
// ErrInvalidPolicy.
type policyError struct{ msg string }

func (e *policyError) Error() string        { return "policy: " + e.msg }
func (e *policyError) Is(target error) bool { return target == ErrInvalidPolicy }

func invalid(format string, args ...any) error {
	return &policyError{msg: fmt.Sprintf(format, args...)}
}

// Defaults for the zero values of the Policy's fields.
const (
	defaultFailAfter = 3
	defaultRiseAfter = 2
	defaultWarnAfter = 1
)

// Latch keys. The Policy records in State.Latches which once-per-transition
// events it has emitted, so that a persisted State does not repeat them
// after a restart.
const (
	latchNoHealthy       = "no_healthy_node"
	latchHeldDown        = "held_down:"        // + target node
	latchFailbackPending = "failback_pending:" // + target node
	latchWarn            = "warn:"             // + check name
)

// Validate reports the first problem with the Policy's configuration.
// Errors name the field concerned and match [ErrInvalidPolicy].
func (p *Policy) Validate() error {
	if len(p.Nodes) == 0 {
		return invalid("no nodes")
	}
	nodes := make(map[string]bool, len(p.Nodes))
	for i, n := range p.Nodes {
		if n.Name == "" {
			return invalid("node %d: empty name", i)
		}
		if nodes[n.Name] {
			return invalid("node %q: duplicate name", n.Name)
		}
		nodes[n.Name] = true
	}
	checks := make(map[string]bool, len(p.Checks))
	for i, c := range p.Checks {
		if c.Name == "" {
			return invalid("check %d: empty name", i)
		}
		if checks[c.Name] {
			return invalid("check %q: duplicate name", c.Name)
		}
		checks[c.Name] = true
		switch c.Role {
		case "", RoleCritical, RoleNotify:
			if c.Node == "" {
				return invalid("check %q: no node (only witness checks have none)", c.Name)
			}
			if !nodes[c.Node] {
				return invalid("check %q: unknown node %q", c.Name, c.Node)
			}
		case RoleWitness:
			if c.Node != "" {
				return invalid("check %q: witness check names node %q (witness checks belong to no node)", c.Name, c.Node)
			}
		default:
			return invalid("check %q: unknown role %q", c.Name, c.Role)
		}
		if c.FailAfter < 0 {
			return invalid("check %q: negative fail_after %d", c.Name, c.FailAfter)
		}
		if c.RiseAfter < 0 {
			return invalid("check %q: negative rise_after %d", c.Name, c.RiseAfter)
		}
	}
	switch {
	case p.FailAfter < 0:
		return invalid("negative fail_after %d", p.FailAfter)
	case p.RiseAfter < 0:
		return invalid("negative rise_after %d", p.RiseAfter)
	case p.WarnAfter < 0:
		return invalid("negative warn_after %d", p.WarnAfter)
	case p.Grace < 0:
		return invalid("negative grace %s", p.Grace)
	case p.HoldDown < 0:
		return invalid("negative hold_down %s", p.HoldDown)
	case p.FailbackDelay < 0:
		return invalid("negative failback_delay %s", p.FailbackDelay)
	}
	switch p.DownWhen {
	case "", DownAny, DownAll:
	default:
		return invalid("unknown down_when %q", p.DownWhen)
	}
	switch p.Failback {
	case "", FailbackAuto, FailbackManual:
	case FailbackDelayed:
		if p.FailbackDelay <= 0 {
			return invalid("failback %q needs a positive failback_delay", p.Failback)
		}
	default:
		return invalid("unknown failback %q", p.Failback)
	}
	return nil
}

// Step applies one round of results to st and returns the decision. st
// must not be nil; the zero State is a fresh start. A State written for
// another configuration is accepted: checks and nodes no longer configured
// are dropped and new ones start unknown. Results for check names the
// Policy does not know are ignored.
func (p *Policy) Step(st *State, r Round) Decision {
	s := stepper{p: p, st: st, now: r.Time}
	s.normalize()
	s.count(r.Results)
	s.judgeNodes()
	s.judgeWitness(r.Results)
	s.decide()
	return s.d
}

// Manual returns the decision for an operator's request to move traffic to
// node to at time now. Unless force is set, it refuses (with an error
// wrapping ErrUnsafe) a target that is not up, a switch while isolated, and
// a switch within HoldDown. A request for the node that is already active
// returns an empty Decision and no error. Manual does not change st; the
// caller calls [Policy.Complete] once the switch is done.
func (p *Policy) Manual(st *State, now time.Time, to string, force bool) (Decision, error) {
	if p.nodeIndex(to) < 0 {
		return Decision{}, fmt.Errorf("manual switch to %q: %w", to, ErrUnknownNode)
	}
	if to == st.Active {
		return Decision{}, nil
	}
	from := st.Active
	if p.nodeIndex(from) < 0 {
		from = ""
	}
	if !force {
		status := StatusUnknown
		if ns := st.Nodes[to]; ns != nil && ns.Status != "" {
			status = ns.Status
		}
		switch {
		case status != StatusUp:
			return Decision{}, fmt.Errorf("manual switch to %q: node is %s: %w", to, status, ErrUnsafe)
		case st.Isolated:
			return Decision{}, fmt.Errorf("manual switch to %q: arbiter is isolated (witness checks fail): %w", to, ErrUnsafe)
		case p.heldDown(st, now):
			return Decision{}, fmt.Errorf("manual switch to %q: within hold-down %s of the last switch at %s: %w",
				to, p.HoldDown, st.LastSwitch.Format(time.RFC3339), ErrUnsafe)
		}
	}
	return Decision{Switch: true, From: from, To: to, Reason: ReasonManual}, nil
}

// Complete records in st that a switch to node to finished at time now:
// to becomes active, the hold-down starts again, and the latches of the
// events the switch resolves (no healthy node, held down, failback
// pending) are cleared.
func (p *Policy) Complete(st *State, now time.Time, to string) {
	st.Active = to
	st.LastSwitch = now
	for k := range st.Latches {
		if k == latchNoHealthy || strings.HasPrefix(k, latchHeldDown) || strings.HasPrefix(k, latchFailbackPending) {
			delete(st.Latches, k)
		}
	}
}

// nodeIndex returns the index of the named node in p.Nodes, or -1.
func (p *Policy) nodeIndex(name string) int {
	if name == "" {
		return -1
	}
	for i, n := range p.Nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// heldDown reports whether now is within HoldDown of the last switch.
func (p *Policy) heldDown(st *State, now time.Time) bool {
	return p.HoldDown > 0 && !st.LastSwitch.IsZero() && now.Before(st.LastSwitch.Add(p.HoldDown))
}

func (p *Policy) downWhen() DownWhen {
	if p.DownWhen == "" {
		return DownAny
	}
	return p.DownWhen
}

func (p *Policy) failback() FailbackMode {
	if p.Failback == "" {
		return FailbackAuto
	}
	return p.Failback
}

func (p *Policy) failAfter(c CheckSpec) int {
	return firstPositive(c.FailAfter, p.FailAfter, defaultFailAfter)
}

func (p *Policy) riseAfter(c CheckSpec) int {
	return firstPositive(c.RiseAfter, p.RiseAfter, defaultRiseAfter)
}

func (p *Policy) warnAfter() int {
	return firstPositive(p.WarnAfter, defaultWarnAfter)
}

func firstPositive(vs ...int) int {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// role returns the check's role with the default applied. An unknown role
// (refused by Validate) counts as critical.
func role(c CheckSpec) Role {
	switch c.Role {
	case RoleNotify, RoleWitness:
		return c.Role
	}
	return RoleCritical
}

// stepper carries one Step through its phases.
type stepper struct {
	p   *Policy
	st  *State
	now time.Time
	d   Decision
}

func (s *stepper) emit(e Event) {
	e.Time = s.now
	s.d.Events = append(s.d.Events, e)
}

// normalize makes st fit the Policy: maps allocated, state for every
// configured check and node, nothing for the others.
func (s *stepper) normalize() {
	st := s.st
	if st.Started.IsZero() {
		st.Started = s.now
	}
	// A time recorded while the clock ran ahead (before NTP set it back)
	// is brought back to now, so that grace, hold-down and failback delay
	// end at most their own length after the jump rather than when the
	// clock catches up, which could be days away.
	st.Started = notAfter(st.Started, s.now)
	st.LastSwitch = notAfter(st.LastSwitch, s.now)
	if st.Checks == nil {
		st.Checks = make(map[string]*CheckState, len(s.p.Checks))
	}
	if st.Nodes == nil {
		st.Nodes = make(map[string]*NodeState, len(s.p.Nodes))
	}
	if st.Latches == nil {
		st.Latches = make(map[string]bool)
	}
	checks := make(map[string]bool, len(s.p.Checks))
	for _, c := range s.p.Checks {
		checks[c.Name] = true
		cs := st.Checks[c.Name]
		if cs == nil {
			cs = &CheckState{}
			st.Checks[c.Name] = cs
		}
		cs.Status = validStatus(cs.Status)
		cs.Fails, cs.Oks = max(cs.Fails, 0), max(cs.Oks, 0)
		cs.Since = notAfter(cs.Since, s.now)
	}
	for name := range st.Checks {
		if !checks[name] {
			delete(st.Checks, name)
		}
	}
	nodes := make(map[string]bool, len(s.p.Nodes))
	for _, n := range s.p.Nodes {
		nodes[n.Name] = true
		ns := st.Nodes[n.Name]
		if ns == nil {
			ns = &NodeState{}
			st.Nodes[n.Name] = ns
		}
		ns.Status = validStatus(ns.Status)
		ns.Since = notAfter(ns.Since, s.now)
	}
	for name := range st.Nodes {
		if !nodes[name] {
			delete(st.Nodes, name)
		}
	}
	if !nodes[st.Active] {
		st.Active = ""
	}
	for k := range st.Latches {
		switch {
		case strings.HasPrefix(k, latchWarn):
			if !checks[strings.TrimPrefix(k, latchWarn)] {
				delete(st.Latches, k)
			}
		case strings.HasPrefix(k, latchHeldDown):
			if !nodes[strings.TrimPrefix(k, latchHeldDown)] {
				delete(st.Latches, k)
			}
		case strings.HasPrefix(k, latchFailbackPending):
			if !nodes[strings.TrimPrefix(k, latchFailbackPending)] {
				delete(st.Latches, k)
			}
		}
	}
}

// notAfter returns t, or now if t is later than now.
func notAfter(t, now time.Time) time.Time {
	if t.After(now) {
		return now
	}
	return t
}

func validStatus(s Status) Status {
	switch s {
	case StatusUp, StatusDown:
		return s
	}
	return StatusUnknown
}

// count applies rule 1 to every configured check that reported.
func (s *stepper) count(results map[string]error) {
	for _, c := range s.p.Checks {
		err, ran := results[c.Name]
		if !ran {
			continue
		}
		cs := s.st.Checks[c.Name]
		failAfter, riseAfter := s.p.failAfter(c), s.p.riseAfter(c)
		if err != nil {
			cs.Fails++
			cs.Oks = 0
			cs.LastErr = err.Error()
			switch {
			case cs.Status != StatusDown && cs.Fails >= failAfter:
				cs.Status, cs.Since = StatusDown, s.now
				s.emit(Event{Kind: EventCheckDown, Node: c.Node, Check: c.Name, Fails: cs.Fails, Err: cs.LastErr,
					Message: fmt.Sprintf("check %q down after %d failures: %s", c.Name, cs.Fails, cs.LastErr)})
			case cs.Status != StatusDown && cs.Fails >= s.p.warnAfter() && !s.st.Latches[latchWarn+c.Name]:
				s.st.Latches[latchWarn+c.Name] = true
				s.emit(Event{Kind: EventCheckWarn, Node: c.Node, Check: c.Name, Fails: cs.Fails, Err: cs.LastErr,
					Message: fmt.Sprintf("check %q failing (%d of %d): %s", c.Name, cs.Fails, failAfter, cs.LastErr)})
			}
			continue
		}
		cs.Oks++
		cs.Fails = 0
		if cs.Oks >= riseAfter {
			// A solid recovery re-arms the warning.
			delete(s.st.Latches, latchWarn+c.Name)
		}
		switch {
		case cs.Status == StatusUnknown:
			cs.Status, cs.Since = StatusUp, s.now
		case cs.Status == StatusDown && cs.Oks >= riseAfter:
			cs.Status, cs.Since = StatusUp, s.now
			s.emit(Event{Kind: EventCheckUp, Node: c.Node, Check: c.Name,
				Message: fmt.Sprintf("check %q up after %d successes", c.Name, cs.Oks)})
		}
	}
}

// judgeNodes applies rule 2.
func (s *stepper) judgeNodes() {
	for _, n := range s.p.Nodes {
		var critical, down, unknown int
		var firstDown string
		for _, c := range s.p.Checks {
			if c.Node != n.Name || role(c) != RoleCritical {
				continue
			}
			critical++
			switch s.st.Checks[c.Name].Status {
			case StatusDown:
				if down == 0 {
					firstDown = c.Name
				}
				down++
			case StatusUnknown:
				unknown++
			}
		}
		status := StatusUp
		switch {
		case critical == 0:
		case s.p.downWhen() == DownAll && down == critical:
			status = StatusDown
		case s.p.downWhen() != DownAll && down > 0:
			status = StatusDown
		case unknown > 0:
			status = StatusUnknown
		}
		ns := s.st.Nodes[n.Name]
		if ns.Status == status {
			continue
		}
		was := ns.Status
		ns.Status, ns.Since = status, s.now
		switch {
		case status == StatusDown:
			cs := s.st.Checks[firstDown]
			s.emit(Event{Kind: EventNodeDown, Node: n.Name, Check: firstDown, Err: cs.LastErr,
				Message: fmt.Sprintf("node %q down: check %q down: %s", n.Name, firstDown, cs.LastErr)})
		case status == StatusUp && was == StatusDown:
			s.emit(Event{Kind: EventNodeUp, Node: n.Name, Message: fmt.Sprintf("node %q up", n.Name)})
		}
	}
}

// judgeWitness applies rule 3. The arbiter becomes isolated when every
// witness check reported a failure this round, and stops being isolated
// when any witness check passes. A round in which only some witness checks
// reported, all failing, changes nothing.
func (s *stepper) judgeWitness(results map[string]error) {
	var witnesses, failed int
	var passed, lastFailed string
	for _, c := range s.p.Checks {
		if role(c) != RoleWitness {
			continue
		}
		witnesses++
		err, ran := results[c.Name]
		switch {
		case !ran:
		case err != nil:
			failed++
			lastFailed = c.Name
		case passed == "":
			passed = c.Name
		}
	}
	switch {
	case witnesses == 0:
		s.st.Isolated = false
	case failed == witnesses && !s.st.Isolated:
		s.st.Isolated = true
		errText := s.st.Checks[lastFailed].LastErr
		s.emit(Event{Kind: EventIsolated, Check: lastFailed, Err: errText,
			Message: fmt.Sprintf("all %d witness checks failed (last %q: %s): this arbiter may be cut off; no switch", witnesses, lastFailed, errText)})
	case passed != "" && s.st.Isolated:
		s.st.Isolated = false
		s.emit(Event{Kind: EventWitnessOK, Check: passed,
			Message: fmt.Sprintf("witness check %q passes again; switching allowed", passed)})
	}
}

// decide applies rules 4 to 8.
func (s *stepper) decide() {
	if s.st.Isolated || s.now.Before(s.st.Started.Add(s.p.Grace)) {
		// Latches keep their values: whatever was announced before still
		// stands and is not announced again afterwards.
		return
	}
	asserted := make(map[string]bool)
	to, reason := s.want(asserted)
	if to != "" {
		if s.p.heldDown(s.st, s.now) {
			key := latchHeldDown + to
			asserted[key] = true
			if !s.st.Latches[key] {
				s.st.Latches[key] = true
				until := s.st.LastSwitch.Add(s.p.HoldDown)
				s.emit(Event{Kind: EventHeldDown, Node: to, From: s.st.Active, To: to,
					Message: fmt.Sprintf("switch %s to %q held down until %s (hold-down %s)",
						fromText(s.st.Active), to, until.Format(time.RFC3339), s.p.HoldDown)})
			}
		} else {
			s.d.Switch, s.d.From, s.d.To, s.d.Reason = true, s.st.Active, to, reason
		}
	}
	for k := range s.st.Latches {
		if (k == latchNoHealthy || strings.HasPrefix(k, latchHeldDown) || strings.HasPrefix(k, latchFailbackPending)) && !asserted[k] {
			delete(s.st.Latches, k)
		}
	}
}

func fromText(active string) string {
	if active == "" {
		return "from no active node"
	}
	return fmt.Sprintf("from %q", active)
}

// want returns the node the traffic should move to and why, or "" to
// stay. It emits the no-healthy-node and failback-pending events once,
// recording in asserted the latches whose condition holds this round.
func (s *stepper) want(asserted map[string]bool) (to, reason string) {
	order := s.byPriority()
	active := s.st.Active
	if active == "" {
		// Rule 8: converge on the best node that is up, but not while a
		// node preferred to it is still unknown (its checks have not yet
		// reached a verdict), to avoid a needless switch and failback.
		for _, i := range order {
			switch s.st.Nodes[s.p.Nodes[i].Name].Status {
			case StatusUp:
				return s.p.Nodes[i].Name, ReasonConverge
			case StatusUnknown:
				return "", ""
			}
		}
		// Every node is known to be down: say so once, as for an active
		// node without a healthy standby.
		asserted[latchNoHealthy] = true
		if !s.st.Latches[latchNoHealthy] {
			s.st.Latches[latchNoHealthy] = true
			s.emit(Event{Kind: EventNoHealthyNode,
				Message: "no node is up and no active node is recorded; nothing to switch to"})
		}
		return "", ""
	}
	best := ""
	for _, i := range order {
		name := s.p.Nodes[i].Name
		if name != active && s.st.Nodes[name].Status == StatusUp {
			best = name
			break
		}
	}
	switch s.st.Nodes[active].Status {
	case StatusDown:
		// Rule 5.
		if best != "" {
			return best, ReasonNodeDown
		}
		asserted[latchNoHealthy] = true
		if !s.st.Latches[latchNoHealthy] {
			s.st.Latches[latchNoHealthy] = true
			s.emit(Event{Kind: EventNoHealthyNode, Node: active,
				Message: fmt.Sprintf("active node %q is down and no standby is up; traffic stays", active)})
		}
		return "", ""
	case StatusUp:
		// Rule 6.
		if best == "" || s.p.Nodes[s.p.nodeIndex(best)].Priority <= s.p.Nodes[s.p.nodeIndex(active)].Priority {
			return "", ""
		}
		mode := s.p.failback()
		since := s.st.Nodes[best].Since
		if mode == FailbackAuto || (mode == FailbackDelayed && !s.now.Before(since.Add(s.p.FailbackDelay))) {
			return best, ReasonFailback
		}
		key := latchFailbackPending + best
		asserted[key] = true
		if !s.st.Latches[key] {
			s.st.Latches[key] = true
			msg := fmt.Sprintf("preferred node %q is up; failback is manual, traffic stays on %q", best, active)
			if mode == FailbackDelayed {
				msg = fmt.Sprintf("preferred node %q is up; failback once it has been up for %s (at %s)",
					best, s.p.FailbackDelay, since.Add(s.p.FailbackDelay).Format(time.RFC3339))
			}
			s.emit(Event{Kind: EventFailbackPending, Node: best, From: active, To: best, Message: msg})
		}
	}
	// An active node of unknown status is neither failed over nor failed
	// back from until its checks reach a verdict.
	return "", ""
}

// byPriority returns the indexes of p.Nodes from the most preferred to
// the least: highest Priority first, ties in configuration order.
func (s *stepper) byPriority() []int {
	order := make([]int, len(s.p.Nodes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return s.p.Nodes[order[a]].Priority > s.p.Nodes[order[b]].Priority
	})
	return order
}
