// Package gandi fakes Gandi's LiveDNS v5 API (https://api.gandi.net/v5/livedns)
// at the HTTP level, for tests of code that uses github.com/libdns/gandi.
//
// What it implements, following Gandi's published API:
//
//	GET    /v5/livedns/domains                          list of domains
//	GET    /v5/livedns/domains/{fqdn}                   domain, with domain_records_href
//	GET    /v5/livedns/domains/{fqdn}/records           every RRset
//	GET    /v5/livedns/domains/{fqdn}/records/{name}    the RRsets of a name
//	GET    /v5/livedns/domains/{fqdn}/records/{name}/{type}
//	PUT    /v5/livedns/domains/{fqdn}/records/{name}/{type}   {"rrset_ttl","rrset_values"} → 201
//	DELETE /v5/livedns/domains/{fqdn}/records/{name}/{type}   → 204
//
// Requests must carry "Authorization: Bearer TOKEN" (a personal access
// token) or the legacy "Authorization: Apikey TOKEN"; an unknown token
// gets 401, a token that cannot see the domain gets 403, an unknown
// domain or RRset 404, all with Gandi's error body
// {"code":…,"message":…,"object":…,"cause":…}. RRset names are relative
// ("@" for the apex), values in zone-file syntax, TTLs 300 to 2592000
// seconds as Gandi enforces them (a smaller TTL is refused with 400).
//
// Faults (429 with Retry-After, 500, delays, dropped connections) are
// injected with [Server.Faults].
package gandi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/understudy-ha/understudy/internal/testkit/fakes/fakehttp"
)

// Host is the API host the fake stands for.
const Host = "api.gandi.net"

// MinTTL is the smallest TTL LiveDNS accepts.
const MinTTL = 300

// RRset is one record set as the API shows it.
type RRset struct {
	Name   string   `json:"rrset_name"`
	Type   string   `json:"rrset_type"`
	TTL    int      `json:"rrset_ttl"`
	Values []string `json:"rrset_values"`
	Href   string   `json:"rrset_href,omitempty"`
}

// Server is the fake API.
type Server struct {
	// HTTP is the TLS server standing in for api.gandi.net.
	HTTP *fakehttp.Server
	// Faults are injected in front of the API.
	Faults *fakehttp.Faults

	mu     sync.Mutex
	zones  map[string]map[[2]string]*RRset // fqdn → (name,type) → rrset
	tokens map[string][]string             // token → visible zones (nil: all)
	minTTL int
}

// Start starts the fake and stops it when the test ends.
func Start(t testing.TB) *Server {
	s := &Server{
		Faults: &fakehttp.Faults{},
		zones:  map[string]map[[2]string]*RRset{},
		tokens: map[string][]string{},
		minTTL: MinTTL,
	}
	s.HTTP = fakehttp.Start(t, s.Faults.Wrap(http.HandlerFunc(s.serve)), Host)
	return s
}

// SetMinTTL changes the smallest TTL accepted (LiveDNS: 300).
func (s *Server) SetMinTTL(ttl int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minTTL = ttl
}

// AddToken lets token in; it sees only zones (every zone when none given).
func (s *Server) AddToken(token string, zones ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = zones
}

// AddZone creates a domain with the given RRsets.
func (s *Server) AddZone(fqdn string, rrsets ...RRset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := map[[2]string]*RRset{}
	for _, r := range rrsets {
		r := r
		r.Values = slices.Clone(r.Values)
		z[[2]string{r.Name, r.Type}] = &r
	}
	s.zones[fqdn] = z
}

// RRsets returns the zone's RRsets sorted by name and type.
func (s *Server) RRsets(fqdn string) []RRset {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RRset
	for _, r := range s.zones[fqdn] {
		c := *r
		c.Values = slices.Clone(r.Values)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Type < out[j].Type
	})
	return out
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Object  string `json:"object"`
	Cause   string `json:"cause"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	object := map[int]string{400: "HTTPBadRequest", 401: "HTTPUnauthorized", 403: "HTTPForbidden", 404: "HTTPNotFound", 405: "HTTPMethodNotAllowed"}[status]
	writeJSON(w, status, apiError{Code: status, Message: msg, Object: object, Cause: http.StatusText(status)})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(auth, "Apikey ")
	}
	visible, known := s.tokens[token]
	if !ok || !known {
		writeErr(w, 401, "The server could not verify that you are authorized to access the document requested.")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v5/livedns/domains")
	if !ok {
		writeErr(w, 404, "The requested URL was not found on the server.")
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	if rest == "" || rest == "/" {
		var list []map[string]string
		for fqdn := range s.zones {
			if visible == nil || slices.Contains(visible, fqdn) {
				list = append(list, s.domain(fqdn))
			}
		}
		writeJSON(w, 200, list)
		return
	}
	fqdn := parts[0]
	z, exists := s.zones[fqdn]
	if !exists {
		writeErr(w, 404, "The domain "+fqdn+" does not exist")
		return
	}
	if visible != nil && !slices.Contains(visible, fqdn) {
		writeErr(w, 403, "Access was denied to this resource.")
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		writeJSON(w, 200, s.domain(fqdn))
	case len(parts) == 2 && parts[1] == "records" && r.Method == http.MethodGet:
		writeJSON(w, 200, s.list(fqdn, z, ""))
	case len(parts) == 3 && parts[1] == "records" && r.Method == http.MethodGet:
		l := s.list(fqdn, z, parts[2])
		if len(l) == 0 {
			writeErr(w, 404, "Can't find the DNS record "+parts[2])
			return
		}
		writeJSON(w, 200, l)
	case len(parts) == 4 && parts[1] == "records":
		s.rrset(w, r, fqdn, z, parts[2], strings.ToUpper(parts[3]))
	default:
		writeErr(w, 405, "The method is not allowed for the requested URL.")
	}
}

func (s *Server) domain(fqdn string) map[string]string {
	base := "https://" + Host + "/v5/livedns/domains/" + fqdn
	return map[string]string{
		"fqdn": fqdn, "domain_href": base,
		"domain_records_href": base + "/records", "domain_keys_href": base + "/keys",
	}
}

func (s *Server) list(fqdn string, z map[[2]string]*RRset, name string) []RRset {
	out := []RRset{}
	for _, r := range z {
		if name != "" && r.Name != name {
			continue
		}
		c := *r
		c.Href = fmt.Sprintf("https://%s/v5/livedns/domains/%s/records/%s/%s", Host, fqdn, c.Name, c.Type)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name+"/"+out[i].Type < out[j].Name+"/"+out[j].Type })
	return out
}

func (s *Server) rrset(w http.ResponseWriter, r *http.Request, fqdn string, z map[[2]string]*RRset, name, typ string) {
	key := [2]string{name, typ}
	switch r.Method {
	case http.MethodGet:
		rs, ok := z[key]
		if !ok {
			writeErr(w, 404, "Can't find the DNS record "+name+"/"+typ)
			return
		}
		c := *rs
		c.Href = fmt.Sprintf("https://%s/v5/livedns/domains/%s/records/%s/%s", Host, fqdn, name, typ)
		writeJSON(w, 200, c)
	case http.MethodPut:
		var body struct {
			TTL    int      `json:"rrset_ttl"`
			Values []string `json:"rrset_values"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeErr(w, 400, "invalid JSON body")
			return
		}
		if len(body.Values) == 0 {
			writeErr(w, 400, "rrset_values: Shorter than minimum length 1.")
			return
		}
		if body.TTL == 0 {
			body.TTL = 10800
		}
		if body.TTL < s.minTTL || body.TTL > 2592000 {
			writeErr(w, 400, fmt.Sprintf("rrset_ttl: Must be between %d and 2592000.", s.minTTL))
			return
		}
		if typ == "A" || typ == "AAAA" {
			for _, v := range body.Values {
				if !validAddr(typ, v) {
					writeErr(w, 400, fmt.Sprintf("rrset_values: %q is not a valid %s value", v, typ))
					return
				}
			}
		}
		z[key] = &RRset{Name: name, Type: typ, TTL: body.TTL, Values: slices.Clone(body.Values)}
		writeJSON(w, 201, map[string]string{"message": "DNS Record Created"})
	case http.MethodDelete:
		if _, ok := z[key]; !ok {
			writeErr(w, 404, "Can't find the DNS record "+name+"/"+typ)
			return
		}
		delete(z, key)
		w.WriteHeader(204)
	default:
		writeErr(w, 405, "The method is not allowed for the requested URL.")
	}
}
