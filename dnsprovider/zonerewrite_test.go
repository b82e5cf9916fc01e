package dnsprovider

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var day = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func wantA(s string) []want { return []want{{dns.TypeA, netip.MustParseAddr(s)}} }

// TestRewriteArticleZone rewrites the article's db.test.ru the way
// compare.sh meant to (10.1.0.1 -> 10.2.0.2), but only the A line and the
// serial change.
func TestRewriteArticleZone(t *testing.T) {
	src, err := os.ReadFile("testdata/article-db.test.ru")
	require.NoError(t, err)
	wantOut, err := os.ReadFile("testdata/article-db.test.ru.want")
	require.NoError(t, err)

	res, err := rewriteZone(src, "test.ru", "test.ru.", wantA("10.2.0.2"), -1, day)
	require.NoError(t, err)
	assert.True(t, res.changed)
	assert.Equal(t, string(wantOut), string(res.out))
	assert.Equal(t, uint32(2), res.oldSerial)
	assert.Equal(t, uint32(3), res.newSerial)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.1.0.1")}, res.previous)

	// And back: idempotent when already there.
	again, err := rewriteZone(res.out, "test.ru", "test.ru.", wantA("10.2.0.2"), -1, day)
	require.NoError(t, err)
	assert.False(t, again.changed)
	assert.Equal(t, string(res.out), string(again.out))
}

func TestRewriteZone(t *testing.T) {
	const zone = `$TTL 300 ; default
@ IN SOA ns1 hostmaster ( 2026112003 3600 600 86400 300 )
  IN NS ns1 ; the one NS
ns1   IN A 192.0.2.1
www   IN A 192.0.2.10 ; web
      IN AAAA 2001:db8::10
      IN MX 10 mail
mail  IN A 192.0.2.25
txt   IN TXT "www IN A 192.0.2.10 ; not a comment"
rr    IN A 192.0.2.40
rr    IN A 192.0.2.41
`
	tests := []struct {
		name    string
		src     string
		owner   string
		ws      []want
		ttl     int64
		want    string // expected output; "" when an error is expected
		wantErr error
	}{
		{
			name:  "address only; date serial moves to today",
			src:   zone,
			owner: "www.example.test.",
			ws:    wantA("198.51.100.7"),
			ttl:   -1,
			want: strings.NewReplacer("2026112003", "2026112100", "www   IN A 192.0.2.10 ;", "www   IN A 198.51.100.7 ;").
				Replace(zone),
		},
		{
			name:  "TTL inserted after the owner",
			src:   zone,
			owner: "www.example.test.",
			ws:    wantA("198.51.100.7"),
			ttl:   60,
			want: strings.NewReplacer("2026112003", "2026112100", "www   IN A 192.0.2.10 ;", "www   60 IN A 198.51.100.7 ;").
				Replace(zone),
		},
		{
			name:  "AAAA on a line with an inherited owner",
			src:   zone,
			owner: "www.example.test.",
			ws:    []want{{dns.TypeAAAA, netip.MustParseAddr("2001:db8::99")}},
			ttl:   -1,
			want: strings.NewReplacer("2026112003", "2026112100", "IN AAAA 2001:db8::10", "IN AAAA 2001:db8::99").
				Replace(zone),
		},
		{
			name:  "existing TTL replaced; apex owner with tabs as named writes it",
			src:   "$ORIGIN example.test.\n$TTL 10\n@\t\t\tIN SOA\tns1 hostmaster 7 60 30 3600 10\nwww\t\t\t10\tIN A\t192.0.2.10\n",
			owner: "www.example.test.",
			ws:    wantA("192.0.2.20"),
			ttl:   30,
			want:  "$ORIGIN example.test.\n$TTL 10\n@\t\t\tIN SOA\tns1 hostmaster 8 60 30 3600 10\nwww\t\t\t30\tIN A\t192.0.2.20\n",
		},
		{
			name:  "serial wraps around per RFC 1982",
			src:   "@ 10 IN SOA ns1 hostmaster 4294967295 60 30 3600 10\n@ 10 IN A 192.0.2.1\n",
			owner: "example.test.",
			ws:    wantA("192.0.2.2"),
			ttl:   -1,
			want:  "@ 10 IN SOA ns1 hostmaster 0 60 30 3600 10\n@ 10 IN A 192.0.2.2\n",
		},
		{
			name:    "no record for the name",
			src:     zone,
			owner:   "nope.example.test.",
			ws:      wantA("192.0.2.1"),
			ttl:     -1,
			wantErr: ErrRecordCount,
		},
		{
			name:    "several records for the name",
			src:     zone,
			owner:   "rr.example.test.",
			ws:      wantA("192.0.2.1"),
			ttl:     -1,
			wantErr: ErrRecordCount,
		},
		{
			name:    "$INCLUDE refused",
			src:     "$INCLUDE other.zone\n" + zone,
			owner:   "www.example.test.",
			ws:      wantA("192.0.2.1"),
			ttl:     -1,
			wantErr: ErrZoneSyntax,
		},
		{
			name:    "broken file",
			src:     "@ IN SOA ns1 hostmaster ( 1 2 3 4 5\n",
			owner:   "www.example.test.",
			ws:      wantA("192.0.2.1"),
			ttl:     -1,
			wantErr: ErrZoneSyntax,
		},
		{
			name:    "no SOA",
			src:     "www 10 IN A 192.0.2.1\n",
			owner:   "www.example.test.",
			ws:      wantA("192.0.2.2"),
			ttl:     -1,
			wantErr: ErrZoneSyntax,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := rewriteZone([]byte(tc.src), "example.test", tc.owner, tc.ws, tc.ttl, day)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, res.changed)
			assert.Equal(t, tc.want, string(res.out))
		})
	}
}

func TestNextSerial(t *testing.T) {
	tests := []struct {
		name string
		old  uint32
		want uint32
	}{
		{"plain counter", 2, 3},
		{"wraps", 1<<32 - 1, 0},
		{"date serial from an earlier day", 2026112003, 2026112100},
		{"date serial of today", 2026112105, 2026112106},
		{"date serial at nn=99 goes past the day", 2026112199, 2026112200},
		{"date serial in the future", 2027010100, 2027010101},
		{"not a date (month 13)", 2026130100, 2026130101},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, nextSerial(tc.old, day))
		})
	}
}

// FuzzRewriteZone: the rewrite never panics, and whatever it returns
// parses and holds the new address.
func FuzzRewriteZone(f *testing.F) {
	src, err := os.ReadFile("testdata/article-db.test.ru")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(src), "test.ru.", "10.2.0.2")
	f.Add("$TTL 10\n@ IN SOA ns1 h ( 1 2 3 4 5 ) ; x\nwww IN A 192.0.2.1\n\tIN AAAA ::1\n", "www.example.test.", "192.0.2.9")
	f.Add("@ 10 IN SOA ns1 h 4294967295 2 3 4 5\n$ORIGIN sub\nwww IN A 192.0.2.1 ; \"q\n", "www.sub.example.test.", "2001:db8::1")
	f.Fuzz(func(t *testing.T, src, owner, addr string) {
		a, err := netip.ParseAddr(addr)
		if err != nil || a.Zone() != "" {
			return
		}
		typ := dns.TypeA
		if !a.Is4() {
			typ = dns.TypeAAAA
		}
		origin := "example.test."
		if strings.HasPrefix(src, "$ORIGIN test.ru.") {
			origin = "test.ru."
		}
		owner = dns.CanonicalName(owner)
		if _, ok := dns.IsDomainName(owner); !ok {
			return
		}
		res, err := rewriteZone([]byte(src), origin, owner, []want{{typ, a}}, -1, day)
		if err != nil {
			return
		}
		rrs, err := parseZoneText(string(res.out), origin)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, res.out)
		}
		found := 0
		for _, rr := range rrs {
			if rr.Header().Rrtype == typ && dns.CanonicalName(rr.Header().Name) == owner {
				found++
				if addrOf(rr) != a {
					t.Fatalf("record %v, want %v", rr, a)
				}
			}
		}
		if found != 1 {
			t.Fatalf("%d records for %s in output", found, owner)
		}
	})
}
