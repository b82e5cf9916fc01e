package ippool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// VIPConfig configures a local virtual IP.
type VIPConfig struct {
	// Self is the name of the node this process runs on (required). A
	// switch to Self claims the address; a switch to any other node
	// releases it here.
	Self string
	// Interface carries the address, for example eth0 (required).
	Interface string
	// Address is the virtual address with its prefix length, for example
	// 192.168.69.100/24 (required).
	Address netip.Prefix
	// NetNS is the network namespace of Interface: "" for the current
	// one, a name from `ip netns add`, or a path to a namespace file.
	NetNS string
	// Announce shapes the gratuitous ARP / neighbour advertisement bursts
	// sent after claiming (defaults: see Burst). The first burst is sent
	// before Switch returns, the others in the background.
	Announce Burst
	// ProbeTimeout is how long an IPv4 ARP probe waits for another host to
	// answer for Address before claiming it (default 300ms).
	ProbeTimeout time.Duration
	// NoProbe skips the ARP probe. IPv6 addresses are never probed.
	NoProbe bool
	// Logger receives transitions at Info (nil: discard).
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c *VIPConfig) Validate() error {
	var errs []error
	if c.Self == "" {
		errs = append(errs, errors.New("self (this node's name) is required"))
	}
	if c.Interface == "" {
		errs = append(errs, errors.New("interface is required"))
	}
	if !c.Address.IsValid() {
		errs = append(errs, errors.New("address (with prefix length) is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ippool: vip: %w", err)
	}
	return nil
}

// VIP is a virtual IP address on a local interface: the Heartbeat
// article's IPaddr::192.168.69.100, keepalived's virtual_ipaddress. It is
// a failover.Switcher for the node it runs on, and a group Step.
//
// Claiming (a switch to Self, or Takeover) probes the address by ARP and
// refuses it with ErrAddressInUse if another host answers, adds it by
// netlink, checks that it is there, and announces it. Releasing (a switch
// to another node, or Release) removes it if present: this is also how a
// stale copy left by a crashed holder is cleaned up, because every node
// that is not the holder runs the release. Both are idempotent. Calls are
// serialised; Close stops background announcements.
type VIP struct {
	cfg VIPConfig
	log *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc // of the background announcements
	wg     sync.WaitGroup
}

var (
	_ failover.Switcher = (*VIP)(nil)
	_ Step              = (*VIP)(nil)
)

// NewVIP returns a VIP after validating cfg. It does not touch the
// interface: a missing interface is reported by the first switch.
func NewVIP(cfg VIPConfig) (*VIP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 300 * time.Millisecond
	}
	cfg.Address = netip.PrefixFrom(cfg.Address.Addr().Unmap(), cfg.Address.Bits())
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &VIP{cfg: cfg, log: log.With("vip", cfg.Address.String(), "interface", cfg.Interface)}, nil
}

// Switch claims the address when to is this node and releases it
// otherwise.
func (v *VIP) Switch(ctx context.Context, to failover.Node) error {
	if to.Name == v.cfg.Self {
		return v.Takeover(ctx)
	}
	return v.Release(ctx)
}

// Takeover claims the address on this node.
func (v *VIP) Takeover(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopAnnouncing()
	l, err := OpenLink(v.cfg.NetNS, v.cfg.Interface)
	if err != nil {
		return fmt.Errorf("vip %s: %w", v.cfg.Address, err)
	}
	defer l.Close()
	addr := v.cfg.Address.Addr()
	has, err := l.HasAddress(addr)
	if err != nil {
		return err
	}
	if !has {
		if addr.Is4() && !v.cfg.NoProbe {
			if err := l.Probe(ctx, addr, v.cfg.ProbeTimeout); err != nil {
				return err
			}
		}
		if _, err := l.AddAddress(v.cfg.Address); err != nil {
			return err
		}
		if has, err = l.HasAddress(addr); err != nil {
			return err
		} else if !has {
			return fmt.Errorf("ippool: %s added to %s but not listed afterwards", v.cfg.Address, l)
		}
		v.log.Info("virtual IP claimed", "node", v.cfg.Self)
	}
	// Announce even when the address was already here: a switch is
	// retried or resumed because something doubted it, and announcing
	// again is harmless.
	if err := l.Announce(ctx, addr, v.cfg.Announce); err != nil {
		return err
	}
	b := v.cfg.Announce.withDefaults()
	if b.Repeats > 1 {
		bctx, cancel := context.WithCancel(context.Background())
		v.cancel = cancel
		v.wg.Go(func() {
			later := b
			later.Repeats--
			if err := sleepCtx(bctx, b.Delay); err != nil {
				return
			}
			l, err := OpenLink(v.cfg.NetNS, v.cfg.Interface)
			if err != nil {
				v.log.Warn("later announcement skipped", "err", err)
				return
			}
			defer l.Close()
			if err := l.AnnounceBursts(bctx, addr, later); err != nil && bctx.Err() == nil {
				v.log.Warn("later announcement failed", "err", err)
			}
		})
	}
	return nil
}

// Release removes the address from this node if it is here.
func (v *VIP) Release(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopAnnouncing()
	l, err := OpenLink(v.cfg.NetNS, v.cfg.Interface)
	if err != nil {
		return fmt.Errorf("vip %s: %w", v.cfg.Address, err)
	}
	defer l.Close()
	removed, err := l.RemoveAddress(v.cfg.Address)
	if err != nil {
		return err
	}
	if removed {
		v.log.Info("virtual IP released", "node", v.cfg.Self)
	}
	return nil
}

// Held reports whether the address is on this node's interface.
func (v *VIP) Held(ctx context.Context) (bool, error) {
	l, err := OpenLink(v.cfg.NetNS, v.cfg.Interface)
	if err != nil {
		return false, fmt.Errorf("vip %s: %w", v.cfg.Address, err)
	}
	defer l.Close()
	return l.HasAddress(v.cfg.Address.Addr())
}

// Close stops background announcements and waits for them. The address
// is left as it is.
func (v *VIP) Close() error {
	v.mu.Lock()
	v.stopAnnouncing()
	v.mu.Unlock()
	return nil
}

// stopAnnouncing cancels and waits for the background bursts; v.mu held.
func (v *VIP) stopAnnouncing() {
	if v.cancel != nil {
		v.cancel()
		v.cancel = nil
	}
	v.wg.Wait()
}
