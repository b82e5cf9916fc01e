package health_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/health"
)

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello, status: green") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/vhost", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example.test" || r.Header.Get("X-Probe") != "yes" {
			http.NotFound(w, r)
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", health.MaxHTTPBody))
		io.WriteString(w, "MARKER")
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			http.Error(w, "want HEAD", http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	return mux
}

func TestHTTPCheck(t *testing.T) {
	srv := httptest.NewServer(testMux())
	t.Cleanup(srv.Close)
	u := srv.URL

	tests := []struct {
		name    string
		cfg     health.HTTPConfig
		wantErr string // "" for healthy, else a substring of the error
	}{
		{"ok", health.HTTPConfig{URL: u + "/ok"}, ""},
		{"503", health.HTTPConfig{URL: u + "/fail"}, "status 503, want 200-399"},
		{"503 accepted", health.HTTPConfig{URL: u + "/fail", Status: []int{503}}, ""},
		{"200 not in list", health.HTTPConfig{URL: u + "/ok", Status: []int{204, 301}}, "status 200, want 204 or 301"},
		{"3xx judged as is", health.HTTPConfig{URL: u + "/redirect"}, ""},
		{"3xx not wanted", health.HTTPConfig{URL: u + "/redirect", Status: []int{200}}, "status 302, want 200"},
		{"redirect followed", health.HTTPConfig{URL: u + "/redirect", FollowRedirects: true}, "status 503"},
		{"body contains", health.HTTPConfig{URL: u + "/ok", BodyContains: "green"}, ""},
		{"body lacks", health.HTTPConfig{URL: u + "/ok", BodyContains: "red"}, `body does not contain "red"`},
		{"body regexp", health.HTTPConfig{URL: u + "/ok", BodyRegexp: `status: (green|amber)`}, ""},
		{"body regexp fails", health.HTTPConfig{URL: u + "/ok", BodyRegexp: `^status`}, `body does not match "^status"`},
		{"body read is bounded", health.HTTPConfig{URL: u + "/big", BodyContains: "MARKER"}, `body does not contain "MARKER"`},
		{"host header", health.HTTPConfig{URL: u + "/vhost", Headers: map[string]string{"host": "www.example.test", "X-Probe": "yes"}}, ""},
		{"no host header", health.HTTPConfig{URL: u + "/vhost", Headers: map[string]string{"X-Probe": "yes"}}, "status 404"},
		{"method", health.HTTPConfig{URL: u + "/head", Method: http.MethodHead}, ""},
		{"default method GET", health.HTTPConfig{URL: u + "/head"}, "status 405"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := health.NewHTTP(tt.cfg)
			require.NoError(t, err)
			err = c.Check(context.Background())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			he := requireCheckError(t, err, "http")
			assert.Equal(t, tt.cfg.URL, he.Target)
			assert.ErrorIs(t, err, health.ErrUnexpected)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestHTTPFailures(t *testing.T) {
	srv := httptest.NewServer(testMux())
	t.Cleanup(srv.Close)

	t.Run("refused", func(t *testing.T) {
		c, err := health.NewHTTP(health.HTTPConfig{URL: "http://" + closedPort(t) + "/"})
		require.NoError(t, err)
		err = c.Check(context.Background())
		requireCheckError(t, err, "http")
		assert.NotErrorIs(t, err, health.ErrUnexpected)
	})
	t.Run("timeout", func(t *testing.T) {
		c, err := health.NewHTTP(health.HTTPConfig{URL: srv.URL + "/hang", Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		err = c.Check(context.Background())
		requireCheckError(t, err, "http")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("password not in error", func(t *testing.T) {
		c, err := health.NewHTTP(health.HTTPConfig{URL: "http://probe:s3cr3t-pw@" + closedPort(t) + "/"})
		require.NoError(t, err)
		err = c.Check(context.Background())
		he := requireCheckError(t, err, "http")
		assert.NotContains(t, err.Error(), "s3cr3t-pw")
		assert.NotContains(t, he.Target, "s3cr3t-pw")
	})
}

// writePEM writes one PEM block to a file in dir and returns its path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return p
}

func TestHTTPTLSVerification(t *testing.T) {
	srv := httptest.NewUnstartedServer(testMux())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", srv.Certificate().Raw)
	url := srv.URL + "/ok"

	tests := []struct {
		name string
		cfg  health.HTTPConfig
		ok   bool
	}{
		{"verification on by default", health.HTTPConfig{URL: url}, false},
		{"trusted CA file", health.HTTPConfig{URL: url, CAFile: caFile}, true},
		{"server name in certificate", health.HTTPConfig{URL: url, CAFile: caFile, ServerName: "example.com"}, true},
		{"server name not in certificate", health.HTTPConfig{URL: url, CAFile: caFile, ServerName: "other.test"}, false},
		{"insecure skip verify", health.HTTPConfig{URL: url, InsecureSkipVerify: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A loaded CI machine must not turn a verification failure
			// into a timeout.
			tt.cfg.Timeout = 30 * time.Second
			c, err := health.NewHTTP(tt.cfg)
			require.NoError(t, err)
			err = c.Check(context.Background())
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireCheckError(t, err, "http")
			var verr *tls.CertificateVerificationError
			assert.True(t, errors.As(err, &verr), "want a certificate verification error, got %v", err)
		})
	}
}

func TestHTTPClientCertificate(t *testing.T) {
	dir := t.TempDir()
	// A CA and a client certificate it signed.
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	clientTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "understudy probe"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientDER, err := x509.CreateCertificate(rand.Reader, clientTmpl, caCert, &clientKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	require.NoError(t, err)
	certFile := writePEM(t, dir, "client.pem", "CERTIFICATE", clientDER)
	keyFile := writePEM(t, dir, "client.key", "PRIVATE KEY", keyDER)

	srv := httptest.NewUnstartedServer(testMux())
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := writePEM(t, dir, "server-ca.pem", "CERTIFICATE", srv.Certificate().Raw)

	t.Run("without client certificate", func(t *testing.T) {
		c, err := health.NewHTTP(health.HTTPConfig{URL: srv.URL + "/ok", CAFile: caFile})
		require.NoError(t, err)
		requireCheckError(t, c.Check(context.Background()), "http")
	})
	t.Run("with client certificate", func(t *testing.T) {
		c, err := health.NewHTTP(health.HTTPConfig{URL: srv.URL + "/ok", CAFile: caFile, CertFile: certFile, KeyFile: keyFile})
		require.NoError(t, err)
		require.NoError(t, c.Check(context.Background()))
	})
}

func TestHTTPClientSeam(t *testing.T) {
	srv := httptest.NewServer(testMux())
	t.Cleanup(srv.Close)
	var seen []string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.URL.Path)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := health.NewHTTP(health.HTTPConfig{URL: srv.URL + "/redirect", Status: []int{302}, Client: client})
	require.NoError(t, err)
	require.NoError(t, c.Check(context.Background()))
	assert.Equal(t, []string{"/redirect"}, seen, "redirect must not be followed through the seam either")
	assert.Nil(t, client.CheckRedirect, "the caller's client is not modified")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHTTPConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  health.HTTPConfig
		ok   bool
	}{
		{"minimal", health.HTTPConfig{URL: "https://www.example.test/health"}, true},
		{"no url", health.HTTPConfig{}, false},
		{"ftp", health.HTTPConfig{URL: "ftp://example.test/"}, false},
		{"no host", health.HTTPConfig{URL: "http:///x"}, false},
		{"bad regexp", health.HTTPConfig{URL: "http://a/", BodyRegexp: "("}, false},
		{"bad status", health.HTTPConfig{URL: "http://a/", Status: []int{42}}, false},
		{"cert without key", health.HTTPConfig{URL: "https://a/", CertFile: "c.pem"}, false},
		{"tls with client", health.HTTPConfig{URL: "https://a/", CAFile: "ca.pem", Client: http.DefaultClient}, false},
		{"negative timeout", health.HTTPConfig{URL: "http://a/", Timeout: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ok {
				assert.NoError(t, tt.cfg.Validate())
			} else {
				assert.Error(t, tt.cfg.Validate())
			}
		})
	}
	t.Run("missing CA file", func(t *testing.T) {
		_, err := health.NewHTTP(health.HTTPConfig{URL: "https://a/", CAFile: filepath.Join(t.TempDir(), "none.pem")})
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

// The error names the URL once (in the *Error), not again in net/http's
// "Get URL:" wrapper.
func TestHTTPErrorNamesURLOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	u := "http://" + addr + "/"
	c, err := health.NewHTTP(health.HTTPConfig{URL: u})
	require.NoError(t, err)
	err = c.Check(t.Context())
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), u), err.Error())
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// NewHTTP does not depend on what other code did to http.DefaultTransport.
func TestHTTPIgnoresDefaultTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	old := http.DefaultTransport
	http.DefaultTransport = roundTripperFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("the default transport must not be used")
	})
	defer func() { http.DefaultTransport = old }()
	c, err := health.NewHTTP(health.HTTPConfig{URL: srv.URL})
	require.NoError(t, err)
	require.NoError(t, c.Check(t.Context()))
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
