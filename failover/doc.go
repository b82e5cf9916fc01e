// Package failover decides which node carries the traffic and moves it
// there.
//
// Three parts, from the inside out:
//
//   - [Policy] is a pure state machine: it takes one [Round] of check
//     results and a [State], and returns a [Decision]. It holds no clock and
//     does no I/O, so a policy is unit-tested by feeding it a timeline. Its
//     rules (N strikes, recovery hysteresis, critical vs notify-only checks,
//     witness, grace, warn-before-dead, hold-down, failback auto, delayed or
//     manual) are listed on the type.
//   - [Arbiter] is the loop around it: it runs the checks of a round
//     concurrently, each with its own timeout, feeds the Policy, carries out
//     a switch through an ordered list of [Switcher]s with retries and
//     backoff, persists everything in a state file, and emits typed
//     [Event]s to the log, to OnEvent and to [Notifier]s. [Arbiter.Tick]
//     runs one round (the cron mode of the articles); [Arbiter.Run] is the
//     daemon.
//   - [Switcher] and [Notifier] are the seams to the world: DNS records
//     and floating addresses (packages dnsprovider and ippool), mail,
//     webhooks and hooks (package failover/notify).
//
// Contracts:
//
//   - Switchers are idempotent, and the arbiter calls them one at a time,
//     in order. A switch is written to the state file before the first
//     switcher runs; an arbiter that dies half-way finishes the switch in
//     its next round, so a switch completes exactly once.
//   - Events mark transitions: each is emitted once when the situation
//     changes, never once per round. A switch that keeps failing is
//     reported once until it succeeds or its target changes.
//   - A notifier never slows the loop: each has its own bounded queue and
//     delivery goroutine. In daemon mode ([Arbiter.Run]) rounds only queue
//     their events; a one-shot [Arbiter.Tick] (cron) returns once its
//     events are delivered, so a short-lived process loses none.
//   - The state file is written atomically (temporary file, fsync,
//     rename) with mode 0600, and locked with flock so that two arbiters
//     (a cron tick and a manual switch, say) never interleave. A corrupt
//     state file is moved aside and reported (EventStateReset); the arbiter
//     then starts from a safe state: no switch until checks have run.
//   - Nothing secret is kept in the state or in a [Snapshot].
//   - The methods of an Arbiter are safe for concurrent use; a Policy is
//     read-only configuration and may be shared, its State may not.
//
// Package failovertest has fakes (checker, switcher, notifier) for users'
// own tests.
package failover
