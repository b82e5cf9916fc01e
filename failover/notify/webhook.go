package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// DefaultWebhookTimeout bounds one webhook call when
// WebhookConfig.Timeout is zero.
const DefaultWebhookTimeout = 10 * time.Second

// SignatureHeader carries the HMAC of the request body when
// WebhookConfig.Secret is set: "sha256=" and the hex HMAC-SHA256 of the
// exact body bytes, keyed with the secret.
const SignatureHeader = "X-Understudy-Signature"

// maxErrorBody is how much of a failed webhook's response body goes into
// the error.
const maxErrorBody = 512

// WebhookConfig configures a [Webhook]. The zero value of each field
// means its default.
type WebhookConfig struct {
	// URL receives the POST; http or https. Required. Only its scheme and
	// host appear in errors, since webhook URLs often carry a token.
	URL string
	// Secret, if set, signs each body: the SignatureHeader header holds
	// "sha256=<hex HMAC-SHA256 of the body>". Receivers should compare in
	// constant time and may reject a sent_at too far in the past.
	Secret string
	// Headers are added to every request (an Authorization token, say).
	// They cannot replace Content-Type or the signature. Their values
	// never appear in errors or logs.
	Headers map[string]string
	// Timeout bounds one Notify, including reading the response (default
	// 10s).
	Timeout time.Duration
	// Client sends the requests (default: a client with Go's default
	// transport, which verifies TLS certificates).
	Client *http.Client
	// Logger receives a Debug line per call (default: discard).
	Logger *slog.Logger
}

// WebhookPayload is the JSON body a [Webhook] POSTs:
//
//	{"event": {"time": "...", "kind": "switch_done", "from": "primary", "to": "standby", "message": "..."},
//	 "sent_at": "2025-01-02T03:04:05.123456789Z"}
//
// The event sits under its own key so that fields can be added next to it
// without breaking receivers; sent_at is covered by the signature, which
// lets a receiver refuse replays.
type WebhookPayload struct {
	Event  failover.Event `json:"event"`
	SentAt time.Time      `json:"sent_at"`
}

// HTTPStatusError is returned when the webhook answers with a status
// outside 2xx.
type HTTPStatusError struct {
	// StatusCode and Status are the response's.
	StatusCode int
	Status     string
	// Body is the start of the response body (at most 512 bytes).
	Body string
}

// Error gives the status and the body's start.
func (e *HTTPStatusError) Error() string {
	msg := "status " + e.Status
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + oneLine(b)
	}
	return msg
}

// Webhook POSTs each event as JSON to a URL. Create it with [NewWebhook].
// It is safe for concurrent use.
type Webhook struct {
	cfg    WebhookConfig
	target string // scheme://host, for errors and logs
	log    *slog.Logger
}

var _ failover.Notifier = (*Webhook)(nil)

// Validate reports what is wrong with c.
func (c WebhookConfig) Validate() error {
	_, err := c.resolve()
	return err
}

// NewWebhook checks cfg, applies its defaults and returns a Webhook.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	return cfg.resolve()
}

func (c WebhookConfig) resolve() (*Webhook, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		// url's error quotes the whole URL; keep the token out of it.
		return nil, errors.New("notify: webhook config: URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("notify: webhook config: URL %s://%s: want http(s)://host/...", u.Scheme, u.Host)
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("notify: webhook config: header %q: bad name or value", k)
		}
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("notify: webhook config: negative timeout %s", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultWebhookTimeout
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Webhook{cfg: c, target: u.Scheme + "://" + u.Host, log: log}, nil
}

// Notify POSTs e wrapped in a [WebhookPayload]. Any 2xx status is
// success; another status is an *[HTTPStatusError].
func (w *Webhook) Notify(ctx context.Context, e failover.Event) error {
	if err := w.post(ctx, e); err != nil {
		return fmt.Errorf("notify: webhook %s: %w", w.target, err)
	}
	return nil
}

func (w *Webhook) post(ctx context.Context, e failover.Event) error {
	body, err := json.Marshal(WebhookPayload{Event: e, SentAt: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("build request failed") // its text would quote the URL
	}
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "understudy")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Del(SignatureHeader)
	if w.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign([]byte(w.cfg.Secret), body))
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// *url.Error quotes the full URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &HTTPStatusError{StatusCode: resp.StatusCode, Status: resp.Status, Body: strings.ToValidUTF8(string(excerpt), "\uFFFD")}
	}
	w.log.DebugContext(ctx, "webhook sent", "kind", string(e.Kind), "target", w.target, "status", resp.StatusCode)
	return nil
}

// Sign returns the value of SignatureHeader for body: "sha256=" and the
// hex HMAC-SHA256 of body keyed with secret. Receivers compute the same
// and compare with hmac.Equal.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
