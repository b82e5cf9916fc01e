package fakehttp

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is one misbehaviour injected in front of a fake API.
type Fault struct {
	// Method and PathContains select the requests it applies to ("" and
	// "": every request).
	Method       string
	PathContains string
	// Status, when non-zero, is answered instead of calling the API,
	// with Body (JSON) and Header (for example Retry-After).
	Status int
	Body   string
	Header http.Header
	// Delay holds the request that long (or until the client gives up)
	// before answering.
	Delay time.Duration
	// Drop closes the connection without an answer.
	Drop bool
	// Times is how many matching requests it applies to (default 1;
	// negative: every one).
	Times int
}

// Faults injects Fault values and records every request it sees.
// The zero value is ready to use.
type Faults struct {
	mu       sync.Mutex
	faults   []*Fault
	requests []string
}

// Add queues f; faults are matched in the order they were added.
func (fs *Faults) Add(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = append(fs.faults, &f)
}

// Requests returns "METHOD /path" for every request seen so far.
func (fs *Faults) Requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.requests...)
}

// Count returns how many requests were seen whose "METHOD /path"
// contains sub.
func (fs *Faults) Count(sub string) int {
	n := 0
	for _, r := range fs.Requests() {
		if strings.Contains(r, sub) {
			n++
		}
	}
	return n
}

// take records r and returns the fault that applies to it, if any.
func (fs *Faults) take(r *http.Request) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.requests = append(fs.requests, r.Method+" "+r.URL.Path)
	for i, f := range fs.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.Contains(r.URL.Path, f.PathContains) {
			g := *f
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					fs.faults = append(fs.faults[:i], fs.faults[i+1:]...)
				}
			}
			return &g
		}
	}
	return nil
}

// Wrap puts the faults in front of h.
func (fs *Faults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := fs.take(r)
		if f == nil {
			h.ServeHTTP(w, r)
			return
		}
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f.Drop {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if f.Status == 0 {
			h.ServeHTTP(w, r)
			return
		}
		for k, vs := range f.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
	})
}
