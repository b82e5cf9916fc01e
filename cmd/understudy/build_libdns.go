package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/config"
)

func init() {
	extraCommands = append(extraCommands, command{
		name:        "ddns",
		summary:     "dynamic DNS: point ddns.record at this host's address if it moved; exit 34 when it changed",
		needsConfig: true,
		run:         cmdDDNS,
	})
}

// buildLibdns builds a libdns switcher for provider gandi, digitalocean
// or bind.
func buildLibdns(s config.Switcher, d deps) (failover.Switcher, error) {
	return newLibdns(s, d)
}

func newLibdns(s config.Switcher, d deps) (*dnsprovider.Libdns, error) {
	l := s.Libdns
	if l.Provider != "bind" && !l.Token.IsSet() {
		return nil, fmt.Errorf("provider %s needs token_file or token_env", l.Provider)
	}
	var p dnsprovider.LibdnsProvider
	var err error
	switch l.Provider {
	case "gandi":
		p, err = dnsprovider.NewGandi(l.Token.Reveal())
	case "digitalocean":
		p, err = dnsprovider.NewDigitalOcean(l.Token.Reveal(), nil)
	case "bind":
		bc := dnsprovider.BINDConfig{Server: l.Server, Timeout: s.Timeout}
		if l.TSIGKeyFile != "" {
			key, kerr := dnsprovider.LoadTSIGKey(l.TSIGKeyFile)
			if kerr != nil {
				return nil, kerr
			}
			bc.Key = &key
		}
		p, err = dnsprovider.NewBIND(bc)
	default:
		return nil, fmt.Errorf("unknown libdns provider %q", l.Provider)
	}
	if err != nil {
		return nil, err
	}
	return dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{
		Provider: p, ProviderName: l.Provider, Zone: l.Zone, Name: l.Name, TTL: l.TTL,
		Type: l.RecordType, AAAA: l.AAAA, Timeout: s.Timeout, Attempts: l.Attempts, Backoff: l.Backoff,
		Logger: d.log,
	})
}

// buildDDNS turns the ddns section into an updater.
func buildDDNS(c config.DDNS, d deps) (*dnsprovider.DDNS, error) {
	if !c.IsSet() {
		return nil, errors.New("no ddns section in the configuration")
	}
	var src dnsprovider.AddrSource
	switch {
	case c.SourceURL != "" && c.SourceInterface != "":
		return nil, fmt.Errorf("%s: give source_url or source_interface, not both", c.Pos)
	case c.SourceURL != "":
		src = dnsprovider.HTTPSource{URL: c.SourceURL, Family: c.Family}
	case c.SourceInterface != "":
		src = dnsprovider.InterfaceSource{Name: c.SourceInterface, Family: c.Family}
	default:
		return nil, fmt.Errorf("%s: ddns needs source_url or source_interface", c.Pos)
	}
	r := c.Record
	if r.Timeout == 0 {
		r.Timeout = config.DefaultSwitchTimeout
	}
	var rec dnsprovider.ReportSwitcher
	var err error
	switch {
	case r.Libdns != nil:
		rec, err = newLibdns(r, d)
	case r.RFC2136 != nil || r.ZoneFile != nil:
		var sw failover.Switcher
		sw, err = switcherBuilders[r.Type](r, d)
		if err == nil {
			rec = sw.(dnsprovider.ReportSwitcher)
		}
	default:
		return nil, fmt.Errorf("%s: ddns.record must be a libdns, rfc2136 or zonefile switcher", c.Pos)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: ddns.record: %w", c.Pos, err)
	}
	return dnsprovider.NewDDNS(dnsprovider.DDNSConfig{
		Source: src, Record: rec, Node: c.Node, Family: c.Family,
		Hook: c.Hook, HookTimeout: c.HookTimeout, Runner: d.runner, Logger: d.log,
	})
}

// exitChanged is the ddns command's status when the record changed: the
// 34 of the article's modified gandi.py, so that cron scripts written
// for it keep working.
const exitChanged = 34

// cmdDDNS runs one dynamic DNS round, printing "changed OLD NEW" when the
// record moved, and nothing otherwise (-v: "unchanged ADDR"), so that cron
// mails only changes.
func cmdDDNS(e *env, args []string) int {
	fs := newFlags(e, "ddns", "")
	verbose := fs.Bool("v", false, "also print the address when it did not change (otherwise silent, for cron)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	u, err := buildDDNS(e.app.cfg.DDNS, deps{log: e.app.log})
	if err != nil {
		fmt.Fprintln(e.stderr, "ddns:", err)
		return exitUsage
	}
	res, err := u.Update(e.ctx)
	if res.Changed {
		fmt.Fprintf(e.stdout, "changed %s %s\n", addrList(res.Old), res.New)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitFailure
	}
	if !res.Changed {
		if *verbose {
			fmt.Fprintf(e.stdout, "unchanged %s\n", res.New)
		}
		return exitOK
	}
	return exitChanged
}

func addrList(as []netip.Addr) string {
	if len(as) == 0 {
		return "-"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
