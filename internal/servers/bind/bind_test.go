package bind_test

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/bindtest"
)

// TestStart starts a real named with a static and a dynamic zone and
// checks what the harness promises: answers, the TSIG key, rndc.
func TestStart(t *testing.T) {
	t.Parallel()
	s := bindtest.Start(t, bind.Options{Zones: []bind.Zone{
		{Name: "example.test", Updates: true},
		{Name: "static.test"},
	}})

	r := s.Query(t, "www.example.test", dns.TypeA)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "192.0.2.10", r.Answer[0].(*dns.A).A.String())
	assert.True(t, r.Authoritative)
	assert.Equal(t, uint32(1), s.Serial(t, "static.test"))
	assert.Equal(t, "ddns-key", s.TSIGKey.Name)
	assert.FileExists(t, s.ZoneFile("static.test"))

	out, err := s.Rndc(t.Context(), "status")
	require.NoError(t, err)
	assert.Contains(t, out, "server is up and running")

	axfr := s.AXFR(t, "static.test")
	assert.Len(t, axfr, 5) // SOA, NS, ns1 A, www A, SOA
}

// TestParallelInstances: two servers side by side get their own ports.
func TestParallelInstances(t *testing.T) {
	t.Parallel()
	a := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "a.test"}}})
	b := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "a.test", Content: "$TTL 5\n@ IN SOA ns hm 7 1 1 1 1\n@ IN NS ns\nns IN A 127.0.0.2\n"}}})
	assert.NotEqual(t, a.Addr, b.Addr)
	assert.Equal(t, uint32(1), a.Serial(t, "a.test"))
	assert.Equal(t, uint32(7), b.Serial(t, "a.test"))
	b.Stop()
	b.Stop() // idempotent
	assert.Equal(t, uint32(1), a.Serial(t, "a.test"))
}
