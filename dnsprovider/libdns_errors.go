package dnsprovider

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// APIError is an HTTP API's answer that is not a success, as a libdns
// provider adapter ([NewGandi], [NewDigitalOcean]) reports it.
type APIError struct {
	// Provider is "gandi" or "digitalocean".
	Provider string
	// Op says what was being done ("get records in example.com.").
	Op string
	// Status is the HTTP status code.
	Status int
	// RetryAfter is the wait the API asked for (Retry-After), 0 if none.
	RetryAfter time.Duration
	// Err is the provider library's error.
	Err error
}

// Error names the provider, the operation and the status.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s: HTTP %d %s: %v", e.Provider, e.Op, e.Status, http.StatusText(e.Status), e.Err)
}

// Unwrap returns the provider library's error.
func (e *APIError) Unwrap() error { return e.Err }

// Permanent reports whether repeating the request cannot help: a 4xx
// other than 408 (timeout), 425 (too early) and 429 (rate limited).
func (e *APIError) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != 408 && e.Status != 425 && e.Status != 429
}

// IsPermanent reports whether err, or an error it wraps, says that
// retrying cannot help ([*APIError] with a 4xx, [*UpdateError] for a
// refusal, [ErrBadNode]). Timeouts, lost connections, 429s and 5xx are
// not permanent.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	if errors.As(err, &p) {
		return p.Permanent()
	}
	return errors.Is(err, ErrBadNode) || errors.Is(err, ErrOutsideZone)
}

// RetryAfter returns the wait an API asked for in err (0 if none).
func RetryAfter(err error) time.Duration {
	var a *APIError
	if errors.As(err, &a) {
		return a.RetryAfter
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. It is capped at five minutes.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), 5*time.Minute)
}
