package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/digitalocean/godo"
	"github.com/libdns/digitalocean"
	"github.com/libdns/libdns"
)

// DigitalOcean is a libdns provider for DigitalOcean's DNS built on
// github.com/libdns/digitalocean (and godo), adjusted to libdns's
// documented contract, which that version does not follow:
//
//   - its SetRecords only edits records it is given with their
//     DigitalOcean ID and fails on any other; DigitalOcean.SetRecords
//     looks the RRset up, edits records whose data stays (for the TTL),
//     creates the new ones, and only then deletes the old ones, so the
//     name is never without a record;
//   - its listing drops the priority of MX and SRV records (and their
//     weight and port), so their data does not parse; GetRecords here
//     lists through godo itself and keeps them (writing MX or SRV
//     records still goes through libdns/digitalocean and loses them:
//     use it for A, AAAA, TXT, CNAME);
//   - its DeleteRecords needs IDs too; here records are matched as libdns
//     documents (empty Type, TTL or Data match anything) and missing
//     ones are ignored.
//
// The godo client is built here with the given *http.Client and without
// godo's own retries (libdns/digitalocean would make one with four
// hidden retries of up to 30 s each): the [Libdns] switcher retries,
// honouring Retry-After. Errors carry the HTTP status as an [*APIError].
// The token is sent as "Authorization: Bearer" and never appears in
// errors. Calls are serialised per DigitalOcean value.
type DigitalOcean struct {
	mu sync.Mutex
	p  *digitalocean.Provider
	gc *godo.Client
}

var (
	_ libdns.RecordGetter   = (*DigitalOcean)(nil)
	_ libdns.RecordAppender = (*DigitalOcean)(nil)
	_ libdns.RecordSetter   = (*DigitalOcean)(nil)
	_ libdns.RecordDeleter  = (*DigitalOcean)(nil)
)

// bearer adds the token to requests for the API's host only: a redirect
// elsewhere is followed without it.
type bearer struct {
	token string
	host  string
	base  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	base := b.base
	if base == nil {
		base = http.DefaultTransport
	}
	if r.URL.Host != b.host {
		return base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return base.RoundTrip(r)
}

// NewDigitalOcean returns a provider using the API token. client carries
// the requests (nil: a client on http.DefaultTransport).
func NewDigitalOcean(token string, client *http.Client) (*DigitalOcean, error) {
	if token == "" {
		return nil, errors.New("digitalocean: empty token")
	}
	var base http.RoundTripper
	hc := &http.Client{}
	if client != nil {
		base = client.Transport
		hc.Timeout = client.Timeout
	}
	auth := &bearer{token: token, base: base}
	hc.Transport = auth
	gc, err := godo.New(hc)
	if err != nil {
		return nil, fmt.Errorf("digitalocean: %w", err)
	}
	auth.host = gc.BaseURL.Host
	p := &digitalocean.Provider{APIToken: token}
	if err := setGodoClient(p, gc); err != nil {
		return nil, err
	}
	return &DigitalOcean{p: p, gc: gc}, nil
}

// setGodoClient puts gc into the provider's unexported client field,
// which libdns/digitalocean offers no other way to set. The field's name
// and type are checked, so a new version of the package that changes
// them makes NewDigitalOcean fail instead of misbehaving.
func setGodoClient(p *digitalocean.Provider, gc *godo.Client) error {
	f := reflect.ValueOf(p).Elem().FieldByName("Client")
	if f.IsValid() {
		f = f.FieldByName("client")
	}
	if !f.IsValid() || f.Type() != reflect.TypeOf(gc) {
		return errors.New("digitalocean: libdns/digitalocean has no Client.client *godo.Client field; this version is not supported")
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(gc))
	return nil
}

func doErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		e := &APIError{Provider: "digitalocean", Op: op, Status: er.Response.StatusCode, Err: err}
		e.RetryAfter = parseRetryAfter(er.Response.Header, time.Now())
		if e.RetryAfter == 0 && e.Status == http.StatusTooManyRequests {
			if reset, err := strconv.ParseInt(er.Response.Header.Get("Ratelimit-Reset"), 10, 64); err == nil {
				e.RetryAfter = min(max(time.Until(time.Unix(reset, 0)), 0), 5*time.Minute)
			}
		}
		return e
	}
	return fmt.Errorf("digitalocean: %s: %w", op, err)
}

// raw lists the zone, every page, with DigitalOcean's IDs. It calls
// godo itself rather than libdns/digitalocean, whose listing drops the
// priority, weight and port of MX and SRV records (their data would not
// parse); the pagination is the same (follow links.pages.next).
func (d *DigitalOcean) raw(ctx context.Context, zone string) ([]libdns.Record, error) {
	domain := strings.TrimSuffix(zone, ".")
	opt := &godo.ListOptions{PerPage: 20}
	var out []libdns.Record
	for {
		recs, resp, err := d.gc.Domains.Records(ctx, domain, opt)
		if err != nil {
			return nil, doErr("get records in "+zone, err)
		}
		for _, r := range recs {
			data := r.Data
			switch r.Type {
			case "MX":
				data = fmt.Sprintf("%d %s", r.Priority, r.Data)
			case "SRV":
				data = fmt.Sprintf("%d %d %d %s", r.Priority, r.Weight, r.Port, r.Data)
			}
			out = append(out, digitalocean.DNS{
				Record: libdns.RR{Name: r.Name, Type: r.Type, Data: data, TTL: time.Duration(r.TTL) * time.Second},
				ID:     strconv.Itoa(r.ID),
			})
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			return out, nil
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, fmt.Errorf("digitalocean: get records in %s: pagination: %w", zone, err)
		}
		opt.Page = page + 1
	}
}

// GetRecords returns every record of the zone (every page), as libdns's
// typed structs with names relative to the zone.
func (d *DigitalOcean) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	recs, err := d.raw(ctx, zone)
	if err != nil {
		return nil, err
	}
	return typed(recs), nil
}

// AppendRecords creates the records.
func (d *DigitalOcean) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, err := d.p.AppendRecords(ctx, zone, relative(recs))
	if err != nil {
		return nil, doErr("append records in "+zone, err)
	}
	return typed(out), nil
}

// SetRecords makes each input RRset hold exactly the input records:
// it edits or creates records first, then deletes the ones left over.
func (d *DigitalOcean) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, err := d.raw(ctx, zone)
	if err != nil {
		return nil, err
	}
	for _, grp := range groupRRsets(relative(recs)) {
		old := filterRRset(cur, grp[0].RR().Name, grp[0].RR().Type)
		used := make([]bool, len(old))
		for _, w := range grp {
			wr := w.RR()
			i := -1
			for j, o := range old {
				if !used[j] && o.RR().Data == wr.Data {
					i = j
					break
				}
			}
			if i < 0 {
				if _, err := d.p.AppendRecords(ctx, zone, []libdns.Record{wr}); err != nil {
					return nil, doErr("create record in "+zone, err)
				}
				continue
			}
			used[i] = true
			if old[i].RR().TTL/time.Second != wr.TTL/time.Second {
				o, ok := old[i].(digitalocean.DNS)
				if !ok {
					return nil, fmt.Errorf("digitalocean: record %v has no ID", old[i].RR())
				}
				edit := digitalocean.DNS{Record: wr, ID: o.ID}
				if _, err := d.p.SetRecords(ctx, zone, []libdns.Record{edit}); err != nil {
					return nil, doErr("edit record in "+zone, err)
				}
			}
		}
		var stale []libdns.Record
		for j, o := range old {
			if !used[j] {
				stale = append(stale, o)
			}
		}
		if len(stale) > 0 {
			if _, err := d.p.DeleteRecords(ctx, zone, stale); err != nil {
				return nil, doErr("delete old records in "+zone, err)
			}
		}
	}
	return typed(recs), nil
}

// DeleteRecords removes the records that exist and match (empty Type,
// TTL or Data match anything) and returns them.
func (d *DigitalOcean) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, err := d.raw(ctx, zone)
	if err != nil {
		return nil, err
	}
	del := matching(cur, relative(recs))
	if len(del) == 0 {
		return nil, nil
	}
	if _, err := d.p.DeleteRecords(ctx, zone, del); err != nil {
		return nil, doErr("delete records in "+zone, err)
	}
	return typed(del), nil
}
