package replicate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func drbdFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "drbd", name))
	require.NoError(t, err)
	return string(b)
}

func TestParseProcDRBD(t *testing.T) {
	tests := []struct {
		file    string
		version string
		summary []string // one per device
		running bool
		lag     time.Duration
		problem string // substring of the first device's problem
		sync    *DRBDSync
	}{
		{file: "proc-07-article-inconsistent.txt", version: "0.7.21",
			summary: []string{"role:Secondary vol0:Inconsistent | Connected role:Secondary vol0:Established/DUnknown"},
			lag:     -1, problem: "local disk Inconsistent and no resync running"},
		{file: "proc-07-article-syncsource.txt", version: "0.7.21",
			summary: []string{"role:Primary vol0:Consistent | Connected role:Secondary vol0:SyncSource/DUnknown 0.9% (9m0s left)"},
			running: true, lag: 0,
			sync: &DRBDSync{Done: 0.9, Remaining: 9 * time.Minute, SpeedKiB: 5140, LeftKiB: 2812328, TotalKiB: 2832888}},
		{file: "proc-07-article-connected.txt", version: "0.7.21",
			summary: []string{"role:Primary vol0:Consistent | Connected role:Secondary vol0:Established/DUnknown"},
			running: true, lag: 0},
		{file: "proc-84-connected.txt", version: "8.4.11",
			summary: []string{"role:Primary vol0:UpToDate | Connected role:Secondary vol0:Established/UpToDate"},
			running: true, lag: 0},
		{file: "proc-84-synctarget.txt", version: "8.4.11",
			summary: []string{"role:Secondary vol0:Inconsistent | Connected role:Primary vol0:SyncTarget/UpToDate 45.2% (4m40s left)"},
			running: true, lag: 4*time.Minute + 40*time.Second,
			sync: &DRBDSync{Done: 45.2, Remaining: 4*time.Minute + 40*time.Second, SpeedKiB: 10240, LeftKiB: 2805 << 10, TotalKiB: 5120 << 10}},
		{file: "proc-84-standalone.txt", version: "8.4.11",
			summary: []string{"role:Primary vol0:UpToDate | StandAlone role:Unknown vol0:Off/DUnknown"},
			lag:     -1, problem: "StandAlone"},
		{file: "proc-84-wfconnection.txt", version: "8.4.11",
			summary: []string{"role:Secondary vol0:UpToDate | WFConnection role:Unknown vol0:Off/DUnknown"},
			lag:     -1, problem: "not connected (WFConnection)"},
		{file: "proc-84-outdated.txt", version: "8.4.11", lag: -1, problem: "not connected",
			summary: []string{"role:Secondary vol0:Outdated | WFConnection role:Unknown vol0:Off/DUnknown"}},
		{file: "proc-83-two-minors.txt", version: "8.3.13", running: true, lag: 0,
			summary: []string{
				"role:Secondary vol0:UpToDate | Connected role:Primary vol0:Established/UpToDate",
				"role:Secondary vol0:UpToDate | Connected role:Primary vol0:Established/UpToDate",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st, err := ParseProcDRBD(drbdFixture(t, tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.version, st.Version)
			assert.Equal(t, ProcDRBDSource, st.Source)
			require.Len(t, st.Resources, len(tt.summary))
			for i, r := range st.Resources {
				assert.Equal(t, tt.summary[i], r.Summary())
				assert.Equal(t, i, r.Volumes[0].Minor)
			}
			running, lag, problem := st.Resources[0].Health()
			assert.Equal(t, tt.running, running)
			assert.Equal(t, tt.lag, lag)
			if tt.problem == "" {
				assert.Empty(t, problem)
			} else {
				assert.Contains(t, problem, tt.problem)
			}
			if tt.sync != nil {
				assert.Equal(t, tt.sync, st.Resources[0].Peers[0].Volumes[0].Sync)
			}
		})
	}
}

func TestParseProcDRBDBadInput(t *testing.T) {
	dev := " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n"
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "no version line"},
		{"no version", dev, "no version line"},
		{"drbd 9", drbdFixture(t, "proc-9.txt"), "drbdadm status"},
		{"unknown major", "version: 10.0.1 (api:3)\n" + dev, "version 10.0.1 not supported"},
		{"drbd 0.6", "version: 0.6.13 (api:64)\n" + dev, "version 0.6.13 not supported"},
		{"unknown cs", "version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Happy ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n", "unknown connection state cs:Happy"},
		{"unknown disk", "version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Connected ro:Primary/Secondary ds:UpToDate/Fine C r-----\n", "unknown disk states"},
		{"no disk", "version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Connected ro:Primary/Secondary C r-----\n", "disk states"},
		{"no roles", "version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Connected ds:UpToDate/UpToDate C r-----\n", "roles"},
		{"three roles", "version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Connected ro:Primary/Secondary/Secondary ds:UpToDate/UpToDate\n", "roles"},
		{"garbage line", "version: 8.4.11 (api:1/proto:86-101)\n" + dev + "hello world\n", "line 3: unexpected line"},
		{"sync without device", "version: 8.4.11 (api:1/proto:86-101)\n\t[==>...] sync'ed: 10.0% (9/10)M\n", "without a device"},
		{"bad percentage", "version: 8.4.11 (api:1/proto:86-101)\n" + dev + "\t[==>...] sync'ed: 310.0% (9/10)M\n", "sync percentage"},
		{"left above total", "version: 8.4.11 (api:1/proto:86-101)\n" + dev + "\t[==>...] sync'ed: 10.0% (11/10)M\n", "sync amounts"},
		{"finish without sync", "version: 8.4.11 (api:1/proto:86-101)\n" + dev + "\tfinish: 0:01:00 speed: 1 (1) K/sec\n", "finish line without sync"},
		{"bad finish", "version: 8.4.11 (api:1/proto:86-101)\n" + dev + "\t[==>...] sync'ed: 10.0% (9/10)M\n\tfinish: soon speed: fast\n", "unreadable finish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProcDRBD(tt.text)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrDRBDFormat), "%v", err)
			assert.Contains(t, err.Error(), ProcDRBDSource)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseDrbdadmStatus(t *testing.T) {
	tests := []struct {
		file    string
		summary []string
		running []bool
		lag     time.Duration // of the first resource
		problem string        // substring of the first resource's problem
	}{
		{file: "status9-connected.txt", running: []bool{true},
			summary: []string{"r0 role:Secondary vol0:UpToDate | bob Connected role:Primary vol0:Established/UpToDate"}},
		{file: "status9-verbose.txt", running: []bool{true},
			summary: []string{"r0 role:Primary vol0:UpToDate | bob Connected role:Secondary vol0:Established/UpToDate"}},
		{file: "status9-synctarget.txt", running: []bool{true}, lag: -1,
			summary: []string{"r0 role:Secondary vol0:Inconsistent | bob Connected role:Primary vol0:SyncTarget/UpToDate 45.2%"}},
		{file: "status9-three-nodes-volumes.txt", running: []bool{false}, lag: -1, problem: "r0: peer carol not connected (Connecting)",
			summary: []string{"r0 role:Primary vol0:UpToDate vol1:UpToDate | bob Connected role:Secondary vol0:Established/UpToDate vol1:SyncSource/Inconsistent 12.5% | carol Connecting role:Unknown"}},
		{file: "status9-standalone.txt", running: []bool{false}, lag: -1, problem: "peer bob StandAlone",
			summary: []string{"r0 role:Primary vol0:UpToDate | bob StandAlone role:Unknown"}},
		{file: "status9-diskless.txt", running: []bool{false}, lag: -1, problem: "local disk Diskless",
			summary: []string{"r0 role:Secondary vol0:Diskless | bob Connected role:Primary vol0:Established/UpToDate"}},
		{file: "status9-two-resources.txt", running: []bool{true, false},
			summary: []string{
				"r0 role:Secondary vol0:UpToDate | bob Connected role:Primary vol0:Established/UpToDate",
				"r1 role:Secondary vol0:Outdated | bob Connecting role:Unknown",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st, err := ParseDrbdadmStatus("drbdadm status", drbdFixture(t, tt.file))
			require.NoError(t, err)
			require.Len(t, st.Resources, len(tt.summary))
			for i, r := range st.Resources {
				assert.Equal(t, tt.summary[i], r.Summary())
				running, _, _ := r.Health()
				assert.Equal(t, tt.running[i], running, r.Summary())
			}
			_, lag, problem := st.Resources[0].Health()
			assert.Equal(t, tt.lag, lag)
			if tt.problem == "" {
				assert.Empty(t, problem)
			} else {
				assert.Contains(t, problem, tt.problem)
			}
		})
	}
	t.Run("minors and volumes", func(t *testing.T) {
		st, err := ParseDrbdadmStatus("x", drbdFixture(t, "status9-three-nodes-volumes.txt"))
		require.NoError(t, err)
		r, ok := st.Resource("r0")
		require.True(t, ok)
		assert.Equal(t, []DRBDVolume{{Volume: 0, Minor: 1000, Disk: "UpToDate"}, {Volume: 1, Minor: 1001, Disk: "UpToDate"}}, r.Volumes)
		assert.Equal(t, &DRBDSync{Done: 12.5}, r.Peers[0].Volumes[1].Sync)
		_, ok = st.Resource("r9")
		assert.False(t, ok)
	})
}

func TestParseDrbdadmStatusBadInput(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "no resource"},
		{"blank", "\n\n", "no resource"},
		{"error text", "'r0' not defined in your config (for this host).\n", "no or unknown role"},
		{"no role", "r0 suspended:no\n  disk:UpToDate\n", "no or unknown role"},
		{"unknown role", "r0 role:Boss\n  disk:UpToDate\n", "unknown role:Boss"},
		{"no disk", "r0 role:Primary\n  bob role:Secondary\n    peer-disk:UpToDate\n", "no disk: line"},
		{"unknown disk", "r0 role:Primary\n  disk:Great\n", "unknown disk:Great"},
		{"unknown connection", "r0 role:Primary\n  disk:UpToDate\n  bob connection:Maybe\n", "unknown connection:Maybe"},
		{"unknown replication", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:Fast peer-disk:UpToDate\n", "unknown replication:Fast"},
		{"unknown peer disk", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    peer-disk:Fine\n", "unknown peer-disk:Fine"},
		{"bad done", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:SyncSource peer-disk:Inconsistent done:NaN\n", "done:NaN"},
		{"done above 100", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:SyncSource peer-disk:Inconsistent done:101\n", "done:101"},
		{"indented first", "  disk:UpToDate\n", "outside a resource"},
		{"duplicate key", "r0 role:Primary role:Secondary\n  disk:UpToDate\n", "role given twice"},
		{"bad volume", "r0 role:Primary\n  volume:x disk:UpToDate\n", "volume:x is not a number"},
		{"local after peer", "r0 role:Primary\n  bob role:Secondary\n    peer-disk:UpToDate\n  disk:UpToDate\n", "local volume after a peer"},
		{"tabs", "r0 role:Primary\n\tdisk:UpToDate\n", "indentation other than spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDrbdadmStatus("drbdadm status r0", tt.text)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrDRBDFormat), "%v", err)
			assert.Contains(t, err.Error(), "drbdadm status r0")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// A connected peer that lists no volume is not taken for a healthy one,
// nor is a peer whose disk is missing while no resync runs.
func TestDRBDHealthEdges(t *testing.T) {
	tests := []struct {
		name, text, problem string
	}{
		{"peer without volumes", "r0 role:Secondary\n  disk:UpToDate\n  bob role:Primary\n", "reports no volumes"},
		{"no peer", "r0 role:Primary\n  disk:UpToDate\n", "no peer configured"},
		{"peer diskless", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    peer-disk:Diskless\n", "peer disk Diskless"},
		{"peer outdated established", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    peer-disk:Outdated\n", "peer disk Outdated"},
		{"replication off", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:Off peer-disk:UpToDate\n", "replication Off"},
		{"inconsistent, peer is target", "r0 role:Secondary\n  disk:Inconsistent\n  bob role:Secondary\n    replication:SyncSource peer-disk:Inconsistent\n", "local disk Inconsistent"},
		{"syncsource to diskless", "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:SyncSource peer-disk:Diskless\n", "peer disk Diskless"},
		{"consistent is not current in 9", "r0 role:Secondary\n  disk:Consistent\n  bob role:Primary\n    peer-disk:UpToDate\n", "local disk Consistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseDrbdadmStatus("x", tt.text)
			require.NoError(t, err)
			running, lag, problem := st.Resources[0].Health()
			assert.False(t, running)
			assert.Equal(t, time.Duration(-1), lag)
			assert.Contains(t, problem, tt.problem)
		})
	}
}

// healthyClaimIsBacked checks that a healthy verdict rests on words the
// input really contains.
func healthyClaimIsBacked(t *testing.T, text string, st DRBDStatus) {
	for _, r := range st.Resources {
		running, _, problem := r.Health()
		if !running {
			if problem == "" {
				t.Fatalf("not running without a reason: %s", r.Summary())
			}
			continue
		}
		if len(r.Peers) == 0 || len(r.Volumes) == 0 {
			t.Fatalf("running without peers or volumes: %s", r.Summary())
		}
		for _, p := range r.Peers {
			if p.Connection != "Connected" || len(p.Volumes) == 0 {
				t.Fatalf("running with peer %q %s: %s", p.Name, p.Connection, r.Summary())
			}
		}
		if !strings.Contains(text, "UpToDate") && !strings.Contains(text, "Consistent") {
			t.Fatalf("running though the input names no good disk state: %q", text)
		}
	}
}

func FuzzParseProcDRBD(f *testing.F) {
	for _, name := range []string{"proc-07-article-inconsistent.txt", "proc-07-article-syncsource.txt", "proc-07-article-connected.txt",
		"proc-84-connected.txt", "proc-84-synctarget.txt", "proc-84-standalone.txt", "proc-83-two-minors.txt", "proc-9.txt"} {
		f.Add(drbdFixture(f, name))
	}
	f.Add("version: 8.4.11\n 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate\n\t[>] sync'ed: 1% (1/2)M\n\tfinish: 0:00:01 speed: 1 (1) K/sec\n")
	f.Fuzz(func(t *testing.T, text string) {
		st, err := ParseProcDRBD(text)
		if err != nil {
			if !errors.Is(err, ErrDRBDFormat) {
				t.Fatalf("error %v does not wrap ErrDRBDFormat", err)
			}
			return
		}
		if !strings.Contains(text, "cs:") && len(st.Resources) > 0 {
			t.Fatalf("devices without a cs: field")
		}
		healthyClaimIsBacked(t, text, st)
	})
}

func FuzzParseDrbdadmStatus(f *testing.F) {
	for _, name := range []string{"status9-connected.txt", "status9-verbose.txt", "status9-synctarget.txt",
		"status9-three-nodes-volumes.txt", "status9-standalone.txt", "status9-two-resources.txt", "status9-diskless.txt"} {
		f.Add(drbdFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, text string) {
		st, err := ParseDrbdadmStatus("fuzz", text)
		if err != nil {
			if !errors.Is(err, ErrDRBDFormat) {
				t.Fatalf("error %v does not wrap ErrDRBDFormat", err)
			}
			return
		}
		if len(st.Resources) == 0 {
			t.Fatalf("no error and no resource")
		}
		healthyClaimIsBacked(t, text, st)
		for _, r := range st.Resources {
			if running, _, _ := r.Health(); running && !strings.Contains(text, "peer-disk:UpToDate") &&
				!strings.Contains(text, "replication:Sync") && !strings.Contains(text, "replication:PausedSync") &&
				!strings.Contains(text, "replication:StartingSync") && !strings.Contains(text, "replication:WF") &&
				!strings.Contains(text, "replication:Skipped") {
				t.Fatalf("running without an up-to-date or resyncing peer in the input: %q", text)
			}
		}
	})
}
