package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
)

// envelope is one message a smtpServer received.
type envelope struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool   // the message came over TLS
	AuthUser string // who logged in, if anyone
}

// smtpServer is a real SMTP server (go-smtp) on loopback that records what
// it receives.
type smtpServer struct {
	Addr string

	mu        sync.Mutex
	envelopes []envelope
	authTries int
}

type smtpServerOpts struct {
	tls         *tls.Config // offers STARTTLS when set
	implicitTLS bool        // speaks TLS from the start (tls must be set)
	user, pass  string      // accepts AUTH PLAIN with these when set
	insecure    bool        // AllowInsecureAuth
}

func startSMTP(t *testing.T, o smtpServerOpts) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c, opts: o}, nil
	}))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = o.insecure
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	var l net.Listener
	var err error
	if o.implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", o.tls)
	} else {
		srv.TLSConfig = o.tls
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

func (s *smtpServer) received() []envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.envelopes)
}

type session struct {
	srv  *smtpServer
	conn *smtp.Conn
	opts smtpServerOpts
	env  envelope
}

func (ss *session) AuthMechanisms() []string {
	if ss.opts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		ss.srv.mu.Lock()
		ss.srv.authTries++
		ss.srv.mu.Unlock()
		if user != ss.opts.user || pass != ss.opts.pass {
			return smtp.ErrAuthFailed
		}
		ss.env.AuthUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.opts.user != "" && ss.env.AuthUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.env.From = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.env.To = append(ss.env.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e := ss.env
	e.Data = b
	_, e.TLS = ss.conn.TLSConnectionState()
	ss.srv.mu.Lock()
	ss.srv.envelopes = append(ss.srv.envelopes, e)
	ss.srv.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.env = envelope{AuthUser: ss.env.AuthUser} }
func (ss *session) Logout() error { return nil }

// selfSigned returns a server TLS config with a fresh self-signed
// certificate for 127.0.0.1 and a client config that trusts only it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relay.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}

var checkDown = failover.Event{
	Time:    time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	Kind:    failover.EventCheckDown,
	Node:    "primary",
	Check:   "primary/http",
	Fails:   3,
	Err:     "dial tcp 10.1.0.1:80: connect: connection refused",
	Message: `check "primary/http" down after 3 failures`,
}

func newMail(t *testing.T, cfg notify.MailConfig) *notify.Mail {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Understudy <understudy@example.com>"
	}
	if cfg.To == nil {
		cfg.To = []string{"admin@my.com", "Ops Team <ops@example.com>"}
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "arbiter.example.com"
	}
	m, err := notify.NewMail(cfg)
	require.NoError(t, err)
	return m
}

// readBody parses a received message and returns it with its decoded body.
func readBody(t *testing.T, data []byte) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	require.NoError(t, err)
	require.Equal(t, "quoted-printable", msg.Header.Get("Content-Transfer-Encoding"))
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	return msg, strings.ReplaceAll(string(body), "\r\n", "\n")
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	require.NoError(t, err)
	return s
}

func TestMailDelivers(t *testing.T) {
	srv := startSMTP(t, smtpServerOpts{})
	m := newMail(t, notify.MailConfig{Server: srv.Addr})

	require.NoError(t, m.Notify(t.Context(), checkDown))

	got := srv.received()
	require.Len(t, got, 1)
	assert.Equal(t, "understudy@example.com", got[0].From)
	assert.Equal(t, []string{"admin@my.com", "ops@example.com"}, got[0].To)
	assert.False(t, got[0].TLS, "the server offered no STARTTLS")

	msg, body := readBody(t, got[0].Data)
	h := msg.Header
	assert.Equal(t, `[understudy] primary check down: check "primary/http" down after 3 failures`, decodeHeader(t, h.Get("Subject")))
	from, err := h.AddressList("From")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Name: "Understudy", Address: "understudy@example.com"}}, from)
	to, err := h.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Address: "admin@my.com"}, {Name: "Ops Team", Address: "ops@example.com"}}, to)
	date, err := h.Date()
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), date, time.Hour, "Date is the sending time")
	assert.Regexp(t, `^<[0-9a-f]{32}\.[0-9a-z]+@arbiter\.example\.com>$`, h.Get("Message-ID"))
	assert.Equal(t, "1.0", h.Get("MIME-Version"))
	assert.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
	assert.Equal(t, "auto-generated", h.Get("Auto-Submitted"))
	assert.Equal(t, "check_down", h.Get("X-Understudy-Event"))

	for _, want := range []string{
		"Event:    check_down",
		"Time:     2025-03-04T05:06:07Z",
		"Node:     primary",
		"Check:    primary/http",
		"Fails:    3",
		"Error:    dial tcp 10.1.0.1:80: connect: connection refused",
		"Sent by:  understudy on arbiter.example.com",
	} {
		assert.Contains(t, body, want)
	}
	_, js, ok := strings.Cut(body, "The event as JSON:\n")
	require.True(t, ok, "body ends with the event as JSON:\n%s", body)
	var back failover.Event
	require.NoError(t, json.Unmarshal([]byte(js), &back))
	assert.Equal(t, checkDown, back)
}

func TestMailHeaderInjection(t *testing.T) {
	srv := startSMTP(t, smtpServerOpts{})
	m := newMail(t, notify.MailConfig{Server: srv.Addr, To: []string{"admin@my.com"}})
	evil := failover.Event{
		Kind:    failover.EventNodeDown,
		Node:    "primary\r\nBcc: victim@example.net",
		Err:     "line one\nline two\r\n.\r\nRSET",
		Message: "down\r\nX-Injected: yes\r\n\r\nfake body\nCc: other@example.net\r.",
	}
	require.NoError(t, m.Notify(t.Context(), evil))

	got := srv.received()
	require.Len(t, got, 1)
	assert.Equal(t, []string{"admin@my.com"}, got[0].To, "no recipient added through the event")

	msg, body := readBody(t, got[0].Data)
	var keys []string
	for k := range msg.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	assert.Equal(t, []string{
		"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From",
		"Message-Id", "Mime-Version", "Subject", "To", "X-Understudy-Event",
	}, keys)
	subj := decodeHeader(t, msg.Header.Get("Subject"))
	assert.Equal(t, "[understudy] primary Bcc: victim@example.net down: down X-Injected: yes fake body Cc: other@example.net .", subj)
	// The texts arrive whole in the body, the lone "." line included.
	assert.Contains(t, body, "Error:    line one\n          line two\n          .\n          RSET")
	_, js, ok := strings.Cut(body, "The event as JSON:\n")
	require.True(t, ok)
	var back failover.Event
	require.NoError(t, json.Unmarshal([]byte(js), &back))
	assert.Equal(t, evil, back)
}

func TestMailNonASCIISubject(t *testing.T) {
	srv := startSMTP(t, smtpServerOpts{})
	m := newMail(t, notify.MailConfig{Server: srv.Addr})
	e := failover.Event{Kind: failover.EventNodeDown, Node: "сервер-1", Message: strings.Repeat("нет ответа ", 40)}
	require.NoError(t, m.Notify(t.Context(), e))
	got := srv.received()
	require.Len(t, got, 1)
	for line := range strings.SplitSeq(string(got[0].Data), "\r\n") {
		assert.LessOrEqual(t, len(line), 998, "RFC 5322 line limit")
	}
	msg, body := readBody(t, got[0].Data)
	subj := decodeHeader(t, msg.Header.Get("Subject"))
	assert.True(t, strings.HasPrefix(subj, "[understudy] сервер-1 down: нет ответа нет"), subj)
	assert.True(t, strings.HasSuffix(subj, "…"), "long subject is shortened: %s", subj)
	assert.Contains(t, body, "Node:     сервер-1")
}

func TestMailTLS(t *testing.T) {
	serverTLS, trusting := selfSigned(t)
	tests := []struct {
		name      string
		opts      smtpServerOpts
		cfg       notify.MailConfig
		wantTLS   bool
		wantErrIs error
		wantErrAs any
	}{
		{
			name:    "always with a trusted certificate",
			opts:    smtpServerOpts{tls: serverTLS},
			cfg:     notify.MailConfig{StartTLS: notify.StartTLSAlways, TLS: trusting},
			wantTLS: true,
		},
		{
			name:    "auto upgrades when offered",
			opts:    smtpServerOpts{tls: serverTLS},
			cfg:     notify.MailConfig{TLS: trusting},
			wantTLS: true,
		},
		{
			name:    "auto sends in clear text when not offered",
			opts:    smtpServerOpts{},
			cfg:     notify.MailConfig{TLS: trusting},
			wantTLS: false,
		},
		{
			name:    "never stays in clear text though offered",
			opts:    smtpServerOpts{tls: serverTLS},
			cfg:     notify.MailConfig{StartTLS: notify.StartTLSNever},
			wantTLS: false,
		},
		{
			name:    "implicit TLS",
			opts:    smtpServerOpts{tls: serverTLS, implicitTLS: true},
			cfg:     notify.MailConfig{ImplicitTLS: true, TLS: trusting},
			wantTLS: true,
		},
		{
			name:      "always without STARTTLS on the server",
			opts:      smtpServerOpts{},
			cfg:       notify.MailConfig{StartTLS: notify.StartTLSAlways, TLS: trusting},
			wantErrIs: notify.ErrNoStartTLS,
		},
		{
			name:      "default verification rejects the self-signed certificate",
			opts:      smtpServerOpts{tls: serverTLS},
			cfg:       notify.MailConfig{},
			wantErrAs: new(*tls.CertificateVerificationError),
		},
		{
			name:      "default verification rejects it with implicit TLS too",
			opts:      smtpServerOpts{tls: serverTLS, implicitTLS: true},
			cfg:       notify.MailConfig{ImplicitTLS: true},
			wantErrAs: new(*tls.CertificateVerificationError),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			tt.cfg.Server = srv.Addr
			m := newMail(t, tt.cfg)
			err := m.Notify(t.Context(), checkDown)
			switch {
			case tt.wantErrIs != nil:
				require.ErrorIs(t, err, tt.wantErrIs)
				assert.Contains(t, err.Error(), srv.Addr)
				assert.Empty(t, srv.received())
			case tt.wantErrAs != nil:
				require.ErrorAs(t, err, tt.wantErrAs)
				assert.Empty(t, srv.received())
			default:
				require.NoError(t, err)
				got := srv.received()
				require.Len(t, got, 1)
				assert.Equal(t, tt.wantTLS, got[0].TLS)
			}
		})
	}
}

// fakeRemote makes a loopback connection look as if it went elsewhere, to
// test the rule on clear-text passwords without leaving the machine.
type fakeRemote struct {
	net.Conn
	addr net.Addr
}

func (c fakeRemote) RemoteAddr() net.Addr { return c.addr }

func TestMailAuth(t *testing.T) {
	const user, pass = "understudy", "s3cret-Pa55word"
	serverTLS, trusting := selfSigned(t)
	farAway := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return fakeRemote{Conn: c, addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 25), Port: 25}}, nil
	}
	tests := []struct {
		name      string
		opts      smtpServerOpts
		cfg       notify.MailConfig
		wantErrIs error
		wantTries int // AUTH attempts the server saw
	}{
		{
			name:      "PLAIN over STARTTLS",
			opts:      smtpServerOpts{tls: serverTLS, user: user, pass: pass},
			cfg:       notify.MailConfig{TLS: trusting, StartTLS: notify.StartTLSAlways, Username: user, Password: pass},
			wantTries: 1,
		},
		{
			name:      "PLAIN over implicit TLS",
			opts:      smtpServerOpts{tls: serverTLS, implicitTLS: true, user: user, pass: pass},
			cfg:       notify.MailConfig{TLS: trusting, ImplicitTLS: true, Username: user, Password: pass},
			wantTries: 1,
		},
		{
			name:      "PLAIN in clear text to loopback",
			opts:      smtpServerOpts{user: user, pass: pass, insecure: true},
			cfg:       notify.MailConfig{Username: user, Password: pass},
			wantTries: 1,
		},
		{
			name:      "clear text to a non-loopback address is refused",
			opts:      smtpServerOpts{user: user, pass: pass, insecure: true},
			cfg:       notify.MailConfig{Username: user, Password: pass, Dial: farAway},
			wantErrIs: notify.ErrInsecureAuth,
		},
		{
			name:      "server without AUTH",
			opts:      smtpServerOpts{tls: serverTLS},
			cfg:       notify.MailConfig{TLS: trusting, Username: user, Password: pass},
			wantErrIs: notify.ErrNoAuth,
		},
		{
			name:      "wrong password",
			opts:      smtpServerOpts{tls: serverTLS, user: user, pass: "other"},
			cfg:       notify.MailConfig{TLS: trusting, Username: user, Password: pass},
			wantErrIs: errAny,
			wantTries: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			tt.cfg.Server = srv.Addr
			m := newMail(t, tt.cfg)
			err := m.Notify(t.Context(), checkDown)
			srv.mu.Lock()
			tries := srv.authTries
			srv.mu.Unlock()
			assert.Equal(t, tt.wantTries, tries)
			if tt.wantErrIs == nil {
				require.NoError(t, err)
				got := srv.received()
				require.Len(t, got, 1)
				assert.Equal(t, user, got[0].AuthUser)
				return
			}
			require.Error(t, err)
			if tt.wantErrIs != errAny {
				require.ErrorIs(t, err, tt.wantErrIs)
			}
			assert.Empty(t, srv.received())
			assert.Contains(t, err.Error(), srv.Addr)
			assert.NotContains(t, err.Error(), pass)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

// errAny in a table means "some error, whatever it is".
var errAny = errors.New("any error")

func TestMailServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	m := newMail(t, notify.MailConfig{Server: addr})
	err = m.Notify(t.Context(), checkDown)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Contains(t, err.Error(), "mail via "+addr)
}

// silentServer accepts connections and never says a word; it reports each
// accepted connection on the returned channel.
func silentServer(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan struct{}, 10)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String(), accepted
}

func TestMailContextCancel(t *testing.T) {
	addr, accepted := silentServer(t)
	m := newMail(t, notify.MailConfig{Server: addr})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- m.Notify(ctx, checkDown) }()
	<-accepted // Notify now waits for a greeting that never comes
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), addr)
}

func TestMailTimeout(t *testing.T) {
	addr, _ := silentServer(t)
	m := newMail(t, notify.MailConfig{Server: addr, Timeout: 50 * time.Millisecond})
	err := m.Notify(t.Context(), checkDown)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "greeting")
}

func TestNewMailValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  notify.MailConfig
		want string // in the error
	}{
		{"no server", notify.MailConfig{From: "a@b.c", To: []string{"d@e.f"}}, "no server"},
		{"bad port", notify.MailConfig{Server: "relay:smtp", From: "a@b.c", To: []string{"d@e.f"}}, "bad port"},
		{"bad from", notify.MailConfig{Server: "relay", From: "not an address", To: []string{"d@e.f"}}, "from"},
		{"from with newline", notify.MailConfig{Server: "relay", From: "a@b.c\r\nBcc: x@y.z", To: []string{"d@e.f"}}, "line break"},
		{"no recipient", notify.MailConfig{Server: "relay", From: "a@b.c"}, "no recipient"},
		{"bad recipient", notify.MailConfig{Server: "relay", From: "a@b.c", To: []string{"d@e.f", "oops"}}, `"oops"`},
		{"bad starttls", notify.MailConfig{Server: "relay", From: "a@b.c", To: []string{"d@e.f"}, StartTLS: "sometimes"}, "sometimes"},
		{"bad hostname", notify.MailConfig{Server: "relay", From: "a@b.c", To: []string{"d@e.f"}, Hostname: "a b"}, "hostname"},
		{"password alone", notify.MailConfig{Server: "relay", From: "a@b.c", To: []string{"d@e.f"}, Password: "x"}, "password without username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := notify.NewMail(tt.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, err.Error(), tt.cfg.Validate().Error())
		})
	}
}

func TestMailDefaultPort(t *testing.T) {
	// A dialler that records where Notify goes, then fails.
	var got []string
	dial := func(_ context.Context, _, addr string) (net.Conn, error) {
		got = append(got, addr)
		return nil, errors.New("not dialling")
	}
	for _, cfg := range []notify.MailConfig{
		{Server: "10.6.6.6"},
		{Server: "mail.example.com", ImplicitTLS: true},
		{Server: "[2001:db8::25]"},
		{Server: "10.6.6.6:587"},
	} {
		cfg.From, cfg.To, cfg.Dial = "a@b.c", []string{"d@e.f"}, dial
		m, err := notify.NewMail(cfg)
		require.NoError(t, err)
		require.Error(t, m.Notify(t.Context(), checkDown))
	}
	assert.Equal(t, []string{"10.6.6.6:25", "mail.example.com:465", "[2001:db8::25]:25", "10.6.6.6:587"}, got)
}
