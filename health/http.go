package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultHTTPTimeout bounds an HTTP check when HTTPConfig.Timeout is zero.
const DefaultHTTPTimeout = 5 * time.Second

// MaxHTTPBody is how much of a response body an HTTP check reads for
// BodyContains and BodyRegexp.
const MaxHTTPBody = 1 << 20

// HTTPConfig configures an [HTTP] check. The zero value of each field
// means its documented default.
type HTTPConfig struct {
	// URL is the http or https URL to request (required).
	URL string
	// Method is the request method (default GET).
	Method string
	// Status lists the accepted status codes (default: any 2xx or 3xx,
	// 200–399).
	Status []int
	// BodyContains, when set, must appear in the first MaxHTTPBody bytes
	// of the body.
	BodyContains string
	// BodyRegexp, when set, must match the first MaxHTTPBody bytes of the
	// body (RE2 syntax).
	BodyRegexp string
	// Headers are added to the request. "Host" sets the Host header, to
	// check one virtual host by address.
	Headers map[string]string
	// Timeout bounds the whole request, body included
	// (default DefaultHTTPTimeout).
	Timeout time.Duration
	// FollowRedirects makes the check follow redirects and judge the
	// final response (default false: a 3xx is judged as it is).
	FollowRedirects bool

	// TLS settings, for https URLs. Certificate verification is on unless
	// InsecureSkipVerify is set. They apply to the client the check
	// builds, so they cannot be combined with Client. Files are read once,
	// by NewHTTP.

	// CAFile is a PEM file of the CAs to trust instead of the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that require one. Set both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name the server certificate must carry
	// (default: the URL's host).
	ServerName string
	// InsecureSkipVerify accepts any server certificate. DANGEROUS: the
	// check then passes against any host that answers on the address,
	// impostors included. For lab use only.
	InsecureSkipVerify bool

	// Client sends the request (default: a client built from the TLS
	// settings, without keep-alives, so each check makes a new
	// connection, and without the environment's HTTP_PROXY, so it talks
	// to the target itself). Its CheckRedirect is replaced when FollowRedirects is
	// false.
	Client *http.Client
}

// Validate reports whether the configuration can be used.
func (c HTTPConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("health: http url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("health: http url %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("health: http url %q: no host", u.Redacted())
	}
	for _, s := range c.Status {
		if s < 100 || s > 999 {
			return fmt.Errorf("health: http status %d out of range", s)
		}
	}
	if c.BodyRegexp != "" {
		if _, err := regexp.Compile(c.BodyRegexp); err != nil {
			return fmt.Errorf("health: http body regexp: %w", err)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("health: http timeout %v is negative", c.Timeout)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("health: http: set both CertFile and KeyFile, or neither")
	}
	if c.Client != nil && (c.CAFile != "" || c.CertFile != "" || c.ServerName != "" || c.InsecureSkipVerify) {
		return errors.New("health: http: TLS settings cannot be combined with Client; configure the client's transport instead")
	}
	return nil
}

// HTTP requests a URL and judges the status and, optionally, the body.
// Safe for concurrent use.
type HTTP struct {
	cfg    HTTPConfig
	target string // the URL without its password
	method string
	host   string
	header http.Header
	client *http.Client
	re     *regexp.Regexp
}

var _ Checker = (*HTTP)(nil)

// NewHTTP validates cfg, reads its TLS files and returns the check.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL) // validated above
	h := &HTTP{cfg: cfg, target: u.Redacted(), method: cfg.Method, header: http.Header{}}
	if h.method == "" {
		h.method = http.MethodGet
	}
	for k, v := range cfg.Headers {
		if strings.EqualFold(k, "Host") {
			h.host = v
			continue
		}
		h.header.Set(k, v)
	}
	if h.header.Get("User-Agent") == "" {
		h.header.Set("User-Agent", "understudy-health")
	}
	if cfg.BodyRegexp != "" {
		h.re = regexp.MustCompile(cfg.BodyRegexp) // validated above
	}

	if cfg.Client != nil {
		c := *cfg.Client
		h.client = &c
	} else {
		tlsConf, err := cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		// A transport of its own: the check's TLS settings, no proxy, no
		// keep-alives, and nothing another package did to
		// http.DefaultTransport (which need not even be an *http.Transport).
		tr := &http.Transport{
			DialContext:         (&net.Dialer{KeepAlive: -1}).DialContext,
			TLSHandshakeTimeout: DefaultHTTPTimeout,
			ForceAttemptHTTP2:   true,
		}
		tr.TLSClientConfig = tlsConf
		tr.DisableKeepAlives = true
		tr.Proxy = nil // the check is about the target, not a proxy
		h.client = &http.Client{Transport: tr}
	}
	if !cfg.FollowRedirects {
		h.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return h, nil
}

func (c HTTPConfig) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("health: http CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("health: http CA file %s: no PEM certificate", c.CAFile)
		}
		conf.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("health: http client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// Check sends the request and judges the answer. It returns nil when
// healthy and a *[Error] otherwise; a wrong status or body wraps
// [ErrUnexpected].
func (h *HTTP) Check(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, h.cfg.Timeout, DefaultHTTPTimeout)
	defer cancel()
	if err := h.check(ctx); err != nil {
		return &Error{Kind: "http", Target: h.target, Err: err}
	}
	return nil
}

func (h *HTTP) check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, h.method, h.cfg.URL, nil)
	if err != nil {
		return err
	}
	req.Header = h.header.Clone()
	if h.host != "" {
		req.Host = h.host
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// A *url.Error repeats the method and URL that the *Error around
		// it already names; keep it only when it names another URL (a
		// redirect's). net/http strips any password from it.
		var ue *url.Error
		if errors.As(err, &ue) && ue.URL == h.cfg.URL {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()

	if !h.statusOK(resp.StatusCode) {
		return fmt.Errorf("%w: status %d, want %s", ErrUnexpected, resp.StatusCode, h.wantStatus())
	}
	if h.cfg.BodyContains == "" && h.re == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxHTTPBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if h.cfg.BodyContains != "" && !bytes.Contains(body, []byte(h.cfg.BodyContains)) {
		return fmt.Errorf("%w: body does not contain %q", ErrUnexpected, h.cfg.BodyContains)
	}
	if h.re != nil && !h.re.Match(body) {
		return fmt.Errorf("%w: body does not match %q", ErrUnexpected, h.cfg.BodyRegexp)
	}
	return nil
}

func (h *HTTP) statusOK(code int) bool {
	if len(h.cfg.Status) == 0 {
		return code >= 200 && code <= 399
	}
	return slices.Contains(h.cfg.Status, code)
}

func (h *HTTP) wantStatus() string {
	if len(h.cfg.Status) == 0 {
		return "200-399"
	}
	s := make([]string, len(h.cfg.Status))
	for i, c := range h.cfg.Status {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, " or ")
}
