package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// DefaultTCPTimeout bounds a TCP check when TCPConfig.Timeout is zero.
const DefaultTCPTimeout = 3 * time.Second

// maxBanner bounds how much a TCP check reads while looking for Expect.
const maxBanner = 64 << 10

// TCPConfig configures a [TCP] check. The zero value of each field means
// its documented default.
type TCPConfig struct {
	// Address is host:port to connect to (required).
	Address string
	// Send is written right after the connection is made, for instance
	// "quit\r\n" (default: nothing).
	Send string
	// Expect is a substring that must appear in what the server sends,
	// first or in answer to Send, for instance "SSH-" (default: the
	// connection alone is enough).
	Expect string
	// Timeout bounds the whole check: connect, send and read
	// (default DefaultTCPTimeout).
	Timeout time.Duration
	// Dial makes the connection (default: net.Dialer.DialContext).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Validate reports whether the configuration can be used.
func (c TCPConfig) Validate() error {
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return fmt.Errorf("health: tcp address %q: %w", c.Address, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("health: tcp address %q: want host:port", c.Address)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("health: tcp timeout %v is negative", c.Timeout)
	}
	return nil
}

// TCP is the articles' "( echo quit ) | telnet host port | grep
// Connected": it connects, optionally writes Send, optionally waits for
// Expect, and closes. Safe for concurrent use.
type TCP struct {
	cfg    TCPConfig
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	expect []byte
}

var _ Checker = (*TCP)(nil)

// NewTCP validates cfg and returns the check.
func NewTCP(cfg TCPConfig) (*TCP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &TCP{cfg: cfg, dial: cfg.Dial, expect: []byte(cfg.Expect)}
	if t.dial == nil {
		var d net.Dialer
		t.dial = d.DialContext
	}
	return t, nil
}

// Check connects and, when configured, exchanges Send and Expect. It
// returns nil when healthy and a *[Error] otherwise; a mismatching
// answer wraps [ErrUnexpected].
func (t *TCP) Check(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, t.cfg.Timeout, DefaultTCPTimeout)
	defer cancel()
	conn, err := t.dial(ctx, "tcp", t.cfg.Address)
	if err != nil {
		return t.fail(ctx, err)
	}
	if t.cfg.Send == "" && len(t.expect) == 0 {
		// The cheap path: a connect is all that was asked.
		conn.Close()
		return nil
	}
	defer conn.Close()
	if err := t.exchange(ctx, conn); err != nil {
		return t.fail(ctx, err)
	}
	return nil
}

func (t *TCP) exchange(ctx context.Context, conn net.Conn) error {
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	// A cancelled ctx (not only its deadline) must end a blocked read.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if t.cfg.Send != "" {
		if _, err := io.WriteString(conn, t.cfg.Send); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	if len(t.expect) == 0 {
		return nil
	}
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxBanner {
				return fmt.Errorf("%w: no %q in the first %d bytes", ErrUnexpected, t.cfg.Expect, len(buf))
			}
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, t.expect) {
			return nil
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: connection closed after %d bytes without %q (got %q)",
				ErrUnexpected, len(buf), t.cfg.Expect, clip(buf, 64))
		}
		if err != nil {
			return fmt.Errorf("read after %d bytes (got %q), waiting for %q: %w",
				len(buf), clip(buf, 64), t.cfg.Expect, err)
		}
	}
}

// fail wraps err as a check failure, with ctx's error when ctx ended it.
func (t *TCP) fail(ctx context.Context, err error) error {
	return &Error{Kind: "tcp", Target: t.cfg.Address, Err: withCtxErr(ctx, err)}
}
