// Package ippool moves floating addresses between nodes: DigitalOcean
// reserved IPs, a local virtual IP (netlink plus gratuitous ARP) and VRRP
// (keepalived, and a native VRRPv3 speaker).
//
// Every mover implements failover.Switcher, so the arbiter can move an
// address the same way it rewrites a DNS record. Switch is idempotent
// and verifies that the address is where it was sent.
//
// The implementations arrive with the floating-address work (issue 6).
package ippool
