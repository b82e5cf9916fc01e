package health_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/health"
)

func TestTCPCheck(t *testing.T) {
	silent := serveTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	ssh := serveTCP(t, func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.2p1\r\n"); io.Copy(io.Discard, c) })
	smtp := serveTCP(t, func(c net.Conn) {
		io.WriteString(c, "220 mail ESMTP\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line == "quit\r\n" {
			io.WriteString(c, "221 bye\r\n")
		}
	})
	closer := serveTCP(t, func(c net.Conn) { io.WriteString(c, "220 hello\r\n") })

	tests := []struct {
		name string
		cfg  health.TCPConfig
		// want is nil for healthy, else a target for errors.Is.
		want error
	}{
		{"connect only", health.TCPConfig{Address: silent}, nil},
		{"banner", health.TCPConfig{Address: ssh, Expect: "SSH-"}, nil},
		{"answer to send", health.TCPConfig{Address: smtp, Send: "quit\r\n", Expect: "221 "}, nil},
		{"send without expect", health.TCPConfig{Address: silent, Send: "quit\r\n"}, nil},
		{"wrong banner", health.TCPConfig{Address: closer, Expect: "SSH-"}, health.ErrUnexpected},
		{"refused", health.TCPConfig{Address: closedPort(t)}, syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := health.NewTCP(tt.cfg)
			require.NoError(t, err)
			err = c.Check(context.Background())
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			he := requireCheckError(t, err, "tcp")
			assert.Equal(t, tt.cfg.Address, he.Target)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestTCPWrongBannerSaysWhatCame(t *testing.T) {
	addr := serveTCP(t, func(c net.Conn) { io.WriteString(c, "220 hello\r\n") })
	c, err := health.NewTCP(health.TCPConfig{Address: addr, Expect: "SSH-"})
	require.NoError(t, err)
	err = c.Check(context.Background())
	require.ErrorIs(t, err, health.ErrUnexpected)
	assert.Contains(t, err.Error(), `"SSH-"`)
	assert.Contains(t, err.Error(), `220 hello`)
}

func TestTCPTimeout(t *testing.T) {
	silent := serveTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	blockingDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	tests := []struct {
		name string
		cfg  health.TCPConfig
	}{
		{"server never answers", health.TCPConfig{Address: silent, Expect: "SSH-", Timeout: 50 * time.Millisecond}},
		{"connect never completes", health.TCPConfig{Address: "192.0.2.1:22", Timeout: 50 * time.Millisecond, Dial: blockingDial}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := health.NewTCP(tt.cfg)
			require.NoError(t, err)
			err = c.Check(context.Background())
			requireCheckError(t, err, "tcp")
			assert.True(t, isTimeout(err), "want a timeout, got %v", err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
}

func TestTCPHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server cancels the check's context once it holds the
	// connection, and never answers: only the cancel can end the read.
	addr := serveTCP(t, func(c net.Conn) { cancel(); io.Copy(io.Discard, c) })
	c, err := health.NewTCP(health.TCPConfig{Address: addr, Expect: "never", Timeout: time.Hour})
	require.NoError(t, err)
	err = c.Check(ctx)
	requireCheckError(t, err, "tcp")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTCPConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  health.TCPConfig
		ok   bool
	}{
		{"host and port", health.TCPConfig{Address: "db1:3306"}, true},
		{"ipv6", health.TCPConfig{Address: "[::1]:22"}, true},
		{"no port", health.TCPConfig{Address: "db1"}, false},
		{"empty port", health.TCPConfig{Address: "db1:"}, false},
		{"empty host", health.TCPConfig{Address: ":22"}, false},
		{"empty", health.TCPConfig{}, false},
		{"negative timeout", health.TCPConfig{Address: "db1:22", Timeout: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, nerr := health.NewTCP(tt.cfg)
			if tt.ok {
				assert.NoError(t, err)
				assert.NoError(t, nerr)
			} else {
				assert.Error(t, err)
				assert.Error(t, nerr)
			}
		})
	}
}

func TestTCPConcurrent(t *testing.T) {
	addr := serveTCP(t, func(c net.Conn) { io.WriteString(c, "SSH-2.0-x\r\n") })
	c, err := health.NewTCP(health.TCPConfig{Address: addr, Expect: "SSH-"})
	require.NoError(t, err)
	errs := make(chan error, 16)
	for range cap(errs) {
		go func() { errs <- c.Check(context.Background()) }()
	}
	for range cap(errs) {
		assert.NoError(t, <-errs)
	}
}

func BenchmarkTCPCheck(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	defer func() { l.Close(); <-done }()

	c, err := health.NewTCP(health.TCPConfig{Address: l.Addr().String()})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
