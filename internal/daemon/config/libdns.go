package config

import "time"

// LibdnsSwitcher points a record at the node through a libdns provider:
// Gandi LiveDNS, DigitalOcean, or a BIND server (RFC 2136) used as one.
type LibdnsSwitcher struct {
	// Provider is gandi, digitalocean or bind.
	Provider string `yaml:"provider" cfg:"required,oneof=gandi|digitalocean|bind"`
	// Zone is the zone as the provider knows it ("soutade.fr").
	Zone string `yaml:"zone" cfg:"required,fqdn"`
	// Name is the record owner, relative to Zone ("@" for the apex).
	Name string `yaml:"name" cfg:"required"`
	// TTL is written with the record (default 60s; Gandi refuses less
	// than 300s, DigitalOcean less than 30s).
	TTL time.Duration `yaml:"ttl"`
	// RecordType restricts the record written to A or AAAA (default:
	// from the node's address).
	RecordType string `yaml:"record_type" cfg:"oneof=A|AAAA"`
	// AAAA also maintains the AAAA record from the node's address6.
	AAAA bool `yaml:"aaaa"`
	// Token is the API token (gandi: a personal access token;
	// digitalocean: an API token), given as token_file or token_env.
	Token Secret `yaml:"token" cfg:"secret"`
	// Server is the BIND primary (host:port) for provider bind.
	Server string `yaml:"server" cfg:"hostport"`
	// TSIGKeyFile signs updates and transfers for provider bind.
	TSIGKeyFile string `yaml:"tsig_key_file" cfg:"secretfile"`
	// Attempts per switch on transient API faults (default 3).
	Attempts int `yaml:"attempts"`
	// Backoff is the first wait between attempts (default 1s, doubling;
	// a longer Retry-After from the API wins).
	Backoff time.Duration `yaml:"backoff"`
}

// DDNS configures the dynamic DNS updater (the ddns command, and the
// daemon when Every is given): this host's address, found from SourceURL
// or SourceInterface, is written to Record when it changed, and Hook is
// run with the old and new address.
type DDNS struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// SourceURL is a "what is my address" page (the article's
	// http://checkip.dyndns.com/). Exactly one of SourceURL and
	// SourceInterface is given.
	SourceURL string `yaml:"source_url" cfg:"url"`
	// SourceInterface is a local interface holding the public address.
	SourceInterface string `yaml:"source_interface"`
	// Family is ipv4 or ipv6 (default: either).
	Family string `yaml:"family" cfg:"oneof=ipv4|ipv6"`
	// Node names this host in the switch (default: the hostname).
	Node string `yaml:"node"`
	// Record is the switcher that writes the record: libdns, rfc2136 or
	// zonefile.
	Record Switcher `yaml:"record"`
	// Hook is run (argv, no shell) after a change with the old and the
	// new address appended.
	Hook []string `yaml:"hook" cfg:"argv"`
	// HookTimeout bounds the hook (default 60s).
	HookTimeout time.Duration `yaml:"hook_timeout"`
	// Every makes `understudy run` update the record at this period
	// while the daemon runs (default: never; the ddns command from cron
	// does it). Positive when given.
	Every time.Duration `yaml:"every"`
}

// IsSet reports whether a ddns section was given.
func (d DDNS) IsSet() bool {
	return d.Record.Type != "" || d.SourceURL != "" || d.SourceInterface != ""
}
