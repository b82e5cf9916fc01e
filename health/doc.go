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
//
// # Kinds and their defaults
//
//	kind     constructor   default timeout  healthy when
//	tcp      NewTCP        3s               connect works; Expect seen after Send
//	http     NewHTTP       5s               status in Status (2xx/3xx); body matches
//	mysql    NewMySQL      5s               login works and Query returns a row
//	dns      NewDNS        2s               NOERROR, non-empty answer holding Expect
//	exec     NewExec       10s              the command exits 0
//	process  NewProcess    none (local)     MinCount processes of that name run
//
// Each kind has a config struct whose zero fields mean the defaults, a
// Validate method, and seams (Dial, Client, Runner, ProcDir) where nil or
// empty means the real thing.
//
// # Failures, mismatches and degraded services
//
// Three causes can be told apart with errors.Is: [ErrUnexpected] (the
// service answered, but not what the check wants: a status, a body, a
// banner, a DNS answer), [ErrDegraded] (the service proves it is running
// while refusing the check, such as MySQL's access denied or too many
// connections; see [IsDegraded]) and everything else (refused, timed out,
// reset). The arbiter counts a degraded service as alive, so it does not
// fail over for it, but reports the error. Timeouts wrap
// context.DeadlineExceeded.
//
// Secrets (a MySQL password, a password in an HTTP URL) never appear in
// error text.
package health
