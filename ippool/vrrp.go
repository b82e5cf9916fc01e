package ippool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
)

// ErrNotMaster is returned by [VRRP.Check] when this node is not the
// VRRP master.
var ErrNotMaster = errors.New("ippool: not the VRRP master")

// VRRPState is the state of a VRRP speaker (RFC 5798 section 6.4).
type VRRPState int

// The states of a speaker.
const (
	// VRRPInit: not running, or stopped.
	VRRPInit VRRPState = iota
	// VRRPBackup: watching the master's adverts; the VIPs are not here.
	VRRPBackup
	// VRRPMaster: sending adverts and holding the VIPs.
	VRRPMaster
)

func (s VRRPState) String() string {
	switch s {
	case VRRPBackup:
		return "backup"
	case VRRPMaster:
		return "master"
	default:
		return "init"
	}
}

// VRRPEvent is a state change of a speaker, delivered to
// VRRPConfig.OnEvent.
type VRRPEvent struct {
	Time     time.Time
	VRID     uint8
	From, To VRRPState
	// Reason says why, in a few words ("master down timer expired").
	Reason string
	// Peer is the sender of the advert that caused the change, if any.
	Peer netip.Addr
}

// DropReason classifies a received packet the speaker ignored.
type DropReason string

// Why packets are dropped. Every drop is logged (unknown VRIDs at Debug,
// the others at Warn) and counted in [VRRPStats].
const (
	DropMalformed DropReason = "malformed" // not a valid v3 advert: version, type, length, checksum
	DropTTL       DropReason = "ttl"       // TTL other than 255: sent from off-link
	DropVRID      DropReason = "vrid"      // another virtual router's advert
	DropSource    DropReason = "source"    // unicast mode: sender is not a configured peer
	DropCollision DropReason = "collision" // our VRID with other addresses: a VRID collision
)

// VRRPStats counts a speaker's traffic since it was created.
type VRRPStats struct {
	Sent, Received uint64
	Dropped        map[DropReason]uint64
}

// VRRPConfig configures a native VRRPv3 speaker for IPv4.
type VRRPConfig struct {
	// Self is this node's name, for Switch (required).
	Self string
	// Interface carries the VIPs and the adverts (required).
	Interface string
	// NetNS is the network namespace of Interface ("" for the current
	// one, a name from `ip netns add`, or a path).
	NetNS string
	// VRID is the virtual router ID, 1-255 (required); keepalived's
	// virtual_router_id.
	VRID uint8
	// Priority is 1-255 (default 100); 255 makes this node the address
	// owner, master from the start.
	Priority uint8
	// Advert is the advertisement interval, 10ms to 40.95s in steps of
	// 10ms (default 1s); keepalived's advert_int.
	Advert time.Duration
	// VIPs are the virtual addresses with their prefix lengths (at least
	// one, IPv4); keepalived's virtual_ipaddress.
	VIPs []netip.Prefix
	// SourceIP is the address adverts are sent from (default: the first
	// IPv4 address on Interface); keepalived's unicast_src_ip.
	SourceIP netip.Addr
	// Peers, when set, receive adverts by unicast and are the only
	// accepted senders; empty means multicast to 224.0.0.18.
	Peers []netip.Addr
	// NoPreempt keeps a backup from taking over from a lower-priority
	// master (keepalived's nopreempt). An address owner always preempts.
	NoPreempt bool
	// PreemptDelay holds preemption back until a lower-priority master
	// has been seen for this long (keepalived's preempt_delay).
	PreemptDelay time.Duration
	// Announce shapes the gratuitous ARP bursts sent on becoming master
	// (defaults: see Burst).
	Announce Burst
	// Logger receives transitions at Info and dropped packets at Warn or
	// Debug (nil: discard).
	Logger *slog.Logger
	// OnEvent, if set, is called with every state change, from the
	// speaker's goroutine: it must not block.
	OnEvent func(VRRPEvent)
}

// Validate checks the configuration.
func (c *VRRPConfig) Validate() error {
	var errs []error
	if c.Self == "" {
		errs = append(errs, errors.New("self (this node's name) is required"))
	}
	if c.Interface == "" {
		errs = append(errs, errors.New("interface is required"))
	}
	if c.VRID == 0 {
		errs = append(errs, errors.New("vrid must be 1-255"))
	}
	if c.Advert != 0 && (c.Advert < 10*time.Millisecond || c.Advert > maxAdvertCentis*10*time.Millisecond || c.Advert%(10*time.Millisecond) != 0) {
		errs = append(errs, fmt.Errorf("advert interval %s: must be 10ms..40.95s in steps of 10ms", c.Advert))
	}
	if len(c.VIPs) == 0 {
		errs = append(errs, errors.New("at least one virtual address is required"))
	}
	for _, p := range c.VIPs {
		if !p.IsValid() || !p.Addr().Unmap().Is4() {
			errs = append(errs, fmt.Errorf("virtual address %s: must be an IPv4 prefix", p))
		}
	}
	if len(c.VIPs) > 255 {
		errs = append(errs, errors.New("at most 255 virtual addresses"))
	}
	if c.SourceIP.IsValid() && !c.SourceIP.Unmap().Is4() {
		errs = append(errs, fmt.Errorf("source address %s: must be IPv4", c.SourceIP))
	}
	for _, p := range c.Peers {
		if !p.Unmap().Is4() {
			errs = append(errs, fmt.Errorf("peer %s: must be IPv4", p))
		}
	}
	if c.PreemptDelay < 0 {
		errs = append(errs, errors.New("preempt delay must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ippool: vrrp: %w", err)
	}
	return nil
}

// VRRP is a native VRRPv3 speaker (RFC 5798, IPv4) that interoperates
// with keepalived (vrrp_version 3): either may be master while the other
// is backup. Run speaks the protocol until Stop or until its context
// ends; the master holds the VIPs (added through [Link]) and announces
// them by gratuitous ARP.
//
// Stop is the graceful way out: a master sends a priority-0 advert, so a
// backup takes over after its skew time instead of a full
// master-down interval, and removes the VIPs. Cancelling Run's context
// instead abandons the router as a crash would: nothing more is sent and
// the VIPs stay. A speaker that starts removes stale VIPs it does not
// hold as master, so a restart after a crash cleans up.
//
// Received packets are validated (TTL 255, version 3, type, length,
// checksum over the IPv4 pseudo-header, VRID, address list, sender in
// unicast mode); anything else is logged, counted and ignored: it never
// changes state. An advert for our VRID with other addresses is reported
// as a VRID collision.
//
// VRRP is also a failover.Switcher: a switch to another node lowers this
// node's priority to 1 and, if master, resigns with a priority-0 advert;
// a switch to Self restores the configured priority, and a preempting
// backup then takes over. Check makes it a health.Checker that passes on
// the master. Methods may be called concurrently.
type VRRP struct {
	cfg VRRPConfig
	log *slog.Logger

	mu      sync.Mutex
	state   VRRPState
	demoted bool
	stats   VRRPStats
	running bool
	nudge   chan struct{} // priority changed
	stop    chan chan struct{}
	done    chan struct{}
}

var (
	_ failover.Switcher = (*VRRP)(nil)
	_ health.Checker    = (*VRRP)(nil)
)

// NewVRRP returns a speaker after validating cfg. It does not touch the
// network until Run.
func NewVRRP(cfg VRRPConfig) (*VRRP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Priority == 0 {
		cfg.Priority = 100
	}
	if cfg.Advert == 0 {
		cfg.Advert = time.Second
	}
	cfg.VIPs = slices.Clone(cfg.VIPs)
	for i, p := range cfg.VIPs {
		cfg.VIPs[i] = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &VRRP{
		cfg:   cfg,
		log:   log.With("vrid", cfg.VRID, "interface", cfg.Interface, "node", cfg.Self),
		stats: VRRPStats{Dropped: map[DropReason]uint64{}},
		nudge: make(chan struct{}, 1),
		stop:  make(chan chan struct{}),
	}, nil
}

// State returns the current state.
func (v *VRRP) State() VRRPState {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state
}

// Stats returns a copy of the packet counters.
func (v *VRRP) Stats() VRRPStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.stats
	s.Dropped = maps(v.stats.Dropped)
	return s
}

func maps(m map[DropReason]uint64) map[DropReason]uint64 {
	c := make(map[DropReason]uint64, len(m))
	for k, n := range m {
		c[k] = n
	}
	return c
}

// Check returns nil when this node is the master and ErrNotMaster
// otherwise, so that an arbiter can watch VRRP like any other check.
func (v *VRRP) Check(ctx context.Context) error {
	if s := v.State(); s != VRRPMaster {
		return fmt.Errorf("%w (vrid %d is %s here)", ErrNotMaster, v.cfg.VRID, s)
	}
	return nil
}

// Switch steers the virtual router: to Self restores the configured
// priority; to any other node lowers it to 1 and, when this node is
// master, resigns (priority-0 advert, VIPs removed) before returning. It
// is idempotent, and works whether or not Run is running (the priority
// then applies from the next Run).
func (v *VRRP) Switch(ctx context.Context, to failover.Node) error {
	demote := to.Name != v.cfg.Self
	v.mu.Lock()
	changed := v.demoted != demote
	v.demoted = demote
	running := v.running
	v.mu.Unlock()
	if !changed || !running {
		return nil
	}
	select {
	case v.nudge <- struct{}{}:
	default:
	}
	if !demote {
		return nil
	}
	// Wait until the loop has resigned: the switch is in effect here.
	t := time.NewTicker(v.cfg.Advert / 10)
	defer t.Stop()
	for v.State() == VRRPMaster {
		select {
		case <-ctx.Done():
			return fmt.Errorf("ippool: vrrp %d: resign: %w", v.cfg.VRID, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Stop stops a running speaker gracefully: a master sends a priority-0
// advert and removes its VIPs. It returns when Run has returned, or with
// ctx's error. Stopping a speaker that is not running does nothing.
func (v *VRRP) Stop(ctx context.Context) error {
	v.mu.Lock()
	running, done := v.running, v.done
	v.mu.Unlock()
	if !running {
		return nil
	}
	ack := make(chan struct{})
	select {
	case v.stop <- ack:
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ippool: vrrp %d: stop: %w", v.cfg.VRID, ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ippool: vrrp %d: stop: %w", v.cfg.VRID, ctx.Err())
	}
}

// Run speaks VRRP until Stop (it then returns nil) or until ctx ends (it
// returns ctx's error, leaving everything as a crash would). It fails at
// once if the interface cannot be opened or the raw socket needs a
// capability this process lacks (a *PermissionError naming CAP_NET_RAW
// or CAP_NET_ADMIN). Only one Run may be active at a time.
func (v *VRRP) Run(ctx context.Context) error {
	link, err := OpenLink(v.cfg.NetNS, v.cfg.Interface)
	if err != nil {
		return fmt.Errorf("vrrp %d: %w", v.cfg.VRID, err)
	}
	defer link.Close()
	src := v.cfg.SourceIP.Unmap()
	if !src.IsValid() {
		if src, err = link.FirstIPv4(); err != nil {
			return err
		}
	}
	sock, err := openVRRPSocket(link, len(v.cfg.Peers) == 0)
	if err != nil {
		return err
	}
	v.mu.Lock()
	if v.running {
		v.mu.Unlock()
		sock.Close()
		return fmt.Errorf("ippool: vrrp %d: already running", v.cfg.VRID)
	}
	v.running, v.done = true, make(chan struct{})
	done := v.done
	v.mu.Unlock()

	packets := make(chan ipPacket, 64)
	var readers sync.WaitGroup
	readers.Go(func() { v.read(sock, packets) })
	r := &vrrpRun{v: v, link: link, sock: sock, src: src}
	defer func() {
		sock.Close()
		readers.Wait()
		r.stopAnnouncing()
		v.mu.Lock()
		v.running = false
		v.mu.Unlock()
		close(done)
	}()
	return r.loop(ctx, packets)
}

// read feeds received packets to the loop until the socket is closed.
func (v *VRRP) read(sock *vrrpSocket, out chan<- ipPacket) {
	defer close(out)
	buf := make([]byte, 1500)
	for {
		n, err := sock.recv(buf)
		if err != nil {
			return // closed
		}
		p, err := parseIPv4(buf[:n])
		if err != nil {
			v.drop(DropMalformed, netip.Addr{}, err)
			continue
		}
		p.payload = slices.Clone(p.payload)
		out <- p
	}
}

func (v *VRRP) drop(why DropReason, from netip.Addr, err error) {
	v.mu.Lock()
	v.stats.Dropped[why]++
	v.mu.Unlock()
	lvl := slog.LevelWarn
	if why == DropVRID {
		lvl = slog.LevelDebug
	}
	msg := "VRRP packet ignored"
	if why == DropCollision {
		msg = "VRID collision: advert for our VRID with other addresses, ignored"
	}
	v.log.Log(context.Background(), lvl, msg, "reason", string(why), "from", from, "err", err)
}

// vrrpRun is the state of one Run, owned by its loop goroutine.
type vrrpRun struct {
	v    *VRRP
	link *Link
	sock *vrrpSocket
	src  netip.Addr

	timer       *time.Timer
	masterAdver time.Duration // Master_Adver_Interval
	lowerSince  time.Time     // when a lower-priority master was first seen (preempt_delay)
	announce    context.CancelFunc
	announcing  sync.WaitGroup
}

// priority is the priority in effect now.
func (r *vrrpRun) priority() uint8 {
	r.v.mu.Lock()
	defer r.v.mu.Unlock()
	if r.v.demoted {
		return 1
	}
	return r.v.cfg.Priority
}

func (r *vrrpRun) skew() time.Duration {
	return time.Duration(256-int(r.priority())) * r.masterAdver / 256
}

func (r *vrrpRun) masterDown() time.Duration { return 3*r.masterAdver + r.skew() }

func (r *vrrpRun) loop(ctx context.Context, packets <-chan ipPacket) error {
	cfg := &r.v.cfg
	r.masterAdver = cfg.Advert
	r.timer = time.NewTimer(time.Hour)
	defer r.timer.Stop()
	if r.priority() == 255 {
		r.becomeMaster("address owner (priority 255)", netip.Addr{})
	} else {
		r.becomeBackup("startup", netip.Addr{}, cfg.Advert)
	}
	for {
		select {
		case <-ctx.Done():
			r.setState(VRRPInit, "abandoned (context ended)", netip.Addr{})
			return ctx.Err()
		case ack := <-r.v.stop:
			if r.v.State() == VRRPMaster {
				r.send(0)
				r.stopAnnouncing()
				r.removeVIPs()
			}
			r.setState(VRRPInit, "stopped", netip.Addr{})
			close(ack)
			return nil
		case <-r.v.nudge:
			if r.v.State() == VRRPMaster && r.priority() == 1 && cfg.Priority != 1 {
				r.send(0)
				r.becomeBackup("resigned by switch", netip.Addr{}, r.masterAdver)
			}
		case <-r.timer.C:
			if r.v.State() == VRRPMaster {
				r.send(r.priority())
				r.timer.Reset(cfg.Advert)
			} else {
				r.becomeMaster("master down timer expired", netip.Addr{})
			}
		case p, ok := <-packets:
			if !ok {
				return fmt.Errorf("ippool: vrrp %d: socket on %s closed", cfg.VRID, r.link)
			}
			r.receive(p)
		}
	}
}

// receive validates p and runs the RFC 5798 rules for the current state.
func (r *vrrpRun) receive(p ipPacket) {
	v, cfg := r.v, &r.v.cfg
	if p.src == r.src {
		return // our own multicast, should loopback be on
	}
	if p.ttl != VRRPTTL {
		v.drop(DropTTL, p.src, fmt.Errorf("%w: TTL %d, want 255", ErrBadAdvert, p.ttl))
		return
	}
	adv, err := ParseAdvert(p.src, p.dst, p.payload)
	if err != nil {
		v.drop(DropMalformed, p.src, err)
		return
	}
	if adv.VRID != cfg.VRID {
		v.drop(DropVRID, p.src, fmt.Errorf("%w: VRID %d, ours is %d", ErrBadAdvert, adv.VRID, cfg.VRID))
		return
	}
	if len(cfg.Peers) > 0 && !slices.Contains(cfg.Peers, p.src) {
		v.drop(DropSource, p.src, fmt.Errorf("%w: sender is not a configured peer", ErrBadAdvert))
		return
	}
	if !sameAddrs(adv.Addrs, cfg.VIPs) {
		v.drop(DropCollision, p.src, fmt.Errorf("%w: addresses %v", ErrBadAdvert, adv.Addrs))
		return
	}
	v.mu.Lock()
	v.stats.Received++
	state := v.state
	v.mu.Unlock()
	prio := r.priority()
	switch state {
	case VRRPBackup:
		switch {
		case adv.Priority == 0:
			r.timer.Reset(r.skew())
		case cfg.NoPreempt && prio != 255 || adv.Priority >= prio || prio != 255 && r.preemptHeld(adv.Priority, prio):
			if adv.Priority >= prio {
				r.lowerSince = time.Time{}
			}
			r.masterAdver = adv.Interval
			r.timer.Reset(r.masterDown())
		default:
			// A lower-priority master and we preempt: let the master
			// down timer run out.
		}
	case VRRPMaster:
		switch {
		case adv.Priority == 0:
			r.send(prio)
			r.timer.Reset(cfg.Advert)
		case adv.Priority > prio || adv.Priority == prio && p.src.Compare(r.src) > 0:
			r.becomeBackup(fmt.Sprintf("advert with priority %d", adv.Priority), p.src, adv.Interval)
		}
	}
}

// preemptHeld reports whether preempt_delay still holds back preempting
// a lower-priority master.
func (r *vrrpRun) preemptHeld(theirs, ours uint8) bool {
	if r.v.cfg.PreemptDelay <= 0 || theirs >= ours {
		return false
	}
	now := time.Now()
	if r.lowerSince.IsZero() {
		r.lowerSince = now
	}
	return now.Sub(r.lowerSince) < r.v.cfg.PreemptDelay
}

func sameAddrs(got []netip.Addr, want []netip.Prefix) bool {
	if len(got) != len(want) {
		return false
	}
	for _, p := range want {
		if !slices.Contains(got, p.Addr()) {
			return false
		}
	}
	return true
}

func (r *vrrpRun) becomeMaster(reason string, peer netip.Addr) {
	cfg := &r.v.cfg
	for _, p := range cfg.VIPs {
		if _, err := r.link.AddAddress(p); err != nil {
			r.v.log.Error("adding virtual address failed", "vip", p, "err", err)
		}
	}
	r.send(r.priority())
	r.timer.Reset(cfg.Advert)
	r.lowerSince = time.Time{}
	r.setState(VRRPMaster, reason, peer)
	r.stopAnnouncing()
	actx, cancel := context.WithCancel(context.Background())
	r.announce = cancel
	for _, p := range cfg.VIPs {
		r.announcing.Go(func() {
			if err := r.link.AnnounceBursts(actx, p.Addr(), cfg.Announce); err != nil && actx.Err() == nil {
				r.v.log.Warn("gratuitous ARP failed", "vip", p, "err", err)
			}
		})
	}
}

func (r *vrrpRun) becomeBackup(reason string, peer netip.Addr, masterAdver time.Duration) {
	r.stopAnnouncing()
	r.removeVIPs()
	r.masterAdver = masterAdver
	r.timer.Reset(r.masterDown())
	r.setState(VRRPBackup, reason, peer)
}

func (r *vrrpRun) removeVIPs() {
	for _, p := range r.v.cfg.VIPs {
		removed, err := r.link.RemoveAddress(p)
		if err != nil {
			r.v.log.Error("removing virtual address failed", "vip", p, "err", err)
		} else if removed {
			r.v.log.Info("virtual address removed", "vip", p)
		}
	}
}

func (r *vrrpRun) stopAnnouncing() {
	if r.announce != nil {
		r.announce()
		r.announce = nil
	}
	r.announcing.Wait()
}

// send sends an advert with priority prio to the peers or the group.
func (r *vrrpRun) send(prio uint8) {
	cfg := &r.v.cfg
	adv := Advert{VRID: cfg.VRID, Priority: prio, Interval: cfg.Advert}
	for _, p := range cfg.VIPs {
		adv.Addrs = append(adv.Addrs, p.Addr())
	}
	dsts := cfg.Peers
	if len(dsts) == 0 {
		dsts = []netip.Addr{VRRPGroup}
	}
	for _, dst := range dsts {
		b, err := adv.Marshal(r.src, dst)
		if err == nil {
			err = r.sock.send(r.src, dst, b)
		}
		if err != nil {
			r.v.log.Warn("sending VRRP advert failed", "to", dst, "err", err)
			continue
		}
		r.v.mu.Lock()
		r.v.stats.Sent++
		r.v.mu.Unlock()
	}
}

func (r *vrrpRun) setState(to VRRPState, reason string, peer netip.Addr) {
	v := r.v
	v.mu.Lock()
	from := v.state
	v.state = to
	v.mu.Unlock()
	if from == to {
		return
	}
	v.log.Info("VRRP state change", "from", from.String(), "to", to.String(), "reason", reason)
	if v.cfg.OnEvent != nil {
		v.cfg.OnEvent(VRRPEvent{Time: time.Now(), VRID: v.cfg.VRID, From: from, To: to, Reason: reason, Peer: peer})
	}
}
