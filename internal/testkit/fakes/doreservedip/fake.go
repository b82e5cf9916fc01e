// Package doreservedip fakes the parts of DigitalOcean's API v2 that move
// a reserved IP, and the droplet metadata service, at the HTTP level, so
// the real godo client can be pointed at it (godo.SetBaseURL).
//
// It follows the published API
// (https://docs.digitalocean.com/reference/api/api-reference/#tag/Reserved-IPs):
//
//	GET  /v2/reserved_ips/{ip}                  {"reserved_ip": {...}}
//	POST /v2/reserved_ips/{ip}/actions          {"type":"assign","droplet_id":N} → 201 {"action": {...}}
//	GET  /v2/reserved_ips/{ip}/actions/{id}     {"action": {...}}
//	GET  /v2/actions/{id}                       {"action": {...}}
//
// Errors carry DigitalOcean's JSON body {"id": "...", "message": "..."}:
// 401 without the right bearer token, 404 for an unknown IP or action,
// 422 for an unknown droplet, and any status injected with Fail (429
// with Retry-After, 500…). An assign action stays "in-progress" for
// ActionPolls polls and takes effect when it completes.
//
// The metadata service (Metadata) answers for one droplet:
// /metadata/v1/id, /metadata/v1/reserved_ip/ipv4/{active,ip_address}
// and the older /metadata/v1/floating_ip/ipv4/... the article reads.
package doreservedip

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request the fake received.
type Request struct {
	Method, Path string
	Time         time.Time
}

type fault struct {
	method, prefix string
	status         int
	retryAfter     string
	left           int
}

type action struct {
	ID        int
	IP        string
	DropletID int
	Polls     int
	Status    string
	Started   time.Time
	Completed time.Time
}

// Server is the fake API. Its fields may be set before the first request.
type Server struct {
	// URL is the base URL to give godo.SetBaseURL (ends in "/").
	URL string
	// Token is the bearer token the fake accepts.
	Token string
	// ActionPolls is how many polls an action answers "in-progress"
	// before it completes (default 0: it completes on the first poll).
	ActionPolls int
	// ErrorActions makes assign actions end "errored" instead.
	ErrorActions bool

	ts       *httptest.Server
	mu       sync.Mutex
	ips      map[string]int // ip → droplet ID (0: unassigned)
	droplets map[int]bool
	actions  map[int]*action
	nextID   int
	faults   []*fault
	requests []Request
}

// New starts a fake accepting token; it is closed by t.Cleanup.
func New(t testing.TB, token string) *Server {
	s := Start(token)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake accepting token; the caller closes it.
func Start(token string) *Server {
	s := &Server{Token: token, ips: map[string]int{}, droplets: map[int]bool{}, actions: map[int]*action{}, nextID: 1000}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveAPI))
	s.URL = s.ts.URL + "/"
	return s
}

// Close stops the fake.
func (s *Server) Close() { s.ts.Close() }

// AddDroplet makes droplet ids known.
func (s *Server) AddDroplet(ids ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.droplets[id] = true
	}
}

// AddReservedIP creates ip, assigned to droplet (0: unassigned).
func (s *Server) AddReservedIP(ip string, droplet int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ips[ip] = droplet
}

// Holder returns the droplet ip is assigned to (0: none).
func (s *Server) Holder(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ips[ip]
}

// Fail makes the next n requests whose method is method ("" for any) and
// whose path starts with prefix answer status with DigitalOcean's error
// body; retryAfter, when not empty, is sent as Retry-After.
func (s *Server) Fail(method, prefix string, status, n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, prefix: prefix, status: status, retryAfter: retryAfter, left: n})
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests matched method and path prefix.
func (s *Server) Count(method, prefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

var errorIDs = map[int]string{
	401: "Unauthorized", 403: "forbidden", 404: "not_found", 422: "unprocessable_entity",
	429: "too_many_requests", 500: "server_error", 503: "service_unavailable",
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	id := errorIDs[status]
	if id == "" {
		id = "error"
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Time: time.Now()})
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		writeError(w, 401, "Unable to authenticate you.")
		return
	}
	for _, f := range s.faults {
		if f.left > 0 && (f.method == "" || f.method == r.Method) && strings.HasPrefix(r.URL.Path, f.prefix) {
			f.left--
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			msg := map[int]string{429: "API Rate limit exceeded.", 500: "Server was unable to give you a response."}[f.status]
			if msg == "" {
				msg = http.StatusText(f.status)
			}
			writeError(w, f.status, msg)
			return
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "v2" && parts[1] == "reserved_ips" && r.Method == http.MethodGet:
		s.getIP(w, parts[2])
	case len(parts) == 4 && parts[0] == "v2" && parts[1] == "reserved_ips" && parts[3] == "actions" && r.Method == http.MethodPost:
		s.postAction(w, r, parts[2])
	case len(parts) == 5 && parts[0] == "v2" && parts[1] == "reserved_ips" && parts[3] == "actions" && r.Method == http.MethodGet:
		s.getAction(w, parts[2], parts[4])
	case len(parts) == 3 && parts[0] == "v2" && parts[1] == "actions" && r.Method == http.MethodGet:
		s.getAction(w, "", parts[2])
	default:
		writeError(w, 404, "The resource you were accessing could not be found.")
	}
}

func (s *Server) getIP(w http.ResponseWriter, ip string) {
	d, ok := s.ips[ip]
	if !ok {
		writeError(w, 404, "The resource you were accessing could not be found.")
		return
	}
	rip := map[string]any{"ip": ip, "region": map[string]any{"slug": "fra1", "name": "Frankfurt 1"}, "locked": false, "project_id": "p-1", "droplet": nil}
	if d != 0 {
		rip["droplet"] = map[string]any{"id": d, "name": fmt.Sprintf("droplet-%d", d), "status": "active"}
	}
	writeJSON(w, 200, map[string]any{"reserved_ip": rip})
}

func (s *Server) postAction(w http.ResponseWriter, r *http.Request, ip string) {
	if _, ok := s.ips[ip]; !ok {
		writeError(w, 404, "The resource you were accessing could not be found.")
		return
	}
	var req struct {
		Type      string `json:"type"`
		DropletID int    `json:"droplet_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, 422, "could not parse request body")
		return
	}
	if req.Type != "assign" {
		writeError(w, 422, fmt.Sprintf("unsupported action type %q", req.Type))
		return
	}
	if !s.droplets[req.DropletID] {
		writeError(w, 422, "Droplet must exist and be in the same region as the reserved IP.")
		return
	}
	s.nextID++
	a := &action{ID: s.nextID, IP: ip, DropletID: req.DropletID, Status: "in-progress", Started: time.Now()}
	s.actions[a.ID] = a
	writeJSON(w, 201, map[string]any{"action": s.actionJSON(a)})
}

func (s *Server) getAction(w http.ResponseWriter, ip, id string) {
	n, err := strconv.Atoi(id)
	a := s.actions[n]
	if err != nil || a == nil || ip != "" && a.IP != ip {
		writeError(w, 404, "The resource you were accessing could not be found.")
		return
	}
	if a.Status == "in-progress" {
		if a.Polls >= s.ActionPolls {
			a.Completed = time.Now()
			if s.ErrorActions {
				a.Status = "errored"
			} else {
				a.Status = "completed"
				s.ips[a.IP] = a.DropletID
			}
		}
		a.Polls++
	}
	writeJSON(w, 200, map[string]any{"action": s.actionJSON(a)})
}

func (s *Server) actionJSON(a *action) map[string]any {
	m := map[string]any{
		"id": a.ID, "status": a.Status, "type": "assign_ip",
		"started_at": a.Started.UTC().Format(time.RFC3339), "completed_at": nil,
		"resource_id": 0, "resource_type": "reserved_ip", "region_slug": "fra1",
	}
	if !a.Completed.IsZero() {
		m["completed_at"] = a.Completed.UTC().Format(time.RFC3339)
	}
	return m
}

// Metadata starts a metadata service for droplet id that reads the
// fake's state; it is closed by t.Cleanup. Its requests are counted in
// the returned *Metadata.
func (s *Server) Metadata(t testing.TB, id int) *Metadata {
	m := &Metadata{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.hits++
		m.mu.Unlock()
		s.mu.Lock()
		var mine string
		for ip, d := range s.ips {
			if d == id {
				mine = ip
			}
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		switch strings.TrimSuffix(r.URL.Path, "/") {
		case "/metadata/v1/id":
			fmt.Fprint(w, id)
		case "/metadata/v1/reserved_ip/ipv4/active", "/metadata/v1/floating_ip/ipv4/active":
			fmt.Fprint(w, mine != "")
		case "/metadata/v1/reserved_ip/ipv4/ip_address", "/metadata/v1/floating_ip/ipv4/ip_address":
			if mine == "" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, mine)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	m.URL = ts.URL
	return m
}

// Metadata is a fake droplet metadata service.
type Metadata struct {
	// URL is the base URL (give it to the switcher's MetadataURL).
	URL  string
	mu   sync.Mutex
	hits int
}

// Hits returns the number of requests served.
func (m *Metadata) Hits() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits
}
