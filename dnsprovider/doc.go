// Package dnsprovider switches traffic by rewriting DNS records.
//
// Every switcher here implements failover.Switcher: Switch(ctx, node)
// points one name's address record (A for an IPv4 node address, AAAA for
// IPv6; optionally also AAAA from Node.Address6) at the node, touching no
// other record of the zone, and verifies the result by querying the
// authoritative servers before it returns. Switch is idempotent: when the
// record already holds the node's address it changes nothing (no update
// sent, no serial bump, no reload). SwitchReport does the same and says
// what changed and what the record held before.
//
// Implementations:
//
//   - [RFC2136]: dynamic update signed with TSIG (BIND's "right way"):
//     one UPDATE per server that deletes the name's RRset of the type and
//     adds the one new record with the configured TTL (default 60s).
//     Several authoritative servers (the article's two NS) are updated in
//     one switch; each is tried even if another fails, and each is
//     verified. TCP by default. A refusal is an [*UpdateError] carrying
//     BIND's rcode and TSIG error (NOTAUTH/BADSIG, REFUSED) and the
//     server; its Permanent method tells a refusal from a timeout.
//   - [ZoneFile]: the article's way for servers without dynamic updates:
//     rewrite the record's line in the zone file (only the address, and
//     the TTL if one is configured; every other byte stays), bump the SOA
//     serial (+1, or today's YYYYMMDD00 for date serials; RFC 1982
//     wrap-around), replace the file atomically keeping its mode, and run
//     rndc reload ZONE; with Freeze, rndc freeze/thaw around the edit for
//     zones that also take dynamic updates (thaw always runs). The file
//     must hold exactly one record of the type for the name
//     ([ErrRecordCount] otherwise: a round-robin set or a missing record
//     is left for a human), and must not use $INCLUDE. If the reload
//     fails the original file is put back, so file and server agree.
//   - [Libdns]: any libdns provider (libdns v1 RecordGetter +
//     RecordSetter): read the zone, SetRecords the one RRset, read back.
//     Transient faults (timeouts, lost connections, HTTP 429 with
//     Retry-After, 5xx) are retried with backoff inside one Switch;
//     permanent ones ([IsPermanent]: 401, 403, 404, a refused record) end
//     it at once. Providers: [NewGandi] (LiveDNS v5, libdns/gandi),
//     [NewDigitalOcean] (libdns/digitalocean and godo), both adjusted to
//     libdns's documented SetRecords/DeleteRecords semantics and adding
//     before removing; [NewBIND] (RFC 2136 + TSIG writes, AXFR reads),
//     which makes any dynamic-update server a libdns provider. The
//     conformance suite in libdnstest checks all three.
//   - [DDNS]: dynamic DNS for a host whose address moves: an
//     [AddrSource] ([HTTPSource], [InterfaceSource]), any switcher with
//     SwitchReport, old and new address reported, a hook run as argv.
//
// Secrets (TSIG keys, API tokens) are read from files ([LoadTSIGKey]) and never
// logged or put in errors or argv: [TSIGKey] redacts itself when printed.
// Switchers are safe for concurrent use; ZoneFile serialises its calls.
package dnsprovider
