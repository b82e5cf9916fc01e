// Package examples holds one runnable program per article that Understudy
// replaces, each in its own directory with a README mapping the article's
// scripts to the code. They are meant to be copied and edited.
//
//   - bindarbiter: two servers that are their own BIND name servers, a
//     cron arbiter that probes SSH/DNS/HTTP/MySQL, counts failures to 3 and
//     rewrites the zone.
package examples
