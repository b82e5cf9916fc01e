package dnsprovider_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/bindtest"
)

// userZone is a hand-written file with comments and odd spacing that
// must survive a switch byte for byte, apart from two lines.
const userZone = `; test.ru, maintained by hand -- do not reformat!
$ORIGIN test.ru.
$TTL 10
@ IN SOA ns.master.my.com. admin.my.com. (
        2026010101 ; Serial
        10 ; Refresh
        10 ; Retry
        10 ; Expire
        10 ) ; Negative Cache TTL
   IN NS ns.master.my.com.
   IN NS ns.slave.my.com.
   IN MX 10   mail   ; mail stays
;
@   IN A 10.1.0.1   ; the switched record
mail	IN	A	10.1.0.25
www	300	IN	CNAME	@
`

func TestZoneFileStaticZoneNamed(t *testing.T) {
	t.Parallel()
	s := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "test.ru", Content: userZone}}})
	file := s.ZoneFile("test.ru")
	require.NoError(t, os.Chmod(file, 0o640))
	sw, err := dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{
		Zone: "test.ru", File: file, Rndc: s.RndcArgs(), Verify: []string{s.Addr}, Timeout: 3 * time.Second,
	})
	require.NoError(t, err)

	rep, err := sw.SwitchReport(t.Context(), nodeB)
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.Equal(t, []string{"10.2.0.2 10"}, addrs(t, s, "test.ru", dns.TypeA), "named serves the new address")
	serial := s.Serial(t, "test.ru")
	assert.Greater(t, serial, uint32(2026010101), "serial bumped")

	got, err := os.ReadFile(file)
	require.NoError(t, err)
	wantFile := strings.NewReplacer(
		"2026010101 ; Serial", itoa(serial)+" ; Serial",
		"@   IN A 10.1.0.1   ;", "@   IN A 10.2.0.2   ;",
	).Replace(userZone)
	assert.Equal(t, wantFile, string(got), "only the A line and the serial changed")
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "mode kept")
	assert.Equal(t, []string{"10.1.0.25 10"}, addrs(t, s, "mail.test.ru", dns.TypeA))

	t.Run("idempotent", func(t *testing.T) {
		rep, err := sw.SwitchReport(t.Context(), nodeB)
		require.NoError(t, err)
		assert.False(t, rep.Changed)
		assert.Equal(t, serial, s.Serial(t, "test.ru"))
		again, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, string(got), string(again))
	})
	t.Run("lost reload is redone", func(t *testing.T) {
		// The file says nodeA but named was never told (a crash between
		// the write and rndc reload): Switch must notice and reload.
		edited := strings.Replace(string(got), "10.2.0.2", "10.1.0.1", 1)
		edited = strings.Replace(edited, itoa(serial), itoa(serial+1), 1)
		require.NoError(t, os.WriteFile(file, []byte(edited), 0o640))
		require.NoError(t, sw.Switch(t.Context(), nodeA))
		assert.Equal(t, []string{"10.1.0.1 10"}, addrs(t, s, "test.ru", dns.TypeA))
	})
}

func TestZoneFileFreezeNamed(t *testing.T) {
	t.Parallel()
	s := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "example.test", Updates: true}}})
	file := s.ZoneFile("example.test")
	key := s.TSIGKey
	ddns, err := dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{Zone: "example.test", Name: "ns1", TTL: 10 * time.Second, Servers: []string{s.Addr}, Key: &key})
	require.NoError(t, err)
	require.NoError(t, ddns.Switch(t.Context(), nodeA), "journal-only change before the freeze")

	cfg := dnsprovider.ZoneFileConfig{Zone: "example.test", Name: "www", File: file, Rndc: s.RndcArgs(), Verify: []string{s.Addr}, Timeout: 3 * time.Second}

	t.Run("without freeze the reload fails with BIND's reason", func(t *testing.T) {
		sw, err := dnsprovider.NewZoneFile(cfg)
		require.NoError(t, err)
		before, err := os.ReadFile(file)
		require.NoError(t, err)
		err = sw.Switch(t.Context(), nodeB)
		require.ErrorIs(t, err, dnsprovider.ErrDynamicZone)
		assert.Contains(t, err.Error(), "dynamic zone")
		after, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, string(before), string(after), "file restored")
		assert.Equal(t, []string{"192.0.2.10 10"}, addrs(t, s, "www.example.test", dns.TypeA))
	})
	t.Run("with freeze", func(t *testing.T) {
		cfg := cfg
		cfg.Freeze = true
		sw, err := dnsprovider.NewZoneFile(cfg)
		require.NoError(t, err)
		require.NoError(t, sw.Switch(t.Context(), nodeB))
		assert.Equal(t, []string{"10.2.0.2 10"}, addrs(t, s, "www.example.test", dns.TypeA))
		assert.Equal(t, []string{"10.1.0.1 10"}, addrs(t, s, "ns1.example.test", dns.TypeA), "journal change kept")
		// Thawed: dynamic updates work again.
		require.NoError(t, ddns.Switch(t.Context(), nodeB))
	})
}

func TestZoneFileRndcSequence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "db.test.ru")
	src, err := os.ReadFile("testdata/article-db.test.ru")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, src, 0o644))
	rndc := []string{"/usr/sbin/rndc", "-c", "/etc/bind/rndc.conf"}

	t.Run("freeze, thaw", func(t *testing.T) {
		rec := &cmdrun.Recorder{}
		sw, err := dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{Zone: "test.ru", File: file, Rndc: rndc, Freeze: true, Runner: rec})
		require.NoError(t, err)
		require.NoError(t, sw.Switch(t.Context(), nodeB))
		assert.Equal(t, [][]string{
			{"/usr/sbin/rndc", "-c", "/etc/bind/rndc.conf", "freeze", "test.ru"},
			{"/usr/sbin/rndc", "-c", "/etc/bind/rndc.conf", "thaw", "test.ru"},
		}, rec.Argvs())
	})
	t.Run("thaw even when the rewrite fails", func(t *testing.T) {
		rec := &cmdrun.Recorder{}
		sw, err := dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{Zone: "test.ru", Name: "nope", File: file, Rndc: rndc, Freeze: true, Runner: rec})
		require.NoError(t, err)
		require.ErrorIs(t, sw.Switch(t.Context(), nodeA), dnsprovider.ErrRecordCount)
		assert.Len(t, rec.Argvs(), 2)
		assert.Equal(t, "thaw", rec.Argvs()[1][3])
	})
	t.Run("thaw even when ctx is cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		rec := &cmdrun.Recorder{Respond: func(c cmdrun.Cmd) (cmdrun.Result, error) {
			if c.Args[2] == "freeze" {
				cancel()
			}
			return cmdrun.Result{}, nil
		}}
		sw, err := dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{Zone: "test.ru", File: file, Rndc: rndc, Freeze: true, Runner: rec})
		require.NoError(t, err)
		_ = sw.Switch(ctx, nodeA)
		require.Len(t, rec.Argvs(), 2)
		assert.Equal(t, "thaw", rec.Argvs()[1][3])
	})
	t.Run("reload failure restores the file", func(t *testing.T) {
		before, err := os.ReadFile(file)
		require.NoError(t, err)
		boom := errors.New("rndc exploded")
		rec := &cmdrun.Recorder{Respond: func(cmdrun.Cmd) (cmdrun.Result, error) { return cmdrun.Result{}, boom }}
		sw, err := dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{Zone: "test.ru", File: file, Rndc: rndc, Runner: rec})
		require.NoError(t, err)
		require.ErrorIs(t, sw.Switch(t.Context(), nodeB), boom)
		assert.Equal(t, [][]string{{"/usr/sbin/rndc", "-c", "/etc/bind/rndc.conf", "reload", "test.ru"}}, rec.Argvs())
		after, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, string(before), string(after))
	})
}
