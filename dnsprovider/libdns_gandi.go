package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/libdns/gandi"
	"github.com/libdns/libdns"
)

// Gandi is a libdns provider for Gandi LiveDNS built on
// github.com/libdns/gandi v1.1.0, adjusted to libdns's documented
// contract, which that version does not follow in two places:
//
//   - its SetRecords adds the value to the RRset instead of replacing
//     the RRset; Gandi.SetRecords writes the new values first (one PUT
//     of old+new) and then removes the old ones (one PUT of what is
//     left), so the name is never without a record;
//   - its DeleteRecords fails on records that are not there; here they
//     are ignored, and empty Type, TTL or Data match anything.
//
// Errors carry the HTTP status as an [*APIError] (libdns/gandi only puts
// it in the text, which is read back from there); Retry-After is not
// available through it. libdns/gandi sends its requests with
// http.DefaultClient to https://api.gandi.net and has no client option,
// so timeouts come from the context. The token is sent as
// "Authorization: Bearer" (a personal access token) and never appears in
// errors. Calls are serialised per Gandi value.
type Gandi struct {
	mu sync.Mutex
	p  *gandi.Provider
}

var (
	_ libdns.RecordGetter   = (*Gandi)(nil)
	_ libdns.RecordAppender = (*Gandi)(nil)
	_ libdns.RecordSetter   = (*Gandi)(nil)
	_ libdns.RecordDeleter  = (*Gandi)(nil)
)

// NewGandi returns a provider using the LiveDNS personal access token.
func NewGandi(token string) (*Gandi, error) {
	if token == "" {
		return nil, errors.New("gandi: empty token")
	}
	return &Gandi{p: &gandi.Provider{BearerToken: token}}, nil
}

// gandiStatus finds the status libdns/gandi writes into its errors.
var gandiStatus = regexp.MustCompile(`LiveDNS returned a (\d{3}) `)

func gandiErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if m := gandiStatus.FindStringSubmatch(err.Error()); m != nil {
		code, _ := strconv.Atoi(m[1])
		return &APIError{Provider: "gandi", Op: op, Status: code, Err: err}
	}
	return fmt.Errorf("gandi: %s: %w", op, err)
}

// GetRecords returns every record of the zone, as libdns's typed structs
// with names relative to the zone.
func (g *Gandi) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.get(ctx, zone)
}

func (g *Gandi) get(ctx context.Context, zone string) ([]libdns.Record, error) {
	recs, err := g.p.GetRecords(ctx, zone)
	if err != nil {
		return nil, gandiErr("get records in "+zone, err)
	}
	return typed(recs), nil
}

// AppendRecords adds the records. As LiveDNS keeps one TTL per RRset,
// the RRset takes the TTL of the last record added to it.
func (g *Gandi) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.p.AppendRecords(ctx, zone, relative(recs)); err != nil {
		return nil, gandiErr("append records in "+zone, err)
	}
	return typed(recs), nil
}

// SetRecords makes each input RRset hold exactly the input records: it
// adds what is missing (and sets the TTL), then removes the rest.
func (g *Gandi) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, err := g.get(ctx, zone)
	if err != nil {
		return nil, err
	}
	for _, grp := range groupRRsets(relative(recs)) {
		old := filterRRset(cur, grp[0].RR().Name, grp[0].RR().Type)
		if sameRRset(old, grp) {
			continue
		}
		if _, err := g.p.AppendRecords(ctx, zone, grp); err != nil {
			return nil, gandiErr("set records in "+zone, err)
		}
		var stale []libdns.Record
		for _, o := range old {
			if !containsData(grp, o.RR().Data) {
				stale = append(stale, o)
			}
		}
		if len(stale) > 0 {
			if _, err := g.p.DeleteRecords(ctx, zone, stale); err != nil {
				return nil, gandiErr("remove old records in "+zone, err)
			}
		}
	}
	return typed(recs), nil
}

// DeleteRecords removes the records that exist and match (empty Type,
// TTL or Data match anything) and returns them.
func (g *Gandi) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, err := g.get(ctx, zone)
	if err != nil {
		return nil, err
	}
	del := matching(cur, relative(recs))
	if len(del) == 0 {
		return nil, nil
	}
	if _, err := g.p.DeleteRecords(ctx, zone, del); err != nil {
		return nil, gandiErr("delete records in "+zone, err)
	}
	return del, nil
}
