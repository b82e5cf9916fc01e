package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// ErrSourceUnavailable means the address source gave no address: the
// "what is my address" service did not answer, or the interface has no
// address of the family. No record is touched.
var ErrSourceUnavailable = errors.New("dnsprovider: address source unavailable")

// ErrWrongFamily means the source's address is not of the family the
// record wants (an IPv6 address for an A record).
var ErrWrongFamily = errors.New("dnsprovider: address of the wrong family")

// ErrHook means the record was updated but the hook failed.
var ErrHook = errors.New("dnsprovider: ddns hook failed")

// AddrSource finds this host's current address.
type AddrSource interface {
	Addr(ctx context.Context) (netip.Addr, error)
}

// HTTPSource asks a "what is my address" web service, the way the
// article's script used checkip.dyndns.com. The answer's body may be the
// bare address (ifconfig.me/ip, api.ipify.org) or a page holding it
// ("Current IP Address: 203.0.113.7"): the first address of the wanted
// family found in it is taken.
type HTTPSource struct {
	// URL is fetched with GET. Required.
	URL string
	// Family is "ipv4", "ipv6" or "" (either).
	Family string
	// Client makes the request (nil: a client with a 10 s timeout).
	Client *http.Client
}

var addrPattern = regexp.MustCompile(`[0-9A-Fa-f:.]{3,45}`)

// Addr fetches URL and returns the address it shows.
func (s HTTPSource) Addr(ctx context.Context) (netip.Addr, error) {
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %w", ErrSourceUnavailable, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %w", ErrSourceUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: read %s: %w", ErrSourceUnavailable, s.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return netip.Addr{}, fmt.Errorf("%w: %s answered %s", ErrSourceUnavailable, s.URL, resp.Status)
	}
	var other netip.Addr
	for _, m := range addrPattern.FindAllString(string(body), -1) {
		a, err := netip.ParseAddr(strings.Trim(m, ".:"))
		if err != nil {
			continue
		}
		a = a.Unmap()
		if familyOK(a, s.Family) {
			return a, nil
		}
		other = a
	}
	if other.IsValid() {
		return netip.Addr{}, fmt.Errorf("%w: %s shows %s, want %s", ErrWrongFamily, s.URL, other, s.Family)
	}
	return netip.Addr{}, fmt.Errorf("%w: no address in the answer of %s", ErrSourceUnavailable, s.URL)
}

func familyOK(a netip.Addr, family string) bool {
	switch family {
	case "ipv4":
		return a.Is4()
	case "ipv6":
		return a.Is6()
	}
	return true
}

// InterfaceSource reads the address of a local network interface, for a
// host whose public address is on one of its own interfaces (PPPoE, a
// modem in bridge mode). Link-local addresses are skipped; a global
// unicast address is preferred.
type InterfaceSource struct {
	// Name is the interface ("ppp0"). Required.
	Name string
	// Family is "ipv4", "ipv6" or "" (either).
	Family string
}

// Addr returns the interface's address.
func (s InterfaceSource) Addr(ctx context.Context) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(s.Name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: interface %q: %w", ErrSourceUnavailable, s.Name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: interface %q: %w", ErrSourceUnavailable, s.Name, err)
	}
	var best netip.Addr
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLinkLocalUnicast() || !familyOK(ip, s.Family) {
			continue
		}
		if ip.IsGlobalUnicast() && !ip.IsPrivate() {
			return ip, nil
		}
		if !best.IsValid() {
			best = ip
		}
	}
	if !best.IsValid() {
		return netip.Addr{}, fmt.Errorf("%w: interface %q has no %s address", ErrSourceUnavailable, s.Name, cmpOr(s.Family, "usable"))
	}
	return best, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ReportSwitcher is a switcher that says what it changed: [Libdns],
// [RFC2136] and [ZoneFile] are.
type ReportSwitcher interface {
	SwitchReport(ctx context.Context, to failover.Node) (Report, error)
}

// DDNSConfig configures a [DDNS] updater.
type DDNSConfig struct {
	// Source finds this host's address. Required.
	Source AddrSource
	// Record points the name at an address. Required.
	Record ReportSwitcher
	// Node names this host in the switch (default: the hostname).
	Node string
	// Family is "ipv4", "ipv6" or "" (either): an address of the other
	// family is refused with [ErrWrongFamily] and nothing is written.
	Family string
	// Hook is run (argv, no shell) after the record changed, with the
	// old address (first of them, "" if the name had none) and the new
	// one appended as two arguments, and UNDERSTUDY_OLD_ADDRESS (all old
	// addresses, comma-separated) and UNDERSTUDY_NEW_ADDRESS in its
	// environment. Empty: no hook.
	Hook []string
	// HookTimeout bounds the hook (default 60s).
	HookTimeout time.Duration
	// Runner runs the hook (nil: the real one).
	Runner cmdrun.Runner
	// Logger receives one Info record per change (nil: discard).
	Logger *slog.Logger
}

// DDNS is a dynamic DNS updater: the article's master-side cron script
// and its modified gandi.py. Update finds this host's address, points
// the record at it only when it differs, reports the old and new
// address and runs the hook. Safe for concurrent use, though two
// concurrent updates may both run the hook.
type DDNS struct {
	cfg DDNSConfig
	log *slog.Logger
}

// DDNSResult says what one update found and did.
type DDNSResult struct {
	// Old are the addresses the record had (empty if none).
	Old []netip.Addr
	// New is this host's address.
	New netip.Addr
	// Changed is true when the record was rewritten (the article's exit
	// status 34).
	Changed bool
}

// NewDDNS validates cfg and returns the updater.
func NewDDNS(cfg DDNSConfig) (*DDNS, error) {
	if cfg.Source == nil || cfg.Record == nil {
		return nil, errors.New("ddns: source and record are required")
	}
	switch cfg.Family {
	case "", "ipv4", "ipv6":
	default:
		return nil, fmt.Errorf("ddns: family %q: want ipv4, ipv6 or empty", cfg.Family)
	}
	if len(cfg.Hook) > 0 && cfg.Hook[0] == "" {
		return nil, errors.New("ddns: hook has an empty program")
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
	}
	if cfg.HookTimeout <= 0 {
		cfg.HookTimeout = time.Minute
	}
	if cfg.Runner == nil {
		cfg.Runner = cmdrun.Exec{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DDNS{cfg: cfg, log: log}, nil
}

// Update runs one round. When the source fails, nothing is written and
// the error wraps [ErrSourceUnavailable]. When the hook fails after a
// change, the result still says Changed and the error wraps [ErrHook].
func (d *DDNS) Update(ctx context.Context) (DDNSResult, error) {
	addr, err := d.cfg.Source.Addr(ctx)
	if err != nil {
		return DDNSResult{}, fmt.Errorf("ddns: %w", err)
	}
	if !familyOK(addr, d.cfg.Family) {
		return DDNSResult{New: addr}, fmt.Errorf("ddns: %w: source gave %s, want %s", ErrWrongFamily, addr, d.cfg.Family)
	}
	rep, err := d.cfg.Record.SwitchReport(ctx, failover.Node{Name: d.cfg.Node, Address: addr})
	res := DDNSResult{Old: rep.Previous, New: addr, Changed: rep.Changed}
	if err != nil {
		return res, fmt.Errorf("ddns: update record to %s: %w", addr, err)
	}
	if !res.Changed {
		return res, nil
	}
	d.log.Info("ddns address changed", "from", fmt.Sprint(res.Old), "to", addr.String())
	if len(d.cfg.Hook) == 0 {
		return res, nil
	}
	old := ""
	olds := make([]string, len(res.Old))
	for i, a := range res.Old {
		olds[i] = a.String()
	}
	if len(olds) > 0 {
		old = olds[0]
	}
	hctx, cancel := context.WithTimeout(ctx, d.cfg.HookTimeout)
	defer cancel()
	_, err = d.cfg.Runner.Run(hctx, cmdrun.Cmd{
		Path: d.cfg.Hook[0],
		Args: append(append([]string(nil), d.cfg.Hook[1:]...), old, addr.String()),
		Env:  []string{"UNDERSTUDY_OLD_ADDRESS=" + strings.Join(olds, ","), "UNDERSTUDY_NEW_ADDRESS=" + addr.String()},
	})
	if err != nil {
		return res, fmt.Errorf("ddns: %w: %w", ErrHook, err)
	}
	return res, nil
}
