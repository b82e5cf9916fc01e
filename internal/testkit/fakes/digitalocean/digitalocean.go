// Package digitalocean fakes the DNS part of DigitalOcean's API v2
// (https://api.digitalocean.com/v2) at the HTTP level, for tests of code
// that uses github.com/libdns/digitalocean and godo.
//
// What it implements, following DigitalOcean's published API:
//
//	GET    /v2/domains/{domain}                       {"domain":{…}}
//	GET    /v2/domains/{domain}/records?page=&per_page=  {"domain_records":[…],"links":{"pages":{…}},"meta":{"total":n}}
//	POST   /v2/domains/{domain}/records               → 201 {"domain_record":{…}}
//	GET    /v2/domains/{domain}/records/{id}          {"domain_record":{…}}
//	PUT    /v2/domains/{domain}/records/{id}          → 200 {"domain_record":{…}}
//	DELETE /v2/domains/{domain}/records/{id}          → 204
//
// Requests must carry "Authorization: Bearer TOKEN"; an unknown token
// gets 401, a domain the token cannot see or does not exist 404, a bad
// record 422, each with DigitalOcean's body {"id":…,"message":…}. Lists
// are paginated (default 20 per page, at most 200) with absolute
// first/prev/next/last links, the way godo reads them. Names are
// relative ("@" for the apex); TTLs below 30 s are refused (422).
//
// Faults (429 with Retry-After and ratelimit headers, 500, delays,
// dropped connections) are injected with [Server.Faults].
package digitalocean

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/understudy-ha/understudy/internal/testkit/fakes/fakehttp"
)

// Host is the API host the fake stands for.
const Host = "api.digitalocean.com"

// Record is one domain record as the API shows it.
type Record struct {
	ID       int    `json:"id"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	Data     string `json:"data"`
	Priority int    `json:"priority"`
	Port     int    `json:"port"`
	TTL      int    `json:"ttl"`
	Weight   int    `json:"weight"`
	Flags    int    `json:"flags"`
	Tag      string `json:"tag"`
}

// Server is the fake API.
type Server struct {
	// HTTP is the TLS server standing in for api.digitalocean.com.
	HTTP *fakehttp.Server
	// Faults are injected in front of the API.
	Faults *fakehttp.Faults

	mu     sync.Mutex
	zones  map[string][]Record
	tokens map[string][]string
	nextID int
}

// Start starts the fake and stops it when the test ends.
func Start(t testing.TB) *Server {
	s := &Server{Faults: &fakehttp.Faults{}, zones: map[string][]Record{}, tokens: map[string][]string{}, nextID: 1000}
	s.HTTP = fakehttp.Start(t, s.Faults.Wrap(http.HandlerFunc(s.serve)), Host)
	return s
}

// AddToken lets token in; it sees only zones (every zone when none given).
func (s *Server) AddToken(token string, zones ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = zones
}

// AddZone creates a domain holding records (their IDs are assigned).
func (s *Server) AddZone(domain string, records ...Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []Record
	for _, r := range records {
		s.nextID++
		r.ID = s.nextID
		rs = append(rs, r)
	}
	s.zones[domain] = rs
}

// Records returns the domain's records sorted by name, type and data.
func (s *Server) Records(domain string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.zones[domain])
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Data < b.Data
	})
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Ratelimit-Limit", "5000")
	w.Header().Set("Ratelimit-Remaining", "4999")
	w.Header().Set("Ratelimit-Reset", "1700000000")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, id, msg string) {
	writeJSON(w, status, map[string]string{"id": id, "message": msg, "request_id": "fake-request"})
}

func notFound(w http.ResponseWriter) {
	writeErr(w, 404, "not_found", "The resource you were accessing could not be found.")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	visible, known := s.tokens[token]
	if !ok || !known {
		writeErr(w, 401, "Unauthorized", "Unable to authenticate you")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/domains/")
	if !ok {
		notFound(w)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	domain := parts[0]
	recs, exists := s.zones[domain]
	if !exists || (visible != nil && !slices.Contains(visible, domain)) {
		notFound(w)
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"domain": map[string]any{"name": domain, "ttl": 1800}})
	case len(parts) == 2 && parts[1] == "records" && r.Method == http.MethodGet:
		s.list(w, r, domain, recs)
	case len(parts) == 2 && parts[1] == "records" && r.Method == http.MethodPost:
		var rec Record
		if !s.decode(w, r, &rec) {
			return
		}
		s.nextID++
		rec.ID = s.nextID
		s.zones[domain] = append(recs, rec)
		writeJSON(w, 201, map[string]any{"domain_record": rec})
	case len(parts) == 3 && parts[1] == "records":
		id, err := strconv.Atoi(parts[2])
		i := slices.IndexFunc(recs, func(x Record) bool { return x.ID == id })
		if err != nil || i < 0 {
			notFound(w)
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, 200, map[string]any{"domain_record": recs[i]})
		case http.MethodPut, http.MethodPatch:
			rec := recs[i]
			if !s.decode(w, r, &rec) {
				return
			}
			rec.ID = id
			recs[i] = rec
			writeJSON(w, 200, map[string]any{"domain_record": rec})
		case http.MethodDelete:
			s.zones[domain] = slices.Delete(recs, i, i+1)
			w.WriteHeader(204)
		default:
			writeErr(w, 405, "method_not_allowed", "method not allowed")
		}
	default:
		notFound(w)
	}
}

// decode reads a record body into rec (fields absent keep their value)
// and validates it, answering 422 when it is not acceptable.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, rec *Record) bool {
	if err := json.NewDecoder(r.Body).Decode(rec); err != nil {
		writeErr(w, 400, "bad_request", "invalid JSON")
		return false
	}
	rec.Type = strings.ToUpper(rec.Type)
	if rec.TTL == 0 {
		rec.TTL = 1800
	}
	switch {
	case rec.Name == "" || rec.Type == "" || rec.Data == "":
		writeErr(w, 422, "unprocessable_entity", "Name, type and data are required.")
	case rec.TTL < 30:
		writeErr(w, 422, "unprocessable_entity", "TTL must be at least 30 seconds.")
	case (rec.Type == "A" || rec.Type == "AAAA") && !validAddr(rec.Type, rec.Data):
		writeErr(w, 422, "unprocessable_entity", fmt.Sprintf("Data %q is not a valid %s value.", rec.Data, rec.Type))
	default:
		return true
	}
	return false
}

func validAddr(typ, v string) bool {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return false
	}
	if typ == "A" {
		return a.Is4()
	}
	return a.Is6() && !a.Is4In6()
}

// list answers one page of records.
func (s *Server) list(w http.ResponseWriter, r *http.Request, domain string, recs []Record) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 {
		per = 20
	}
	per = min(per, 200)
	last := max(1, (len(recs)+per-1)/per)
	lo := min(len(recs), (page-1)*per)
	hi := min(len(recs), lo+per)
	link := func(p int) string {
		return fmt.Sprintf("https://%s/v2/domains/%s/records?page=%d&per_page=%d", Host, domain, p, per)
	}
	pages := map[string]string{}
	if page > 1 {
		pages["first"] = link(1)
		pages["prev"] = link(page - 1)
	}
	if page < last {
		pages["next"] = link(page + 1)
		pages["last"] = link(last)
	}
	writeJSON(w, 200, map[string]any{
		"domain_records": slices.Clone(recs[lo:hi]),
		"links":          map[string]any{"pages": pages},
		"meta":           map[string]any{"total": len(recs)},
	})
}
