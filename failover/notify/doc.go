// Package notify tells a human (or another program) about failover
// events: a mail through an SMTP relay, a webhook, a hook command. Each
// implements [failover.Notifier].
//
// This is what the articles did with mutt and a relay at 10.6.6.6 ("mail
// the admin after the third failure and on recovery"), done as a library:
// a [Mail] with proper headers, STARTTLS and optional PLAIN auth; a
// [Webhook] that POSTs the event as signed JSON; a [Hook] that runs a
// command with the event in its environment and on its stdin.
//
// Contracts shared by every notifier here:
//
//   - Notify sends one message per call and returns once it was accepted
//     (the relay answered 250 to DATA, the webhook answered 2xx, the hook
//     exited 0) or with an error naming the notifier and its target.
//   - Notify honours ctx and also applies the notifier's own Timeout.
//   - Notifiers are safe for concurrent use; each call is independent.
//   - Notify is not idempotent: a retry may deliver the same event twice.
//   - Nothing here suppresses repeats. The Policy emits events only on
//     transitions and the arbiter suppresses repeated switch failures;
//     use [Filter] to choose which kinds reach a notifier.
//   - Secrets (the SMTP password, the webhook secret and headers, a
//     webhook URL's path and query, which often carry a token) never
//     appear in errors or logs.
package notify
