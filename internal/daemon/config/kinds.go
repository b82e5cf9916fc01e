package config

import (
	"net/netip"
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// Node is one server.
type Node struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Name is unique; letters, digits, '.', '_' and '-'.
	Name string `yaml:"name" cfg:"required,name"`
	// Address is the IP address switchers point traffic at.
	Address netip.Addr `yaml:"address" cfg:"required"`
	// Address6 is an optional IPv6 address for AAAA records.
	Address6 netip.Addr `yaml:"address6"`
	// Priority orders the nodes (higher is preferred). Give it on every
	// node or on none; when absent, earlier nodes rank higher.
	Priority int `yaml:"priority"`
	// Labels are provider-specific identifiers for switchers.
	Labels map[string]string `yaml:"labels"`
	// Checks judge this node. Their full names are "node/check".
	Checks []Check `yaml:"checks"`
}

// Check is one health check. Type says which of the kind-specific fields
// is set: exactly one of TCP, HTTP, MySQL, DNS, Exec, Process,
// Replication, Sync and DRBD is non-nil.
type Check struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Name is unique within its node (or among witness checks).
	Name string `yaml:"name" cfg:"required,name"`
	// Type is tcp, http, mysql, dns, exec, process, replication, sync or
	// drbd.
	Type string `yaml:"type" cfg:"required"`
	// FullName is "node/name" for a node's check and Name for a witness
	// check; filled in at load.
	FullName string `yaml:"-"`
	// Node is the node the check belongs to ("" for witness checks).
	Node string `yaml:"-"`
	// Role is critical (default) or notify; witness checks are always
	// witness.
	Role failover.Role `yaml:"role" cfg:"oneof=critical|notify|witness"`
	// Timeout overrides check_timeout; it must be shorter than interval.
	Timeout time.Duration `yaml:"timeout"`
	// FailAfter and RiseAfter override the policy's thresholds (0:
	// inherit).
	FailAfter int `yaml:"fail_after"`
	RiseAfter int `yaml:"rise_after"`

	TCP     *TCPCheck     `yaml:"-"`
	HTTP    *HTTPCheck    `yaml:"-"`
	MySQL   *MySQLCheck   `yaml:"-"`
	DNS     *DNSCheck     `yaml:"-"`
	Exec    *ExecCheck    `yaml:"-"`
	Process *ProcessCheck `yaml:"-"`
	// Checks that refer to other sections (checkrefs.go).
	Replication *ReplicationCheck `yaml:"-"`
	Sync        *SyncCheck        `yaml:"-"`
	// A DRBD resource on this host (drbd.go).
	DRBD *DRBDCheck `yaml:"-"`
}

// TCPCheck connects to Address and optionally sends Send and expects the
// banner to start with (contain) Expect.
type TCPCheck struct {
	Address string `yaml:"address" cfg:"required,hostport"`
	Send    string `yaml:"send"`
	Expect  string `yaml:"expect"`
}

// HTTPCheck fetches URL and checks the status and body.
type HTTPCheck struct {
	URL    string `yaml:"url" cfg:"required,url"`
	Method string `yaml:"method" cfg:"oneof=GET|HEAD|POST"` // default GET
	// ExpectStatus lists acceptable status codes (default: any 2xx or 3xx).
	ExpectStatus []int  `yaml:"expect_status"`
	BodyContains string `yaml:"body_contains"`
	// BodyRegexp must match the body (RE2 syntax).
	BodyRegexp string `yaml:"body_regexp"`
	// Headers are added to the request ("Host" picks a virtual host).
	Headers         map[string]string `yaml:"headers"`
	FollowRedirects bool              `yaml:"follow_redirects"`
	// CAFile, CertFile and KeyFile are PEM files: the CAs to trust and a
	// client certificate with its key.
	CAFile     string `yaml:"ca_file" cfg:"path"`
	CertFile   string `yaml:"cert_file" cfg:"path"`
	KeyFile    string `yaml:"key_file" cfg:"secretfile"`
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns TLS verification off (on by default).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// MySQLCheck connects to a MySQL/MariaDB server and runs Query.
type MySQLCheck struct {
	Address  string `yaml:"address" cfg:"required,hostport"`
	User     string `yaml:"user" cfg:"required"`
	Password Secret `yaml:"password" cfg:"secret"`
	Database string `yaml:"database"`
	// Query is run and one row read (default: the health package's).
	Query string `yaml:"query"`
	// TLS is "false" (default), "true", "skip-verify" or "preferred".
	TLS string `yaml:"tls" cfg:"oneof=false|true|skip-verify|preferred"`
}

// DNSCheck asks Server for Query/QType and expects an answer.
type DNSCheck struct {
	Server string `yaml:"server" cfg:"required,hostport"`
	Query  string `yaml:"query" cfg:"required"`
	// QType is the record type (default A).
	QType string `yaml:"qtype" cfg:"oneof=A|AAAA|SOA|NS|MX|TXT|CNAME|PTR|SRV"`
	// Expect lists values that must all be in the answer.
	Expect []string `yaml:"expect"`
	// Net is "udp" (default) or "tcp".
	Net string `yaml:"net" cfg:"oneof=udp|tcp"`
}

// ExecCheck runs Command (argv, no shell); exit 0 is healthy.
type ExecCheck struct {
	Command []string `yaml:"command" cfg:"required,argv"`
}

// ProcessCheck looks for a running process by name (pidof).
type ProcessCheck struct {
	Process string `yaml:"process" cfg:"required"`
	// MinCount is how many must run (default 1).
	MinCount int `yaml:"min_count"`
}

// Check kinds, in the order they are listed in messages.
var checkKinds = []string{"tcp", "http", "mysql", "dns", "exec", "process", "replication", "sync", "drbd"}

func (c *Check) noun() string    { return "check" }
func (c *Check) kinds() []string { return checkKinds }
func (c *Check) variant(kind string) any {
	switch kind {
	case "tcp":
		c.TCP = &TCPCheck{}
		return c.TCP
	case "http":
		c.HTTP = &HTTPCheck{}
		return c.HTTP
	case "mysql":
		c.MySQL = &MySQLCheck{}
		return c.MySQL
	case "dns":
		c.DNS = &DNSCheck{}
		return c.DNS
	case "exec":
		c.Exec = &ExecCheck{}
		return c.Exec
	case "process":
		c.Process = &ProcessCheck{}
		return c.Process
	case "drbd":
		c.DRBD = &DRBDCheck{}
		return c.DRBD
	}
	return c.refVariant(kind)
}

// Switcher is one way of pointing traffic at a node. Exactly one of the
// kind-specific fields is non-nil, as Type says.
type Switcher struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Type is rfc2136, zonefile or exec.
	Type string `yaml:"type" cfg:"required"`
	// Timeout overrides switch.timeout for this switcher.
	Timeout time.Duration `yaml:"timeout"`

	RFC2136  *RFC2136Switcher  `yaml:"-"`
	ZoneFile *ZoneFileSwitcher `yaml:"-"`
	Exec     *ExecSwitcher     `yaml:"-"`
	Libdns   *LibdnsSwitcher   `yaml:"-"`
	// Floating addresses (ippool.go).
	DOReservedIP *DOReservedIPSwitcher `yaml:"-"`
	VIP          *VIP                  `yaml:"-"`
	Group        *GroupSwitcher        `yaml:"-"`
	// DRBD promotion (drbd.go).
	DRBD *DRBD `yaml:"-"`
	// VRRP steering: the native speaker and keepalived (vrrp.go).
	VRRP            *VRRPSwitcher            `yaml:"-"`
	KeepalivedTrack *KeepalivedTrackSwitcher `yaml:"-"`
}

// RFC2136Switcher updates a record by DNS UPDATE, signed with TSIG when
// TSIGKeyFile is set.
type RFC2136Switcher struct {
	Zone string `yaml:"zone" cfg:"required,fqdn"`
	// Name is the record owner, relative to Zone ("@" for the apex).
	Name string        `yaml:"name" cfg:"required"`
	TTL  time.Duration `yaml:"ttl"` // whole seconds (default: the switcher's, 60s)
	// Servers are the primaries to update (host:port).
	Servers []string `yaml:"servers" cfg:"required,hostport"`
	// TSIGKeyFile is a BIND key file ("key name { algorithm …; secret …; };").
	TSIGKeyFile string `yaml:"tsig_key_file" cfg:"secretfile"`
	// Net is "tcp" (default) or "udp".
	Net string `yaml:"net" cfg:"oneof=tcp|udp"`
	// AAAA also maintains the AAAA record from the node's address6.
	AAAA bool `yaml:"aaaa"`
}

// ZoneFileSwitcher rewrites a zone file, bumps its serial and reloads BIND.
type ZoneFileSwitcher struct {
	Zone string `yaml:"zone" cfg:"required,fqdn"`
	Name string `yaml:"name" cfg:"required"`
	// TTL is written into the record line (default: keep the line's).
	TTL  time.Duration `yaml:"ttl"`
	File string        `yaml:"file" cfg:"required,path"`
	// Rndc is the rndc argv prefix (default [rndc]).
	Rndc   []string `yaml:"rndc" cfg:"argv"`
	Freeze bool     `yaml:"freeze"`
	// Verify lists servers (host:port) asked afterwards for the new record.
	Verify []string `yaml:"verify" cfg:"hostport"`
	// AAAA also maintains the AAAA record from the node's address6.
	AAAA bool `yaml:"aaaa"`
}

// ExecSwitcher runs Command with UNDERSTUDY_NODE and UNDERSTUDY_ADDRESS
// (and UNDERSTUDY_ADDRESS6) in its environment, never in argv.
type ExecSwitcher struct {
	Command []string `yaml:"command" cfg:"required,argv"`
}

var switcherKinds = []string{"rfc2136", "zonefile", "exec", "libdns", "do_reserved_ip", "vip", "group", "drbd", "vrrp", "keepalived_track"}

func (s *Switcher) noun() string    { return "switcher" }
func (s *Switcher) kinds() []string { return switcherKinds }
func (s *Switcher) variant(kind string) any {
	switch kind {
	case "rfc2136":
		s.RFC2136 = &RFC2136Switcher{}
		return s.RFC2136
	case "zonefile":
		s.ZoneFile = &ZoneFileSwitcher{}
		return s.ZoneFile
	case "exec":
		s.Exec = &ExecSwitcher{}
		return s.Exec
	case "libdns":
		s.Libdns = &LibdnsSwitcher{}
		return s.Libdns
	case "drbd":
		s.DRBD = &DRBD{}
		return s.DRBD
	case "vrrp", "keepalived_track":
		return s.vrrpVariant(kind)
	}
	return s.ippoolVariant(kind)
}

// Notifier tells someone about events. Exactly one of the kind-specific
// fields is non-nil, as Type says.
type Notifier struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Type is mail, webhook or exec.
	Type string `yaml:"type" cfg:"required"`
	// Events lists the event kinds sent (default: for mail the
	// transitions worth a mail, for the others every event).
	Events []failover.EventKind `yaml:"events" cfg:"event"`
	// Timeout bounds one notification (default 10s).
	Timeout time.Duration `yaml:"timeout"`

	Mail    *MailNotifier    `yaml:"-"`
	Webhook *WebhookNotifier `yaml:"-"`
	Exec    *ExecNotifier    `yaml:"-"`
}

// MailNotifier sends mail through an SMTP server.
type MailNotifier struct {
	Server string   `yaml:"server" cfg:"required,hostport"`
	From   string   `yaml:"from" cfg:"required,mailaddr"`
	To     []string `yaml:"to" cfg:"required,mailaddr"`
	// StartTLS is "auto" (default: when offered), "always" or "never".
	StartTLS string `yaml:"starttls" cfg:"oneof=auto|always|never"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password" cfg:"secret"`
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS bool `yaml:"implicit_tls"`
	// SubjectPrefix starts every subject (default "[understudy]").
	SubjectPrefix string `yaml:"subject_prefix"`
}

// WebhookNotifier POSTs each event as JSON, signed with Secret (HMAC).
type WebhookNotifier struct {
	URL     string            `yaml:"url" cfg:"required,url"`
	Secret  Secret            `yaml:"secret" cfg:"secret"`
	Headers map[string]string `yaml:"headers"`
}

// ExecNotifier runs Command with the event in its environment.
type ExecNotifier struct {
	Command []string `yaml:"command" cfg:"required,argv"`
}

var notifierKinds = []string{"mail", "webhook", "exec"}

func (n *Notifier) noun() string    { return "notifier" }
func (n *Notifier) kinds() []string { return notifierKinds }
func (n *Notifier) variant(kind string) any {
	switch kind {
	case "mail":
		n.Mail = &MailNotifier{}
		return n.Mail
	case "webhook":
		n.Webhook = &WebhookNotifier{}
		return n.Webhook
	case "exec":
		n.Exec = &ExecNotifier{}
		return n.Exec
	}
	return nil
}

// EventKinds returns the event kinds a notifier's events list may name.
func EventKinds() []failover.EventKind {
	return []failover.EventKind{
		failover.EventCheckWarn, failover.EventCheckDown, failover.EventCheckUp,
		failover.EventNodeDown, failover.EventNodeUp,
		failover.EventIsolated, failover.EventWitnessOK,
		failover.EventNoHealthyNode, failover.EventHeldDown, failover.EventFailbackPending,
		failover.EventSwitchIntended, failover.EventSwitchResumed,
		failover.EventSwitchDone, failover.EventSwitchFailed,
		failover.EventStateReset, failover.EventAddressChanged,
		failover.EventActiveChanged,
	}
}
