package ippool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"

	"github.com/understudy-ha/understudy/failover"
)

// DropletLabel is the failover.Node label that holds a node's droplet ID.
const DropletLabel = "droplet_id"

// DefaultMetadataURL is DigitalOcean's droplet metadata service.
const DefaultMetadataURL = "http://169.254.169.254"

// Reserved-IP errors.
var (
	// ErrNoDropletID: the target node has no valid droplet_id label.
	ErrNoDropletID = errors.New("ippool: node has no droplet_id label")
	// ErrActionFailed: DigitalOcean reported the assign action errored.
	ErrActionFailed = errors.New("ippool: reserved IP action errored")
)

// ReservedIPConfig configures a DigitalOcean reserved IP switcher.
type ReservedIPConfig struct {
	// IP is the reserved (formerly floating) IP (required).
	IP netip.Addr
	// MetadataURL is the base URL of the droplet metadata service
	// (default DefaultMetadataURL).
	MetadataURL string
	// NoMetadata skips the metadata check (for an arbiter that does not
	// run on a droplet).
	NoMetadata bool
	// Deadline bounds one Switch, retries included (default 30s: the
	// article's 10 tries 3 s apart).
	Deadline time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// retries (defaults 500ms and 5s). A 429's Retry-After is honoured
	// instead when present.
	MinBackoff, MaxBackoff time.Duration
	// PollInterval separates polls of an action's status (default 1s).
	PollInterval time.Duration
	// HTTPClient is used for the metadata service (default: a client
	// with a 2 s timeout). The API client is passed to NewReservedIP.
	HTTPClient *http.Client
	// Logger receives transitions at Info and retries at Debug (nil:
	// discard).
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c *ReservedIPConfig) Validate() error {
	if !c.IP.IsValid() {
		return errors.New("ippool: reserved ip: ip is required")
	}
	if c.MinBackoff < 0 || c.MaxBackoff < 0 || c.Deadline < 0 || c.PollInterval < 0 {
		return errors.New("ippool: reserved ip: durations must not be negative")
	}
	return nil
}

// ReservedIP assigns a DigitalOcean reserved IP to the droplet of the
// node traffic goes to (its droplet_id label): the article's
// notify_master script and assign-ip, done with retries and checks.
//
// Switch first asks the metadata service whether this droplet is the
// target and already holds the IP, then the API (GET
// /v2/reserved_ips/{ip}); if the IP is already on the target it returns
// at once, so Switch is idempotent and cheap to repeat. Otherwise it
// posts an assign action, polls it until it completes, and reads the IP
// back to verify. Rate limits (429, honouring Retry-After), server errors
// (5xx), errored actions and network errors are retried with exponential
// backoff until Deadline; 401, 403, 404, 422 and other client errors are
// returned at once and unwrap to *godo.ErrorResponse. The API token lives
// in the *godo.Client and never appears in logs or errors. Switch may be
// called concurrently, though the arbiter does not.
type ReservedIP struct {
	api *godo.Client
	cfg ReservedIPConfig
	log *slog.Logger
}

var _ failover.Switcher = (*ReservedIP)(nil)

// NewReservedIP returns a switcher using client (see NewGodoClient).
func NewReservedIP(client *godo.Client, cfg ReservedIPConfig) (*ReservedIP, error) {
	if client == nil {
		return nil, errors.New("ippool: reserved ip: nil godo client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MetadataURL == "" {
		cfg.MetadataURL = DefaultMetadataURL
	}
	cfg.MetadataURL = strings.TrimRight(cfg.MetadataURL, "/")
	if cfg.Deadline == 0 {
		cfg.Deadline = 30 * time.Second
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &ReservedIP{api: client, cfg: cfg, log: log.With("reserved_ip", cfg.IP.String())}, nil
}

// NewGodoClient returns a godo client that authenticates with token and
// talks to baseURL ("" for the real API), with godo's own retries off
// (ReservedIP retries by itself, under its deadline). hc may be nil.
func NewGodoClient(token, baseURL string, hc *http.Client) (*godo.Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	authed := *hc
	base := authed.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	auth := &bearer{token: strings.TrimSpace(token), next: base}
	authed.Transport = auth
	var opts []godo.ClientOpt
	if baseURL != "" {
		opts = append(opts, godo.SetBaseURL(baseURL))
	}
	c, err := godo.New(&authed, opts...)
	if err != nil {
		return nil, fmt.Errorf("ippool: godo client: %w", err)
	}
	auth.host = c.BaseURL.Host
	return c, nil
}

// bearer adds the token to requests for the API's host only: a redirect
// elsewhere is followed without it.
type bearer struct {
	token string
	host  string
	next  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != b.host {
		return b.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// Switch assigns the IP to to's droplet.
func (r *ReservedIP) Switch(ctx context.Context, to failover.Node) error {
	id, err := strconv.Atoi(to.Labels[DropletLabel])
	if err != nil || id <= 0 {
		return fmt.Errorf("%w: node %s (%q)", ErrNoDropletID, to.Name, to.Labels[DropletLabel])
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Deadline)
	defer cancel()
	if !r.cfg.NoMetadata && r.metadataSaysAssigned(ctx, id) {
		r.log.Debug("metadata: already assigned here", "droplet", id)
		return nil
	}
	backoff := r.cfg.MinBackoff
	var last error // of the previous attempt, kept for the give-up message
	for attempt := 1; ; attempt++ {
		err := r.assign(ctx, id)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && last != nil {
			return fmt.Errorf("reserved ip %s to droplet %d: gave up after %d attempts (%w): %w", r.cfg.IP, id, attempt, ctx.Err(), last)
		}
		wait, retry := r.retryable(err, backoff)
		if !retry {
			return fmt.Errorf("reserved ip %s to droplet %d: %w", r.cfg.IP, id, err)
		}
		last = err
		r.log.Debug("retrying", "droplet", id, "attempt", attempt, "wait", wait, "err", err)
		if serr := sleepCtx(ctx, wait); serr != nil {
			return fmt.Errorf("reserved ip %s to droplet %d: gave up after %d attempts (%w): %w", r.cfg.IP, id, attempt, serr, err)
		}
		backoff = min(backoff*2, r.cfg.MaxBackoff)
	}
}

// assign does one round: read, assign if needed, poll, verify.
func (r *ReservedIP) assign(ctx context.Context, id int) error {
	cur, err := r.Current(ctx)
	if err != nil {
		return err
	}
	if cur == id {
		return nil
	}
	action, _, err := r.api.ReservedIPActions.Assign(ctx, r.cfg.IP.String(), id)
	if err != nil {
		return fmt.Errorf("assign: %w", err)
	}
	r.log.Info("assign action started", "from", cur, "to", id, "action", action.ID)
	for action.Status != godo.ActionCompleted {
		if action.Status == "errored" {
			return fmt.Errorf("%w: action %d", ErrActionFailed, action.ID)
		}
		if err := sleepCtx(ctx, r.cfg.PollInterval); err != nil {
			return fmt.Errorf("poll action %d: %w", action.ID, err)
		}
		next, _, err := r.api.ReservedIPActions.Get(ctx, r.cfg.IP.String(), action.ID)
		if err != nil {
			if _, retry := r.retryable(err, 0); retry {
				continue // keep polling the same action
			}
			return fmt.Errorf("poll action %d: %w", action.ID, err)
		}
		action = next
	}
	cur, err = r.Current(ctx)
	if err != nil {
		return err
	}
	if cur != id {
		return fmt.Errorf("action %d completed but the IP is on droplet %d", action.ID, cur)
	}
	r.log.Info("reserved IP assigned", "to", id)
	return nil
}

// Current returns the ID of the droplet holding the IP (0 if none).
func (r *ReservedIP) Current(ctx context.Context) (int, error) {
	rip, _, err := r.api.ReservedIPs.Get(ctx, r.cfg.IP.String())
	if err != nil {
		return 0, fmt.Errorf("get: %w", err)
	}
	if rip.Droplet == nil {
		return 0, nil
	}
	return rip.Droplet.ID, nil
}

// retryable says whether err is worth another attempt and how long to
// wait first.
func (r *ReservedIP) retryable(err error, backoff time.Duration) (time.Duration, bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	// Full jitter on the upper half, so two nodes do not retry in step.
	wait := backoff/2 + rand.N(backoff/2+1)
	var er *godo.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return wait, true // network error, errored action, failed verify
	}
	switch code := er.Response.StatusCode; {
	case code == http.StatusTooManyRequests:
		if d, ok := retryAfter(er.Response.Header.Get("Retry-After")); ok {
			return d, true
		}
		return wait, true
	case code >= 500:
		return wait, true
	default:
		return 0, false
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// metadataSaysAssigned asks the metadata service whether this droplet is
// id and holds the IP. Any failure means "don't know": the API decides.
func (r *ReservedIP) metadataSaysAssigned(ctx context.Context, id int) bool {
	get := func(path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.MetadataURL+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := r.cfg.HTTPClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("metadata %s: %s", path, resp.Status)
		}
		return strings.TrimSpace(string(b)), nil
	}
	self, err := get("/metadata/v1/id")
	if err != nil || self != strconv.Itoa(id) {
		if err != nil {
			r.log.Debug("metadata unavailable", "err", err)
		}
		return false
	}
	active, err := get("/metadata/v1/reserved_ip/ipv4/active")
	if err != nil || active != "true" {
		return false
	}
	addr, err := get("/metadata/v1/reserved_ip/ipv4/ip_address")
	return err == nil && addr == r.cfg.IP.String()
}
