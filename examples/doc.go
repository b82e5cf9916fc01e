// Package examples holds one runnable program per article that Understudy
// replaces, each in its own directory with a README mapping the article's
// scripts to the code. They are meant to be copied and edited.
//
//   - bindarbiter: two servers that are their own BIND name servers; a cron arbiter probes SSH/DNS/HTTP/MySQL, counts failures to 3 and rewrites the zone.
//   - gandi: a home master whose address changes and a backup over OpenVPN; the backup moves the A record at Gandi when the master is gone, the master moves it back when its address changes.
//   - heartbeat: Heartbeat + DRBD rebuilt; two nodes watch each other over the crossover link and the survivor takes the DRBD partition and the service.
//   - keepalived-do: nginx on two DigitalOcean droplets; checks every 2 seconds move a reserved (floating) IP to the healthy one, master preferred.
//   - mariadb: a master-master MariaDB pair; watch one replica, alert when replication breaks (1062), explain and run the repair choices.
//   - rsync-cron: Soutadé's daily replication script; pull the peer's mail, delete it there, push the web tree, over one shared ssh master.
//   - unison: the habr article's two-way /site/web sync, unison every 5 minutes behind a lock.
package examples
