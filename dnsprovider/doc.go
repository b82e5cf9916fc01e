// Package dnsprovider switches traffic by rewriting DNS records.
//
// Every switcher here implements failover.Switcher: Switch(ctx, node)
// points one name's address record (A for an IPv4 node address, AAAA for
// IPv6) at the node, touching no other record of the zone, sets the TTL
// the switcher is configured with, and verifies the result by querying
// the authoritative servers before it returns. Switch is idempotent:
// when the record already holds the node's address it changes nothing.
//
// Implementations:
//
//   - [RFC2136]: dynamic update signed with TSIG (BIND's "right way").
//     Several authoritative servers can be updated in one switch.
//   - [ZoneFile]: the article's way for servers without dynamic updates:
//     rewrite the record in the zone file, bump the SOA serial and run
//     rndc reload (freeze/thaw when the zone also takes dynamic updates).
//
// Secrets (TSIG keys) are read from files and never logged.
package dnsprovider
