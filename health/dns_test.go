package health_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/health"
)

// testZone answers for example.test. Names not in it get NXDOMAIN;
// silent.example.test gets no answer at all.
var testZone = map[string][]string{
	"www.example.test.": {
		"www.example.test. 60 IN A 192.0.2.10",
		"www.example.test. 60 IN A 192.0.2.11",
		"www.example.test. 60 IN AAAA 2001:db8::1",
	},
	"alias.example.test.": {"alias.example.test. 60 IN CNAME www.example.test."},
	"example.test.": {
		"example.test. 60 IN MX 10 mail.example.test.",
		"example.test. 60 IN TXT \"v=spf1 mx -all\"",
		"example.test. 60 IN NS ns1.example.test.",
		"example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60",
	},
	"mail.example.test.": {"mail.example.test. 60 IN A 192.0.2.25"},
}

func serveDNS(w dns.ResponseWriter, q *dns.Msg) {
	name, qtype := q.Question[0].Name, q.Question[0].Qtype
	if name == "silent.example.test." {
		return
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	rrs, ok := testZone[dns.CanonicalName(name)]
	rrs = slices.Clone(rrs) // appended to below
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	// Like an authoritative server, follow a CNAME inside the zone.
	for i := 0; i < len(rrs); i++ {
		rr, err := dns.NewRR(rrs[i])
		if err != nil {
			panic(err)
		}
		switch h := rr.Header(); {
		case h.Rrtype == qtype:
			m.Answer = append(m.Answer, rr)
		case h.Rrtype == dns.TypeCNAME:
			m.Answer = append(m.Answer, rr)
			rrs = append(rrs, testZone[rr.(*dns.CNAME).Target]...)
		}
	}
	w.WriteMsg(m)
}

// startDNS runs an in-process server for testZone on 127.0.0.1 over UDP
// and TCP on the same port, and returns its address.
func startDNS(t *testing.T) string {
	t.Helper()
	var pc net.PacketConn
	var l net.Listener
	// The TCP side of a free UDP port may be taken: try another port.
	for attempt := 0; l == nil; attempt++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			require.Less(t, attempt, 10, "no port free for both UDP and TCP: %v", err)
		}
	}
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: dns.HandlerFunc(serveDNS)},
		{Listener: l, Handler: dns.HandlerFunc(serveDNS)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		go func() { done <- srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() {
			srv.Shutdown()
			<-done
		})
	}
	return pc.LocalAddr().String()
}

func TestDNSCheck(t *testing.T) {
	server := startDNS(t)
	tests := []struct {
		name    string
		cfg     health.DNSConfig
		wantErr string // "" for healthy
	}{
		{"any answer", health.DNSConfig{Name: "www.example.test"}, ""},
		{"expected addresses", health.DNSConfig{Name: "www.example.test.", Expect: []string{"192.0.2.11", "192.0.2.10"}}, ""},
		{"wrong address", health.DNSConfig{Name: "www.example.test", Expect: []string{"192.0.2.10", "192.0.2.99"}},
			"answer [192.0.2.10 192.0.2.11] lacks 192.0.2.99"},
		{"aaaa compared as address", health.DNSConfig{Name: "www.example.test", Type: "aaaa", Expect: []string{"2001:DB8:0::1"}}, ""},
		{"cname without case or dot", health.DNSConfig{Name: "alias.example.test", Type: "CNAME", Expect: []string{"WWW.Example.Test"}}, ""},
		{"address through cname", health.DNSConfig{Name: "alias.example.test", Expect: []string{"192.0.2.10"}}, ""},
		{"mx", health.DNSConfig{Name: "example.test", Type: "MX", Expect: []string{"mail.example.test"}}, ""},
		{"txt", health.DNSConfig{Name: "example.test", Type: "TXT", Expect: []string{"v=spf1 mx -all"}}, ""},
		{"ns", health.DNSConfig{Name: "example.test", Type: "NS", Expect: []string{"ns1.example.test."}}, ""},
		{"soa", health.DNSConfig{Name: "example.test", Type: "SOA", Expect: []string{"ns1.example.test"}}, ""},
		{"over tcp", health.DNSConfig{Name: "www.example.test", Net: "tcp", Expect: []string{"192.0.2.10"}}, ""},
		{"nxdomain", health.DNSConfig{Name: "nope.example.test"}, "rcode NXDOMAIN"},
		{"empty answer", health.DNSConfig{Name: "mail.example.test", Type: "AAAA"}, "empty answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Server = server
			c, err := health.NewDNS(tt.cfg)
			require.NoError(t, err)
			err = c.Check(context.Background())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			requireCheckError(t, err, "dns")
			assert.ErrorIs(t, err, health.ErrUnexpected)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDNSTimeout(t *testing.T) {
	server := startDNS(t)
	c, err := health.NewDNS(health.DNSConfig{Server: server, Name: "silent.example.test", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	err = c.Check(context.Background())
	he := requireCheckError(t, err, "dns")
	assert.Contains(t, he.Target, "silent.example.test.")
	assert.True(t, isTimeout(err), "want a timeout, got %v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, health.ErrUnexpected)
}

func TestDNSHonoursCancel(t *testing.T) {
	server := startDNS(t)
	c, err := health.NewDNS(health.DNSConfig{Server: server, Name: "silent.example.test", Timeout: time.Hour})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = c.Check(ctx)
	requireCheckError(t, err, "dns")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestDNSConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  health.DNSConfig
		ok   bool
	}{
		{"minimal", health.DNSConfig{Server: "127.0.0.1:53", Name: "example.test"}, true},
		{"server without port", health.DNSConfig{Server: "127.0.0.1", Name: "example.test"}, true},
		{"no server", health.DNSConfig{Name: "example.test"}, false},
		{"no name", health.DNSConfig{Server: "127.0.0.1:53"}, false},
		{"bad type", health.DNSConfig{Server: "127.0.0.1:53", Name: "example.test", Type: "BOGUS"}, false},
		{"bad net", health.DNSConfig{Server: "127.0.0.1:53", Name: "example.test", Net: "sctp"}, false},
		{"negative timeout", health.DNSConfig{Server: "127.0.0.1:53", Name: "example.test", Timeout: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := health.NewDNS(tt.cfg)
			if tt.ok {
				assert.NoError(t, tt.cfg.Validate())
				assert.NoError(t, err)
			} else {
				assert.Error(t, tt.cfg.Validate())
				assert.Error(t, err)
			}
		})
	}
}
