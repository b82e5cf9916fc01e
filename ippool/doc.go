// Package ippool moves floating addresses between nodes: DigitalOcean
// reserved IPs, a local virtual IP (netlink plus gratuitous ARP) and
// resource groups that take an address over together with what depends
// on it (the Heartbeat article's haresources line).
//
// Every mover implements failover.Switcher, so the arbiter can move an
// address the same way it rewrites a DNS record. Switch is idempotent and
// verifies, where it can, that the address is where it was sent:
//
//   - [ReservedIP] assigns a DigitalOcean reserved IP to the target
//     node's droplet (label droplet_id) through godo. It asks the droplet
//     metadata service and the API first and does nothing if the IP is
//     already there; it polls the assign action to completion and retries
//     rate limits (429, Retry-After), server and network errors with
//     backoff under a deadline. Client errors (401, 404, 422) are final.
//
//   - [VIP] is a virtual IP on a local interface, for the node it runs on
//     (VIPConfig.Self): a switch to Self probes the address by ARP,
//     refuses it if another host answers (ErrAddressInUse), adds it and
//     announces it in keepalived-like bursts; a switch to any other node
//     removes it if present, which cleans up the stale copy a crashed
//     holder leaves behind. Each node runs its own arbiter (or VRRP) and
//     its own VIP switcher.
//
//   - [Group] carries out ordered [Step]s (a VIP, a DRBD promotion via
//     [SwitcherStep], a [Mount], a service by [Command] or [Systemctl], a
//     mail by [Notify]) in order on takeover and in reverse on release,
//     rolling back on a failed step.
//
//   - [VRRP] is a native VRRPv3 speaker (RFC 5798, IPv4) that
//     interoperates with keepalived (vrrp_version 3): master-down timer
//     with skew, preemption on, off or delayed, address owner 255,
//     unicast or multicast, gratuitous ARP on becoming master, priority 0
//     on Stop; malformed or forged adverts are logged, counted and
//     ignored. State changes arrive as [VRRPEvent]s; it is also a
//     Switcher (demote/restore) and a health.Checker (passes on master).
//
//   - [Keepalived] generates keepalived.conf from [KeepalivedConfig],
//     checks it with keepalived --config-test inside the namespace, runs
//     and restarts keepalived (removing the VIP a killed one left), and
//     [TrackFileSwitcher] steers it through a track_file weight.
//
// [Link] is the reusable layer under VIP, for VRRP and benchmarks: open
// an interface in the current or a named network namespace, add, remove
// and look up addresses, send gratuitous ARP / unsolicited neighbour
// advertisements, probe or resolve an IPv4 address by ARP. It is
// Linux-only. Operations the kernel refuses for lack of privilege return
// a *PermissionError naming the capability needed (CAP_NET_ADMIN for
// addresses, CAP_NET_RAW for ARP and neighbour advertisement sockets).
//
// Loggers are injected (nil discards); no method logs an error it also
// returns. Errors wrap sentinels testable with errors.Is: ErrNoInterface,
// ErrAddressInUse, ErrPermission, ErrNoReply, ErrStepFailed,
// ErrNoDropletID, ErrActionFailed; API errors unwrap to
// *godo.ErrorResponse.
package ippool
