package config

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZoneNames(t *testing.T) {
	base := `nodes:
  - {name: a, address: 10.0.0.1}
switchers:
  - {type: zonefile, zone: %q, name: www, file: /etc/bind/db.x}
`
	for _, tt := range []struct {
		zone, err string
	}{
		{zone: "test.ru"},
		{zone: "test.ru."},
		{zone: "-test.ru", err: `u.yaml:4:28: switchers[0].zone: invalid zone "-test.ru"`},
		{zone: "te st.ru", err: `invalid zone "te st.ru"`},
		{zone: "a..b", err: `invalid zone "a..b"`},
		{zone: ".", err: `invalid zone "."`},
	} {
		t.Run(tt.zone, func(t *testing.T) {
			c, err := Parse("u.yaml", []byte(fmt.Sprintf(base, tt.zone)))
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, "test.ru.", c.Switchers[0].ZoneFile.Zone)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestReservedIPAPIURL(t *testing.T) {
	t.Setenv("UNDERSTUDY_TEST_DO_TOKEN", "tok")
	base := `nodes:
  - {name: a, address: 10.0.0.1, labels: {droplet_id: "1"}}
switchers:
  - {type: do_reserved_ip, ip: 203.0.113.10, token_env: UNDERSTUDY_TEST_DO_TOKEN, api_url: %q}
`
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://api.example.test/", true},
		{"http://127.0.0.1:8080/", true},
		{"http://localhost:8080/", true},
		{"http://[::1]:8080/", true},
		{"http://api.example.test/", false},
		{"http://10.1.2.3/", false},
	} {
		t.Run(tt.url, func(t *testing.T) {
			_, err := Parse("u.yaml", []byte(fmt.Sprintf(base, tt.url)))
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "switchers[0].api_url: must be https")
		})
	}
}
