// Package smtpsink is a real SMTP server (github.com/emersion/go-smtp) on
// loopback that keeps every message it receives, for tests of what
// Understudy mails: the articles' relay (mutt's smtp_url) stands here.
//
// It accepts any sender and recipient without authentication or TLS;
// tests of those live with the mail notifier (failover/notify).
package smtpsink

import (
	"errors"
	"fmt"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one message received.
type Message struct {
	From   string
	To     []string
	Header mail.Header
	// Body is the body, decoded when it is quoted-printable.
	Body string
}

// Sink is a running server.
type Sink struct {
	// Addr is "127.0.0.1:port".
	Addr string
	mu   sync.Mutex
	msgs []Message
}

// Start runs a sink until the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	s := &Sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{sink: s}, nil
	}))
	srv.Domain = "relay.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

// Messages returns the messages received so far, in order.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Count is len(Messages()).
func (s *Sink) Count() int { return len(s.Messages()) }

type session struct {
	sink *Sink
	from string
	to   []string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return fmt.Errorf("unparsable message: %w", err)
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return errors.Join(errors.New("unreadable body"), err)
	}
	ss.sink.mu.Lock()
	ss.sink.msgs = append(ss.sink.msgs, Message{From: ss.from, To: ss.to, Header: m.Header, Body: string(b)})
	ss.sink.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }
