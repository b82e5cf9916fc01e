// Package websvc is a tiny HTTP service that can die and come back on
// the same address: the "primary" and "backup" of `understudy demo`, of
// the failover benchmark and of the end-to-end tests.
package websvc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Service answers every request with its body while it runs.
type Service struct {
	body string
	mu   sync.Mutex
	addr string
	srv  *http.Server
}

// Start listens on addr (port 0 picks a free port, kept across restarts)
// and serves body.
func Start(addr, body string) (*Service, error) {
	s := &Service{addr: addr, body: body}
	return s, s.Start()
}

// Addr is the address the service listens on, host:port.
func (s *Service) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start brings a stopped service back on the same address. Starting a
// running service is an error.
func (s *Service) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("websvc: already running")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	body := s.body
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, body)
		}),
		ReadHeaderTimeout: time.Second,
	}
	go s.srv.Serve(ln) // returns ErrServerClosed on Stop
	return nil
}

// Stop kills the service: the listener and every open connection are
// closed at once, as when the process dies. Stopping a stopped service
// does nothing.
func (s *Service) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}
