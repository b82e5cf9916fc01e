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
