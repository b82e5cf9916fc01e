package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
)

// request is what a webhook receiver got.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is an httptest server recording requests and answering with
// status (200 when zero) and body.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func startReceiver(t *testing.T, status int, body string) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: b})
		r.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

var switchDone = failover.Event{
	Time:    time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	Kind:    failover.EventSwitchDone,
	From:    "primary",
	To:      "standby",
	Message: "traffic moved from primary to standby",
}

func TestWebhookPostsSignedJSON(t *testing.T) {
	const secret = "hook-secret"
	rcv := startReceiver(t, http.StatusNoContent, "")
	w, err := notify.NewWebhook(notify.WebhookConfig{
		URL:     rcv.URL + "/hooks/understudy?token=abc",
		Secret:  secret,
		Headers: map[string]string{"Authorization": "Bearer tok", "Content-Type": "text/evil"},
	})
	require.NoError(t, err)

	before := time.Now()
	require.NoError(t, w.Notify(t.Context(), switchDone))

	reqs := rcv.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/hooks/understudy", r.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "understudy", r.Header.Get("User-Agent"))
	assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.Body)
	assert.Equal(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), r.Header.Get(notify.SignatureHeader))

	var p notify.WebhookPayload
	require.NoError(t, json.Unmarshal(r.Body, &p))
	assert.Equal(t, switchDone, p.Event)
	assert.False(t, p.SentAt.Before(before.Add(-time.Second)), "sent_at %s is the sending time", p.SentAt)

	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Body, &raw))
	assert.ElementsMatch(t, []string{"event", "sent_at"}, keys(raw))
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWebhookUnsignedWithoutSecret(t *testing.T) {
	rcv := startReceiver(t, 0, "ok")
	w, err := notify.NewWebhook(notify.WebhookConfig{URL: rcv.URL})
	require.NoError(t, err)
	require.NoError(t, w.Notify(t.Context(), switchDone))
	reqs := rcv.requests()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Header.Values(notify.SignatureHeader))
}

func TestWebhookErrors(t *testing.T) {
	t.Run("status 500", func(t *testing.T) {
		rcv := startReceiver(t, http.StatusInternalServerError, "database on fire\n"+strings.Repeat("x", 4000))
		w, err := notify.NewWebhook(notify.WebhookConfig{URL: rcv.URL + "/secret-token-path"})
		require.NoError(t, err)
		err = w.Notify(t.Context(), switchDone)
		var se *notify.HTTPStatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, http.StatusInternalServerError, se.StatusCode)
		assert.True(t, strings.HasPrefix(se.Body, "database on fire"))
		assert.Len(t, se.Body, 512, "body excerpt is bounded")
		assert.Contains(t, err.Error(), "500 Internal Server Error")
		assert.Contains(t, err.Error(), rcv.URL)
		assert.NotContains(t, err.Error(), "secret-token-path")
	})
	t.Run("status 404 with a short body", func(t *testing.T) {
		rcv := startReceiver(t, http.StatusNotFound, "no such hook")
		w, err := notify.NewWebhook(notify.WebhookConfig{URL: rcv.URL})
		require.NoError(t, err)
		var se *notify.HTTPStatusError
		require.ErrorAs(t, w.Notify(t.Context(), switchDone), &se)
		assert.Equal(t, "no such hook", se.Body)
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Reading the body lets the server notice a client hanging up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		w, err := notify.NewWebhook(notify.WebhookConfig{URL: srv.URL + "/tok3n", Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		err = w.Notify(t.Context(), switchDone)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotContains(t, err.Error(), "tok3n", "the URL path is kept out of errors")
	})
	t.Run("cancelled", func(t *testing.T) {
		arrived := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			close(arrived)
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		w, err := notify.NewWebhook(notify.WebhookConfig{URL: srv.URL})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- w.Notify(ctx, switchDone) }()
		<-arrived
		cancel()
		require.ErrorIs(t, <-errc, context.Canceled)
	})
	t.Run("TLS verification stays on", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(srv.Close)
		w, err := notify.NewWebhook(notify.WebhookConfig{URL: srv.URL})
		require.NoError(t, err)
		err = w.Notify(t.Context(), switchDone)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")

		w, err = notify.NewWebhook(notify.WebhookConfig{URL: srv.URL, Client: srv.Client()})
		require.NoError(t, err)
		require.NoError(t, w.Notify(t.Context(), switchDone), "a client trusting the test CA")
	})
}

func TestNewWebhookValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  notify.WebhookConfig
	}{
		{"empty", notify.WebhookConfig{}},
		{"not http", notify.WebhookConfig{URL: "ftp://example.com/x"}},
		{"no host", notify.WebhookConfig{URL: "https:///x"}},
		{"header with newline", notify.WebhookConfig{URL: "https://example.com", Headers: map[string]string{"X-A": "b\r\nX-C: d"}}},
		{"bad header name", notify.WebhookConfig{URL: "https://example.com", Headers: map[string]string{"X A": "b"}}},
		{"negative timeout", notify.WebhookConfig{URL: "https://example.com", Timeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := notify.NewWebhook(tt.cfg)
			require.Error(t, err)
			require.Error(t, tt.cfg.Validate())
		})
	}
}

func TestSign(t *testing.T) {
	// RFC 4231 test case 2.
	got := notify.Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	assert.Equal(t, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", got)
}
