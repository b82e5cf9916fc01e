package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestReferenceCoversEverything: testdata/understudy.yaml, the commented
// reference, shows every top-level section and every type of check,
// switcher, group step, notifier and libdns provider, so that a new kind
// cannot be added without documenting it there.
func TestReferenceCoversEverything(t *testing.T) {
	t.Setenv("UNDERSTUDY_TEST_MYSQL_PW", "slave-pw")
	c, err := Load("testdata/understudy.yaml")
	require.NoError(t, err)

	raw, err := os.ReadFile("testdata/understudy.yaml")
	require.NoError(t, err)
	var top map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &top))
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		key, _, _ := strings.Cut(ct.Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		t.Run("section "+key, func(t *testing.T) { assert.Contains(t, top, key) })
	}

	seen := map[string]bool{}
	for _, ch := range c.Checks() {
		seen["check "+ch.Type] = true
	}
	for _, s := range append(append([]Switcher(nil), c.Switchers...), c.DDNS.Record) {
		seen["switcher "+s.Type] = true
		if s.Libdns != nil {
			seen["provider "+s.Libdns.Provider] = true
		}
		if s.Group != nil {
			for _, st := range s.Group.Steps {
				seen["group step "+st.Type] = true
			}
		}
	}
	for _, n := range c.Notify {
		seen["notifier "+n.Type] = true
	}
	providers, _ := strings.CutPrefix(fieldTag(t, reflect.TypeFor[LibdnsSwitcher](), "Provider"), "required,oneof=")
	for _, want := range []struct {
		noun  string
		kinds []string
	}{
		{"check", checkKinds}, {"switcher", switcherKinds}, {"group step", groupStepKinds},
		{"notifier", notifierKinds}, {"provider", strings.Split(providers, "|")},
	} {
		for _, k := range want.kinds {
			t.Run(want.noun+" "+k, func(t *testing.T) { assert.True(t, seen[want.noun+" "+k], "not shown in the reference") })
		}
	}

	// The sections added with the replication and sync checks load as
	// documented.
	slave := c.Nodes[1].Checks
	require.Len(t, slave, 4)
	require.NotNil(t, slave[2].Replication)
	assert.Equal(t, "slave-from-master", slave[2].Replication.Replication)
	require.NotNil(t, slave[3].Sync)
	assert.Equal(t, 10*time.Minute, slave[3].Sync.MaxAge)
	require.Len(t, c.Syncs, 4)
	assert.Equal(t, "watcher", c.Syncs[3].Tool)
	assert.Equal(t, 5*time.Minute, c.Syncs[0].Every)
	disk := c.Nodes[0].Checks[len(c.Nodes[0].Checks)-1]
	require.NotNil(t, disk.DRBD)
	assert.Equal(t, DRBDCheck{Resource: "repl", MaxLag: 30 * time.Second}, *disk.DRBD)
	require.Len(t, c.Replication, 1)
	assert.Equal(t, "monitor-pw", c.Replication[0].Replica.Password.Reveal())
	assert.True(t, c.DDNS.IsSet())
	assert.Equal(t, 5*time.Minute, c.DDNS.Every)
}

func fieldTag(t *testing.T, typ reflect.Type, name string) string {
	t.Helper()
	f, ok := typ.FieldByName(name)
	require.True(t, ok, name)
	return f.Tag.Get("cfg")
}
