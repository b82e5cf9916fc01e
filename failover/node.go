package failover

import (
	"context"
	"net/netip"
)

// Node is one server that can carry the service.
type Node struct {
	// Name identifies the node in config, state, events and logs.
	Name string `json:"name"`
	// Address is where traffic goes when this node is active: the value a
	// DNS switcher writes into the A (IPv4) or AAAA (IPv6) record.
	Address netip.Addr `json:"address"`
	// Address6 is an optional IPv6 address for a node whose Address is
	// IPv4, for switchers that maintain both A and AAAA records.
	Address6 netip.Addr `json:"address6,omitzero"`
	// Priority orders the nodes: the highest is the preferred node (the
	// primary), the others are standbys taken in descending order. Ties are
	// broken by the order of the nodes in the Policy.
	Priority int `json:"priority"`
	// Labels carry provider-specific identifiers (a droplet ID, an
	// interface name) for switchers that need them.
	Labels map[string]string `json:"labels,omitempty"`
}

// Switcher points traffic at a node: it rewrites a DNS record, moves a
// floating address, promotes a replica.
//
// Switch must be idempotent: switching to the node that already receives
// the traffic succeeds and changes nothing. The arbiter relies on this to
// resume a switch that a crash interrupted, so a Switch may be called again
// for the same node after it partly or wholly succeeded. Switch returns
// once the change is in effect (verified where the switcher can verify), or
// an error. Calls are not made concurrently by the arbiter.
type Switcher interface {
	Switch(ctx context.Context, to Node) error
}

// SwitcherFunc adapts an ordinary function to the [Switcher] interface.
type SwitcherFunc func(ctx context.Context, to Node) error

// Switch calls f(ctx, to).
func (f SwitcherFunc) Switch(ctx context.Context, to Node) error { return f(ctx, to) }

// Notifier tells someone about an event: a mail, a webhook, a hook
// command. Notify is called once per event the arbiter decides to send;
// the arbiter already suppresses repeats, so a Notifier need not.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}

// Currenter is an optional interface of a [Switcher] that can tell where
// traffic points now: the addresses a DNS record holds, say. The arbiter
// finds it by type assertion on Config.Switchers and asks the first
// switcher that has it at the start of each round with no switch pending,
// so that a change made outside Understudy (a master that takes its DNS
// record back by dynamic DNS) updates the node it records as active (see
// Config.NoReconcile). The answer never makes the arbiter switch.
//
// Current must not change anything; it may be called concurrently with
// other Currents, never with a Switch of the same switcher. It returns
// the addresses traffic is sent to, in any order; the arbiter matches
// them against each node's Address and Address6.
type Currenter interface {
	Current(ctx context.Context) ([]netip.Addr, error)
}
