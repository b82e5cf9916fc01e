// Package health holds the checks that tell whether a service is alive.
//
// A [Checker] answers one question, "is this service healthy right now?",
// by returning nil (healthy) or an error that says what failed where. Each kind
// of check lives in its own file: TCP connect with an optional banner
// exchange (the articles' "telnet host port | grep Connected"), HTTP(S),
// MySQL/MariaDB, DNS, exec (keepalived's track_script) and process (pidof).
//
// Contracts shared by every checker in this package:
//
//   - Check honours ctx and also applies its own Timeout (a default per kind),
//     whichever ends first. It never blocks past both.
//   - Check is safe for concurrent use; the arbiter may run one checker
//     from several goroutines (for instance a manual "check" while the
//     daemon runs).
//   - A failure is returned as a *[Error] naming the kind of check, its
//     target and the cause, which unwraps to the underlying error
//     (so errors.Is(err, context.DeadlineExceeded) works).
//   - A checker never retries: counting failures is the failover Policy's
//     job (N strikes), and a hidden retry would distort its counters.
//   - No shell is involved anywhere: commands are run from argv.
//
// Checkers hold no global state; constructors validate their configuration
// and return an error rather than panic.
package health
