// Package failovermetrics exposes a [failover.Arbiter] to Prometheus.
//
// Two collectors, registered together on the caller's registry (never on
// the global default one):
//
//   - [Collector] reads [failover.Arbiter.Snapshot] at scrape time, so it
//     holds no state of its own and can never disagree with `status`.
//   - [Events] counts the arbiter's events. Its [Events.Observe] method is
//     given to [failover.Config.OnEvent] (with [Chain] when that is
//     already taken) before the arbiter is built.
//
// The metrics, and what their values mean:
//
//	understudy_node_up{node}                          1 up, 0 down; no sample while unknown
//	understudy_node_active{node}                      1 for the node carrying the traffic, else 0
//	understudy_check_up{check,node,role}              1 up, 0 down; no sample while unknown
//	understudy_check_consecutive_failures{check,node,role}
//	understudy_check_latency_seconds{check,node,role} duration of the last run; no sample before one
//	understudy_isolated                               1 while the witness checks fail
//	understudy_switch_pending                         1 while a decided switch has not completed
//	understudy_last_round_timestamp_seconds           Unix time of the last round; 0 before the first
//	understudy_events_total{kind}                     events by kind (failover.EventKind values)
//	understudy_switches_total{to}                     completed switches, by target node
//	understudy_switch_failures_total                  switches that failed after their retries
//
// An unknown status (no round has judged the node or check yet, for
// instance during the start-up grace) is an absent sample rather than a
// magic value: `understudy_node_up == 0` alerts on a down node only, and
// `absent(understudy_node_up{node="b"})` on one never judged. Witness
// checks belong to no node and have node="". A check's role label is
// critical, notify or witness (an empty role is critical).
//
// Labels carry names only (nodes, checks, roles, event kinds): never an
// address, an error text or anything from a check's configuration.
//
// switch_failed is emitted once per intended switch, not once per failing
// round, so understudy_switch_failures_total counts switches that could
// not be carried out; understudy_switch_pending stays 1 while one is
// being retried.
//
// The counters move as each event happens, the gauges when the round
// that caused it ends (Snapshot is taken at the end of a round), so a
// scrape in the middle of a round may see a switch counted before
// understudy_node_active shows it.
//
// Both collectors are safe for concurrent use: scrapes may run while the
// arbiter runs its rounds.
package failovermetrics
