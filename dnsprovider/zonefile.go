package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
)

// ErrDynamicZone means rndc refused to reload the zone because it takes
// dynamic updates ("rndc: 'reload' failed: dynamic zone"). Such a zone
// needs ZoneFileConfig.Freeze, or the RFC2136 switcher.
var ErrDynamicZone = errors.New("dnsprovider: zone is dynamic; set Freeze or use RFC 2136")

// ZoneFileConfig configures a [ZoneFile] switcher.
type ZoneFileConfig struct {
	// Zone is the zone's name ("test.ru"), the default $ORIGIN of the
	// file and the argument to rndc. Required.
	Zone string
	// Name is the record's owner, relative ("www", "@") or absolute
	// within the zone. Default "@", the article's record.
	Name string
	// TTL, when set, is written into the record line and checked on
	// verification. Zero keeps the TTL the line has (the article's
	// "@ IN A 10.1.0.1" keeps inheriting $TTL): only the address changes.
	TTL time.Duration
	// File is the zone file's path. Required.
	File string
	// Rndc is the argv prefix of rndc, e.g. {"rndc", "-c",
	// "/etc/bind/rndc.conf"} or {"rndc", "-s", "127.0.0.1", "-p", "9953",
	// "-k", keyfile} (default {"rndc"}). The program is looked up in
	// $PATH and /usr/sbin when constructed. Keys go in files, never argv.
	Rndc []string
	// Freeze is for a zone that also takes dynamic updates: rndc freeze
	// before reading the file (named writes its journal into it) and
	// rndc thaw afterwards, which also reloads it. Thaw is run even when
	// the edit fails. rndc freeze returns before named has written the
	// journal into the file, so with Verify set the edit waits until the
	// file's serial is the one the first Verify server serves; without
	// Verify a freshly updated zone may lose its last dynamic updates.
	// Without Freeze such a zone's reload fails with [ErrDynamicZone].
	Freeze bool
	// Verify are servers (host:port) asked afterwards until they answer
	// the new address. Empty skips verification: Switch then returns once
	// rndc has queued the reload, and cannot notice that the file holds
	// the new address while named still serves the old one (a reload
	// that failed after the file was written, by hand or by a crash).
	Verify []string
	// Timeout bounds each rndc call and the verification of each server
	// (default 5s).
	Timeout time.Duration
	// AAAA also maintains the name's AAAA record from Node.Address6 (see
	// RFC2136Config.AAAA); the file must then hold one AAAA line too.
	AAAA bool
	// Runner runs rndc (nil: the real one).
	Runner cmdrun.Runner
	// Now is the clock for date serials (nil: time.Now).
	Now func() time.Time
	// Logger receives one Info record per rewrite (nil: discard).
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c ZoneFileConfig) Validate() error {
	if _, err := ownerName(c.Zone, c.Name); err != nil {
		return fmt.Errorf("zone file: %w", err)
	}
	if _, err := ttlSeconds(c.TTL); err != nil {
		return fmt.Errorf("zone file: %w", err)
	}
	if c.File == "" {
		return errors.New("zone file: no file")
	}
	if len(c.Rndc) > 0 && c.Rndc[0] == "" {
		return errors.New("zone file: empty rndc program")
	}
	for _, s := range c.Verify {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("zone file: verify server %q: want host:port: %w", s, err)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("zone file: negative timeout %v", c.Timeout)
	}
	return nil
}

// ZoneFile points a name at a node by rewriting its record in a BIND zone
// file and reloading the zone: the article's sed + restart, done so that
// only the record's line and the SOA serial change, the file is replaced
// atomically, and named is asked to reload just that zone.
//
// Switch is idempotent: when the file already holds the address, nothing
// is written and nothing reloaded (but the servers are still verified,
// and a server still serving the old data gets a reload). Calls are
// serialised.
type ZoneFile struct {
	mu      sync.Mutex
	cfg     ZoneFileConfig
	zone    string
	owner   string
	ttl     int64 // -1: keep
	rndc    []string
	timeout time.Duration
	run     cmdrun.Runner
	now     func() time.Time
	log     *slog.Logger
}

var _ failover.Switcher = (*ZoneFile)(nil)

// NewZoneFile validates cfg, resolves rndc and returns the switcher.
func NewZoneFile(cfg ZoneFileConfig) (*ZoneFile, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	z := &ZoneFile{cfg: cfg, timeout: cfg.Timeout, run: cfg.Runner, now: cfg.Now, log: cfg.Logger}
	z.zone = strings.TrimSuffix(dns.CanonicalName(cfg.Zone), ".")
	z.owner, _ = ownerName(cfg.Zone, cfg.Name)
	z.ttl = -1
	if cfg.TTL > 0 {
		s, _ := ttlSeconds(cfg.TTL)
		z.ttl = int64(s)
	}
	z.rndc = append([]string(nil), cfg.Rndc...)
	if len(z.rndc) == 0 {
		z.rndc = []string{"rndc"}
	}
	if !strings.Contains(z.rndc[0], "/") {
		p, err := cmdrun.LookPath(z.rndc[0]) // rndc lives in /usr/sbin
		switch {
		case err == nil:
			z.rndc[0] = p
		case cfg.Runner == nil:
			return nil, fmt.Errorf("zone file: %w", err)
		}
	}
	if z.timeout == 0 {
		z.timeout = 5 * time.Second
	}
	if z.run == nil {
		z.run = cmdrun.Exec{}
	}
	if z.now == nil {
		z.now = time.Now
	}
	if z.log == nil {
		z.log = slog.New(slog.DiscardHandler)
	}
	return z, nil
}

// Switch rewrites the record to node's address, reloads and verifies.
func (z *ZoneFile) Switch(ctx context.Context, to failover.Node) error {
	_, err := z.SwitchReport(ctx, to)
	return err
}

// SwitchReport is Switch, telling what it did.
func (z *ZoneFile) SwitchReport(ctx context.Context, to failover.Node) (rep Report, err error) {
	ws, err := wantsFor(to, z.cfg.AAAA)
	if err != nil {
		return Report{}, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	defer func() {
		if err != nil {
			err = fmt.Errorf("zone file %s: switch %s to %s: %w", z.cfg.File, z.owner, to.Name, err)
		}
	}()

	res, err := z.edit(ctx, ws)
	if err != nil {
		return Report{}, err
	}
	rep.Previous = res.previous
	if res.changed {
		rep.Changed, rep.Updated = true, []string{z.cfg.File}
		z.log.Info("zone file rewritten", "file", z.cfg.File, "name", z.owner,
			"from", fmt.Sprint(res.previous), "to", fmt.Sprint(ws), "serial", res.newSerial)
	}
	if len(z.cfg.Verify) == 0 {
		return rep, nil
	}
	if !res.changed && !z.cfg.Freeze && z.verifyAll(ctx, ws, false) != nil {
		// The file is right but named serves something else: a reload
		// was lost (a crash between write and reload). Reload now. (With
		// Freeze, the thaw has just reloaded the zone.)
		if err := z.rndcRun(ctx, "reload"); err != nil {
			return rep, err
		}
	}
	return rep, z.verifyAll(ctx, ws, true)
}

// edit changes the file and has named load it: freeze, rewrite, thaw;
// or rewrite, reload. With Freeze the thaw runs whatever happened, even
// when ctx is done: a zone left frozen refuses every dynamic update.
func (z *ZoneFile) edit(ctx context.Context, ws []want) (res rewriteResult, err error) {
	if z.cfg.Freeze {
		if err := z.rndcRun(ctx, "freeze"); err != nil {
			return rewriteResult{}, err
		}
		defer func() {
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.timeout)
			defer cancel()
			if terr := z.rndcRun(tctx, "thaw"); terr != nil {
				err = errors.Join(err, terr)
			}
		}()
		if err := z.waitDumped(ctx); err != nil {
			return rewriteResult{}, err
		}
	}
	res, err = z.rewrite(ws)
	if err != nil {
		return rewriteResult{}, err
	}
	if res.changed && !z.cfg.Freeze {
		if err := z.rndcRun(ctx, "reload"); err != nil {
			return rewriteResult{}, errors.Join(err, z.restore(res))
		}
	}
	return res, nil
}

// waitDumped waits until the frozen zone's file holds the serial the
// first Verify server serves. rndc freeze returns before named has
// finished writing its journal into the file (seen with BIND 9.18);
// editing the file earlier would lose the dynamic updates in the
// journal. Without Verify servers there is nothing to compare with, and
// this risk remains.
func (z *ZoneFile) waitDumped(ctx context.Context) error {
	if len(z.cfg.Verify) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, z.timeout)
	defer cancel()
	c := &dns.Client{Net: "tcp", Timeout: z.timeout}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		served, err := servedSerial(ctx, c, z.cfg.Verify[0], z.zone)
		if err == nil {
			var inFile uint32
			inFile, err = fileSerial(z.cfg.File, z.zone)
			if err == nil && inFile == served {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("file has serial %d, %s serves %d", inFile, z.cfg.Verify[0], served)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("frozen zone not written to its file: %w", err)
		case <-tick.C:
		}
	}
}

// servedSerial asks server for zone's SOA serial.
func servedSerial(ctx context.Context, c *dns.Client, server, zone string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return 0, fmt.Errorf("query %s SOA at %s: %w", zone, server, err)
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("query %s SOA at %s: no SOA (%s)", zone, server, dns.RcodeToString[r.Rcode])
}

// fileSerial reads the SOA serial of a zone file.
func fileSerial(path, zone string) (uint32, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	rrs, err := parseZoneText(string(src), dns.Fqdn(zone))
	if err != nil {
		return 0, err
	}
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("%w: no SOA record", ErrZoneSyntax)
}

// rewrite reads the file, rewrites it and writes it back atomically.
func (z *ZoneFile) rewrite(ws []want) (rewriteResult, error) {
	src, err := os.ReadFile(z.cfg.File)
	if err != nil {
		return rewriteResult{}, err
	}
	res, err := rewriteZone(src, z.zone, z.owner, ws, z.ttl, z.now())
	if err != nil {
		return rewriteResult{}, err
	}
	if !res.changed {
		return res, nil
	}
	if err := writeFileAtomic(z.cfg.File, res.out); err != nil {
		return rewriteResult{}, err
	}
	res.original = src
	return res, nil
}

// restore puts the original file back after a failed reload, so that the
// file again matches what named serves.
func (z *ZoneFile) restore(res rewriteResult) error {
	if err := writeFileAtomic(z.cfg.File, res.original); err != nil {
		return fmt.Errorf("restore original file: %w", err)
	}
	return nil
}

// rndcRun runs rndc VERB ZONE.
func (z *ZoneFile) rndcRun(ctx context.Context, verb string) error {
	ctx, cancel := context.WithTimeout(ctx, z.timeout)
	defer cancel()
	args := append(append([]string(nil), z.rndc[1:]...), verb, z.zone)
	_, err := z.run.Run(ctx, cmdrun.Cmd{Path: z.rndc[0], Args: args})
	if err == nil {
		return nil
	}
	var ce *cmdrun.Error
	if errors.As(err, &ce) && strings.Contains(ce.Stderr, "dynamic zone") {
		return fmt.Errorf("rndc %s %s: %w: %w", verb, z.zone, ErrDynamicZone, err)
	}
	return fmt.Errorf("rndc %s %s: %w", verb, z.zone, err)
}

// verifyAll verifies every Verify server, polling each until Timeout when
// poll is set, asking once otherwise.
func (z *ZoneFile) verifyAll(ctx context.Context, ws []want, poll bool) error {
	c := &dns.Client{Net: "tcp", Timeout: z.timeout}
	var errs []error
	for _, s := range z.cfg.Verify {
		if err := verify(ctx, c, s, z.owner, ws, z.ttl, z.timeout, poll); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, written and synced, given the original's mode and owner,
// renamed over the original, and the directory synced.
func writeFileAtomic(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".understudy-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(st.Mode() & fs.ModePerm); err != nil {
		return err
	}
	if sys, isUnix := st.Sys().(*syscall.Stat_t); isUnix {
		if err := f.Chown(int(sys.Uid), int(sys.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
