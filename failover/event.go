package failover

import "time"

// EventKind names a kind of [Event]. The values are stable strings used in
// JSON, webhooks, hook environments and logs.
type EventKind string

// The kinds of events. Every event marks a transition: the Policy emits
// each once when the situation changes, not once per round.
const (
	// EventCheckWarn: a check has failed WarnAfter times in a row but has
	// not yet reached its threshold (Heartbeat's warntime).
	EventCheckWarn EventKind = "check_warn"
	// EventCheckDown: a check reached its failure threshold.
	EventCheckDown EventKind = "check_down"
	// EventCheckUp: a check that was down passed RiseAfter times in a row.
	EventCheckUp EventKind = "check_up"
	// EventNodeDown: a node's critical checks are down (any or all, as
	// configured).
	EventNodeDown EventKind = "node_down"
	// EventNodeUp: a node that was down is healthy again.
	EventNodeUp EventKind = "node_up"
	// EventIsolated: the witness checks failed; this arbiter may be cut off
	// itself, so it will not switch.
	EventIsolated EventKind = "isolated"
	// EventWitnessOK: the witness checks pass again after an isolation.
	EventWitnessOK EventKind = "witness_ok"
	// EventNoHealthyNode: the active node is down and no standby is
	// healthy; traffic stays where it is.
	EventNoHealthyNode EventKind = "no_healthy_node"
	// EventHeldDown: a switch is wanted but the hold-down period since the
	// last switch has not passed.
	EventHeldDown EventKind = "held_down"
	// EventFailbackPending: the preferred node is healthy again but
	// failback is manual (or still delayed); traffic stays on the standby.
	EventFailbackPending EventKind = "failback_pending"
	// EventSwitchIntended: the Policy decided to switch; the intent is on
	// disk before any switcher runs.
	EventSwitchIntended EventKind = "switch_intended"
	// EventSwitchResumed: a switch intended before a crash or restart is
	// being carried out now.
	EventSwitchResumed EventKind = "switch_resumed"
	// EventSwitchDone: every switcher succeeded; To is now active.
	EventSwitchDone EventKind = "switch_done"
	// EventSwitchFailed: a switcher failed after its retries; the switch
	// stays intended and is tried again next round.
	EventSwitchFailed EventKind = "switch_failed"
	// EventStateReset: the state file was unreadable or corrupt; the
	// arbiter started from a safe empty state.
	EventStateReset EventKind = "state_reset"
	// EventAddressChanged: the dynamic DNS updater found this host's
	// address moved and pointed its record at the new one (Node is the
	// host; Message gives the old and the new address). Emitted by the
	// daemon's ddns loop, not by the Policy.
	EventAddressChanged EventKind = "address_changed"
	// EventActiveChanged: traffic was found pointing at another node than
	// recorded (changed outside Understudy): From is the node recorded
	// active, To the node traffic points at, which the arbiter now records
	// as active. Nothing is switched. Emitted by the arbiter when a
	// switcher is a [Currenter], not by the Policy.
	EventActiveChanged EventKind = "active_changed"
)

// Event is something that happened, for logs, status and notifications.
type Event struct {
	Time time.Time `json:"time"`
	Kind EventKind `json:"kind"`
	// Node is the node concerned, if any.
	Node string `json:"node,omitempty"`
	// Check is the check concerned, if any.
	Check string `json:"check,omitempty"`
	// From and To are the nodes of a switch.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Fails is the number of consecutive failures of Check, where relevant.
	Fails int `json:"fails,omitempty"`
	// Err is the last error text of the check or switcher concerned.
	Err string `json:"error,omitempty"`
	// Message is a one-line human description.
	Message string `json:"message"`
}
