package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunMetrics starts the daemon as TestRun does (status endpoint on a
// free loopback port, found in the JSON log) and scrapes GET /metrics
// once the first round has run.
func TestRunMetrics(t *testing.T) {
	d := startInProcessDaemon(t)
	addr := d.addr

	// The first round converges on a: wait until the scrape shows it. The
	// counters move as the events happen, the gauges when the round ends
	// (Snapshot), so wait for both.
	roundDone := regexp.MustCompile(`(?m)^understudy_last_round_timestamp_seconds [1-9]`)
	var body, contentType string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return false
		}
		body, contentType = string(b), resp.Header.Get("Content-Type")
		return strings.Contains(body, "understudy_switches_total{to=\"a\"} 1\n") && roundDone.MatchString(body)
	}, 10*time.Second, 20*time.Millisecond, "the first round's switch never showed in /metrics")

	assert.True(t, strings.HasPrefix(contentType, "text/plain"), "content type %q", contentType)
	for _, line := range []string{
		`understudy_node_active{node="a"} 1`,
		`understudy_node_active{node="b"} 0`,
		`understudy_node_up{node="a"} 1`,
		`understudy_check_up{check="a/web",node="a",role="critical"} 1`,
		`understudy_events_total{kind="switch_done"} 1`,
		`understudy_switch_failures_total 0`,
		`understudy_switch_pending 0`,
		`understudy_isolated 0`,
		`understudy_notifications_dropped_total 0`,
	} {
		assert.Contains(t, body, line+"\n")
	}
	for _, re := range []string{
		`(?m)^understudy_check_consecutive_failures\{check="b/web",node="b",role="critical"\} [1-9]$`,
		`(?m)^understudy_check_latency_seconds\{check="a/ssh",node="a",role="notify"\} \S+$`,
		`(?m)^go_goroutines \d+$`,
		`(?m)^process_start_time_seconds \S+$`,
	} {
		assert.Regexp(t, re, body)
	}
	// Names only: no address of a node or of a check's target.
	assert.NotContains(t, body, "127.0.0.2")
	assert.NotContains(t, body, d.down)
}
