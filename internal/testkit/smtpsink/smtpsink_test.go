package smtpsink

import (
	"net/smtp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReceives(t *testing.T) {
	s := Start(t)
	msg := "Subject: hello\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nline=\r\n one\r\n"
	require.NoError(t, smtp.SendMail(s.Addr, nil, "a@x.test", []string{"b@x.test", "c@x.test"}, []byte(msg)))
	require.Equal(t, 1, s.Count())
	m := s.Messages()[0]
	assert.Equal(t, "a@x.test", m.From)
	assert.Equal(t, []string{"b@x.test", "c@x.test"}, m.To)
	assert.Equal(t, "hello", m.Header.Get("Subject"))
	assert.Equal(t, "line one\r\n", m.Body)
}
