package bench

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// figure parses "NAME k=v k=v" lines into a map of maps.
func figures(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	re := regexp.MustCompile(`^([a-z_]+)((?: [a-z_0-9]+=\S+)+)$`)
	kv := regexp.MustCompile(` ([a-z_0-9]+)=(\S+)`)
	got := map[string]map[string]string{}
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(out)), []byte("\n")) {
		m := re.FindSubmatch(line)
		require.NotNil(t, m, "line %q is not NAME k=v...", line)
		fields := map[string]string{}
		for _, p := range kv.FindAllSubmatch(m[2], -1) {
			fields[string(p[1])] = string(p[2])
		}
		name := string(m[1])
		if k := fields["kind"]; k != "" {
			name += "/" + k
		}
		got[name] = fields
	}
	return got
}

func positive(t *testing.T, s string) {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	require.Greater(t, v, 0.0)
}

// The bench command's output is parseable and every figure is measured
// (positive); the values themselves are not asserted.
func TestChecksFigures(t *testing.T) {
	var out bytes.Buffer
	err := Checks(t.Context(), &out, ChecksOptions{CPUChecks: 200, Duration: 200 * time.Millisecond, RSSChecks: 50, RSSInterval: 100 * time.Millisecond, RSSRounds: 2})
	require.NoError(t, err)
	f := figures(t, out.String())
	positive(t, f["check_cpu_us/tcp"]["per_check"])
	positive(t, f["check_cpu_us/tcp-bare-dial"]["per_check"])
	positive(t, f["checks_per_s/tcp"]["value"])
	require.Equal(t, "0", f["checks_per_s/tcp"]["failed"])
	positive(t, f["rss_mb"]["value"])
	require.Equal(t, "50", f["rss_mb"]["checks"])
}

func TestFailoverFigures(t *testing.T) {
	testenv.Require(t, "named", "bind9")
	var out bytes.Buffer
	err := Failover(t.Context(), &out, FailoverOptions{Intervals: []time.Duration{50 * time.Millisecond}, Runs: 2})
	require.NoError(t, err)
	f := figures(t, out.String())
	require.Equal(t, "2", f["failover_ms"]["n"])
	require.Equal(t, "50ms", f["failover_ms"]["interval"])
	positive(t, f["failover_ms"]["p50"])
	positive(t, f["failover_ms"]["p95"])
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	require.Equal(t, 3.0, percentile(xs, 50))
	require.Equal(t, 5.0, percentile(xs, 95))
	require.Equal(t, 1.0, percentile(xs, 1))
	require.Equal(t, []float64{5, 1, 4, 2, 3}, xs, "input left unsorted")
}
