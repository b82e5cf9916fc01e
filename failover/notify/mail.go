package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/failover"
)

// StartTLSMode says whether a [Mail] upgrades its connection with STARTTLS.
type StartTLSMode string

const (
	// StartTLSAuto upgrades when the server offers STARTTLS and sends in
	// clear text when it does not. If the server offers STARTTLS and the
	// handshake fails (an untrusted certificate), the mail is not sent:
	// there is no downgrade to clear text after a failed handshake.
	StartTLSAuto StartTLSMode = "auto"
	// StartTLSAlways refuses to send unless the server offers STARTTLS and
	// the handshake succeeds.
	StartTLSAlways StartTLSMode = "always"
	// StartTLSNever never upgrades (a relay on the same host or network
	// that the articles' mutt talked to in clear text).
	StartTLSNever StartTLSMode = "never"
)

// Errors a [Mail] returns, for errors.Is. They always come wrapped in an
// error that starts "notify: mail via HOST:PORT:", so their own text
// carries no package prefix.
var (
	// ErrNoStartTLS: StartTLS is "always" but the server does not offer
	// STARTTLS.
	ErrNoStartTLS = errors.New("STARTTLS required but the server does not offer it")
	// ErrInsecureAuth: a username is set but the connection is neither
	// TLS nor to a loopback address, so the password would cross the
	// network in clear text. Nothing is sent.
	ErrInsecureAuth = errors.New("refusing to send the SMTP password unencrypted to a non-loopback address (use STARTTLS or ImplicitTLS)")
	// ErrNoAuth: a username is set but the server offers no AUTH PLAIN.
	ErrNoAuth = errors.New("server does not offer AUTH PLAIN")
)

// Defaults of [MailConfig].
const (
	DefaultMailTimeout   = 30 * time.Second
	DefaultSubjectPrefix = "[understudy]"
)

// MailConfig configures a [Mail]. The zero value of each field means its
// default.
type MailConfig struct {
	// Server is the relay as host:port. The port defaults to 25 (465 when
	// ImplicitTLS is set). Required.
	Server string
	// From is the sender, "admin@example.com" or "Understudy
	// <understudy@example.com>". It is both the envelope sender and the
	// From header. Required.
	From string
	// To lists the recipients, in the same forms as From. At least one is
	// required.
	To []string
	// Username and Password, when Username is set, log in with AUTH
	// PLAIN. The password is only ever sent over TLS or to a loopback
	// address; otherwise Notify fails with ErrInsecureAuth. Read the
	// password from a file or the environment, not the config file.
	Username string
	Password string
	// StartTLS is "auto" (default: upgrade when the server offers it),
	// "always" or "never". Ignored with ImplicitTLS.
	StartTLS StartTLSMode
	// TLS is the TLS configuration for STARTTLS and ImplicitTLS. nil
	// verifies the server's certificate against the system roots for the
	// host of Server. A config without ServerName gets the host of Server.
	TLS *tls.Config
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465)
	// instead of upgrading with STARTTLS.
	ImplicitTLS bool
	// Hostname is sent in EHLO and used in Message-ID (default: the
	// machine's host name, from os.Hostname).
	Hostname string
	// Timeout bounds one Notify, from dialling to the server's answer to
	// the message (default 30s).
	Timeout time.Duration
	// SubjectPrefix starts every subject (default "[understudy]"). Use a
	// single space for no prefix.
	SubjectPrefix string
	// Logger receives a Debug line per mail sent (default: discard).
	Logger *slog.Logger
	// Dial opens the TCP connection (default: a net.Dialer). With
	// ImplicitTLS the TLS handshake happens on the connection it returns.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Validate reports what is wrong with c, after defaults are applied.
func (c MailConfig) Validate() error {
	_, err := c.resolve()
	return err
}

// Mail sends each event as a plain-text mail through an SMTP relay: the
// articles' `mutt -x -e "set smtp_url=smtp://10.6.6.6"`. Create it with
// [NewMail]. It is safe for concurrent use; each Notify opens its own
// connection.
type Mail struct {
	cfg    MailConfig
	host   string // of Server, for TLS and PLAIN
	from   *mail.Address
	to     []*mail.Address
	log    *slog.Logger
	prefix string
}

var _ failover.Notifier = (*Mail)(nil)

// NewMail checks cfg, applies its defaults and returns a Mail.
func NewMail(cfg MailConfig) (*Mail, error) {
	m, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return m, nil
}

// resolve applies the defaults and validates.
func (c MailConfig) resolve() (*Mail, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("notify: mail config: "+format, a...)
	}
	if c.Server == "" {
		return nil, bad("no server")
	}
	port := "25"
	if c.ImplicitTLS {
		port = "465"
	}
	host, p, err := net.SplitHostPort(c.Server)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(c.Server, "["), "]")
		p = port
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n/@") {
		return nil, bad("server %q: bad host", c.Server)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return nil, bad("server %q: bad port", c.Server)
	}
	c.Server = net.JoinHostPort(host, p)

	from, err := parseAddress(c.From)
	if err != nil {
		return nil, bad("from: %w", err)
	}
	if len(c.To) == 0 {
		return nil, bad("no recipient")
	}
	var to []*mail.Address
	for _, s := range c.To {
		a, err := parseAddress(s)
		if err != nil {
			return nil, bad("to: %w", err)
		}
		to = append(to, a)
	}
	if strings.ContainsAny(c.Username, "\x00\r\n") || strings.ContainsRune(c.Password, 0) {
		return nil, bad("username or password contains a NUL or line break")
	}
	if c.Username == "" && c.Password != "" {
		return nil, bad("password without username")
	}
	switch c.StartTLS {
	case "":
		c.StartTLS = StartTLSAuto
	case StartTLSAuto, StartTLSAlways, StartTLSNever:
	default:
		return nil, bad("starttls %q: want auto, always or never", c.StartTLS)
	}
	if c.TLS == nil {
		c.TLS = &tls.Config{ServerName: host}
	} else if c.TLS.ServerName == "" {
		c.TLS = c.TLS.Clone()
		c.TLS.ServerName = host
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, bad("no hostname given and os.Hostname failed: %w", err)
		}
		c.Hostname = h
	}
	if !validHostname(c.Hostname) {
		return nil, bad("hostname %q: want letters, digits, '-' and '.'", c.Hostname)
	}
	if c.Timeout < 0 {
		return nil, bad("negative timeout %s", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultMailTimeout
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mail{
		cfg:    c,
		host:   host,
		from:   from,
		to:     to,
		log:    log,
		prefix: oneLine(c.SubjectPrefix),
	}, nil
}

func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("address %q contains a line break", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", s, err)
	}
	return a, nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Notify mails e to the recipients. It returns once the relay accepted the
// message, or with an error naming the server and the SMTP step that
// failed.
func (m *Mail) Notify(ctx context.Context, e failover.Event) error {
	msg, err := m.Message(e)
	if err != nil {
		return fmt.Errorf("notify: mail via %s: %w", m.cfg.Server, err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := m.send(ctx, msg); err != nil {
		return fmt.Errorf("notify: mail via %s: %w", m.cfg.Server, err)
	}
	m.log.DebugContext(ctx, "mail sent", "kind", string(e.Kind), "server", m.cfg.Server, "recipients", len(m.to))
	return nil
}

// aLongTimeAgo is a deadline in the past: setting it aborts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func (m *Mail) send(ctx context.Context, msg []byte) error {
	conn, err := m.dial(ctx)
	if err != nil {
		return step(ctx, "connect", err)
	}
	defer conn.Close()
	// net/smtp knows no contexts: abort whatever I/O is blocked when ctx
	// ends. ctx.Err() is set by then, so step reports it.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
	defer stop()

	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return step(ctx, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello(m.cfg.Hostname); err != nil {
		return step(ctx, "EHLO", err)
	}
	if !m.cfg.ImplicitTLS && m.cfg.StartTLS != StartTLSNever {
		offered, _ := c.Extension("STARTTLS")
		switch {
		case offered:
			if err := c.StartTLS(m.cfg.TLS); err != nil {
				return step(ctx, "STARTTLS", err)
			}
		case m.cfg.StartTLS == StartTLSAlways:
			return ErrNoStartTLS
		}
	}
	if m.cfg.Username != "" {
		if err := m.auth(ctx, c, conn); err != nil {
			return err
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return step(ctx, "MAIL FROM", err)
	}
	for _, a := range m.to {
		if err := c.Rcpt(a.Address); err != nil {
			return step(ctx, "RCPT TO <"+a.Address+">", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return step(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return step(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return step(ctx, "DATA", err)
	}
	// The relay has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func (m *Mail) dial(ctx context.Context) (net.Conn, error) {
	dial := m.cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", m.cfg.Server)
	if err != nil || !m.cfg.ImplicitTLS {
		return conn, err
	}
	tc := tls.Client(conn, m.cfg.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// auth logs in with PLAIN, after checking that the password cannot be
// read on the way. Errors never carry the password.
func (m *Mail) auth(ctx context.Context, c *smtp.Client, conn net.Conn) error {
	_, isTLS := c.TLSConnectionState()
	if !isTLS && !isLoopback(conn.RemoteAddr()) {
		return ErrInsecureAuth
	}
	ok, mechs := c.Extension("AUTH")
	if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
		if mechs == "" {
			mechs = "none"
		}
		return fmt.Errorf("%w (offered: %s)", ErrNoAuth, mechs)
	}
	if err := c.Auth(plainAuth{user: m.cfg.Username, pass: m.cfg.Password}); err != nil {
		return step(ctx, fmt.Sprintf("AUTH PLAIN as %q", m.cfg.Username), m.redact(err))
	}
	return nil
}

// redact drops err's chain if its text shows the password, raw or in the
// base64 of the PLAIN response (a server echoing what it got).
func (m *Mail) redact(err error) error {
	if m.cfg.Password == "" {
		return err
	}
	msg := err.Error()
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + m.cfg.Username + "\x00" + m.cfg.Password))
	if !strings.Contains(msg, m.cfg.Password) && !strings.Contains(msg, resp) {
		return err
	}
	msg = strings.ReplaceAll(msg, resp, "[redacted]")
	msg = strings.ReplaceAll(msg, m.cfg.Password, "[redacted]")
	return errors.New(msg)
}

func isLoopback(a net.Addr) bool {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	return false
}

// plainAuth is SASL PLAIN (RFC 4616) without net/smtp's own checks,
// which auth does (and names the loopback rule by address, not by name).
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge after PLAIN response")
	}
	return nil, nil
}

// step names the SMTP step that failed and, when ctx ended, puts the
// context's error first in the chain.
func step(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s: %w (%w)", what, cerr, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Message renders e as the RFC 5322 message Notify sends, with CRLF line
// ends. It is exported for previews and tests; every call makes a new
// Message-ID and Date.
func (m *Mail) Message(e failover.Event) ([]byte, error) {
	body, err := bodyText(e, m.cfg.Hostname)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("Date", time.Now().Format(time.RFC1123Z))
	header("From", m.from.String())
	to := make([]string, len(m.to))
	for i, a := range m.to {
		to[i] = a.String()
	}
	header("To", strings.Join(to, ",\r\n "))
	header("Subject", encodeSubject(subject(m.prefix, e)))
	header("Message-ID", messageID(m.cfg.Hostname))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	header("X-Understudy-Event", encodeSubject(oneLine(string(e.Kind))))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := io.WriteString(qp, body); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return b.Bytes(), nil
}

// maxSubjectRunes keeps the Subject header well under the 998-octet line
// limit even when every rune needs encoding.
const maxSubjectRunes = 200

// encodeSubject encodes s (already one line) as RFC 2047 words when it is
// not plain ASCII, folding between the words.
func encodeSubject(s string) string {
	if r := []rune(s); len(r) > maxSubjectRunes {
		s = string(r[:maxSubjectRunes-1]) + "…"
	}
	enc := mime.QEncoding.Encode("utf-8", s)
	if enc == s {
		return s
	}
	// Whitespace between encoded words is not part of the text, so a fold
	// there is invisible to readers.
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

func messageID(host string) string {
	var r [16]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return "<" + hex.EncodeToString(r[:]) + "." + strconv.FormatInt(time.Now().UnixNano(), 36) + "@" + host + ">"
}
