package nsthread_test

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vnetns "github.com/vishvananda/netns"

	"github.com/understudy-ha/understudy/internal/nsthread"
	"github.com/understudy-ha/understudy/internal/testkit/netns"
)

// hasVeth0 reports whether the calling thread's namespace has veth0.
func hasVeth0() bool {
	_, err := net.InterfaceByName("veth0")
	return err == nil
}

// TestDo moves into a lab node's namespace (internal/testkit/netns; needs root)
// and checks what the code sees there and that the caller stays put.
func TestDo(t *testing.T) {
	lab := netns.New(t, netns.Options{Nodes: 1})
	require.False(t, hasVeth0(), "the test's own namespace must lack veth0")
	errFromF := errors.New("from f")
	for _, tc := range []struct {
		name string
		f    func() error
		want error
	}{
		{"sees the namespace", func() error {
			if !hasVeth0() {
				return errors.New("no veth0 inside the node namespace")
			}
			return nil
		}, nil},
		{"returns f's error unwrapped", func() error { return errFromF }, errFromF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := nsthread.Do(lab.Node(0), tc.f)
			assert.Equal(t, tc.want, err)
			var e *nsthread.Error
			assert.False(t, errors.As(err, &e), "f's error is not an nsthread.Error: %v", err)
			assert.False(t, hasVeth0(), "the caller's thread left its namespace")
		})
	}
	t.Run("by path", func(t *testing.T) {
		require.NoError(t, nsthread.Do("/run/netns/"+lab.Node(0), func() error {
			if !hasVeth0() {
				return errors.New("no veth0 inside the node namespace")
			}
			return nil
		}))
	})
}

func TestErrors(t *testing.T) {
	t.Run("missing namespace", func(t *testing.T) {
		ran := false
		err := nsthread.Do("understudy-no-such-ns", func() error { ran = true; return nil })
		require.ErrorIs(t, err, syscall.ENOENT)
		assert.Contains(t, err.Error(), "understudy-no-such-ns")
		assert.False(t, ran)
	})
	t.Run("enter refused", func(t *testing.T) {
		ran := false
		err := nsthread.Run(vnetns.None(), "none", func() error { ran = true; return nil })
		var e *nsthread.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, nsthread.Enter, e.Step)
		assert.ErrorIs(t, err, syscall.EBADF)
		assert.Equal(t, "enter network namespace none: bad file descriptor", err.Error())
		assert.False(t, ran)
	})
}
