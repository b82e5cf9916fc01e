package netns

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostPrefix(t *testing.T) {
	p := netip.MustParsePrefix("10.77.0.0/24")
	assert.Equal(t, "10.77.0.1/24", hostPrefix(p, 1).String())
	assert.Equal(t, "10.77.1.4/16", hostPrefix(netip.MustParsePrefix("10.77.0.0/16"), 260).String())
	assert.Equal(t, "fd00:77::2/64", hostPrefix(netip.MustParsePrefix("fd00:77::/64"), 2).String())
	assert.False(t, allowed(netip.MustParsePrefix("192.168.1.0/24")))
	assert.True(t, allowed(netip.MustParsePrefix("192.0.2.0/24")))
}

func TestLab(t *testing.T) {
	var names []string
	t.Run("build", func(t *testing.T) {
		lab := New(t, Options{Nodes: 2})
		names = []string{lab.Node(0), lab.Node(1), lab.Switch()}
		out, err := lab.Run(context.Background(), lab.Node(1), "ip", "-4", "-o", "addr", "show", "dev", "veth0")
		require.NoError(t, err)
		assert.Contains(t, string(out), lab.Addr(1).String())
		assert.Contains(t, lab.IP(lab.Switch(), "link", "show", "master", "br0"), "p1")
	})
	// Cleanup ran when the subtest ended: the namespaces are gone.
	require.Len(t, names, 3)
	for _, n := range names {
		_, err := os.Stat("/run/netns/" + n)
		assert.True(t, errors.Is(err, fs.ErrNotExist), "namespace %s left behind", n)
	}
}
