package websvc

import (
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(addr string) (string, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestStopAndStartOnTheSameAddress(t *testing.T) {
	s, err := Start("127.0.0.1:0", "hello")
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	addr := s.Addr()
	body, err := get(addr)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", body)

	s.Stop()
	_, err = get(addr)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	s.Stop() // twice is fine

	require.NoError(t, s.Start())
	assert.Equal(t, addr, s.Addr())
	body, err = get(addr)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", body)
	assert.Error(t, s.Start(), "already running")
}
