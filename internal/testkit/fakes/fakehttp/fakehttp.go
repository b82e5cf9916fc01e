// Package fakehttp serves an HTTP handler over TLS on loopback under the
// names of real API hosts (api.gandi.net, api.digitalocean.com), so that
// unmodified client libraries that hard-code those hosts talk to a fake.
//
// A [Server] makes its own certificate authority and a certificate for
// the hosts it stands for. Its [Server.Transport] dials the loopback
// listener for those hosts and refuses every other host, so no request
// can leave the machine; [Server.InstallDefault] puts that transport in
// http.DefaultTransport for the length of a test, for libraries that use
// http.DefaultClient and offer no other seam. Tests that install it must
// not run in parallel with tests that use http.DefaultTransport.
package fakehttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// Server is a TLS server on 127.0.0.1 standing in for Hosts.
type Server struct {
	// Hosts are the names the server answers for.
	Hosts []string
	srv   *httptest.Server
	roots *x509.CertPool
}

// Start serves h for hosts and stops it when the test ends.
func Start(t testing.TB, h http.Handler, hosts ...string) *Server {
	t.Helper()
	cert, roots, err := newCert(hosts)
	if err != nil {
		t.Fatalf("fakehttp: certificate: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &Server{Hosts: hosts, srv: srv, roots: roots}
}

// Addr is the listener's host:port.
func (s *Server) Addr() string { return s.srv.Listener.Addr().String() }

// CloseClientConnections drops every open connection, as a crashed
// front end would.
func (s *Server) CloseClientConnections() { s.srv.CloseClientConnections() }

// Transport returns a new transport that connects to the fake for its
// hosts (on any port) and refuses every other host.
func (s *Server) Transport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(s.Hosts, host) {
				return nil, fmt.Errorf("fakehttp: refusing to dial %s: not a faked host", addr)
			}
			return d.DialContext(ctx, "tcp", s.Addr())
		},
		TLSClientConfig:     &tls.Config{RootCAs: s.roots},
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 4,
	}
}

// Client returns an *http.Client using [Server.Transport].
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.Transport()} }

// InstallDefault replaces http.DefaultTransport with [Server.Transport]
// until the test ends.
func (s *Server) InstallDefault(t testing.TB) {
	t.Helper()
	old := http.DefaultTransport
	tr := s.Transport()
	http.DefaultTransport = tr
	t.Cleanup(func() {
		http.DefaultTransport = old
		tr.CloseIdleConnections()
	})
}

// newCert makes a CA and a leaf certificate for hosts signed by it.
func newCert(hosts []string) (tls.Certificate, *x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fakehttp test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, pool, nil
}
