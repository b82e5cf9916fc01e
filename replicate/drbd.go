package replicate

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DRBD status, read from /proc/drbd (DRBD 0.7 and 8.x, [ParseProcDRBD])
// or from `drbdadm status` (DRBD 9, [ParseDrbdadmStatus]), in one model:
// a resource has a local role, local volumes with their disk state, and
// peers, each with a connection state and, per volume, a replication
// state, the peer's disk state and the resync progress. State names are
// DRBD's own spellings ("UpToDate", "SyncTarget", "WFConnection"); the
// parsers accept only names DRBD defines, so an unknown word is a format
// error, never a state the health rules could take for a good one.

// Errors of the DRBD implementation; each is wrapped with the resource
// or the source it concerns.
var (
	// ErrDRBDFormat: the status text is not in a format this package
	// knows (unknown version, unknown state name, missing field).
	ErrDRBDFormat = errors.New("replicate: drbd: unrecognised status")
	// ErrDRBDNotLoaded: /proc/drbd does not exist (no DRBD kernel module).
	ErrDRBDNotLoaded = errors.New("replicate: drbd: kernel module not loaded")
	// ErrDRBDNoResource: the resource (or minor) is not in the status.
	ErrDRBDNoResource = errors.New("replicate: drbd: resource not found")
	// ErrDRBDUnsafePromote: the local disk is not up to date (Inconsistent,
	// Outdated, Diskless…), so promoting it would serve stale or partial
	// data; refused unless forced.
	ErrDRBDUnsafePromote = errors.New("replicate: drbd: local disk not up to date, promotion refused")
)

// DRBDStatus is what one read of /proc/drbd or `drbdadm status` gave.
type DRBDStatus struct {
	// Source names where it was read ("/proc/drbd", "drbdadm status r0").
	Source string
	// Version is the module version from /proc/drbd ("8.4.11", "0.7.21");
	// empty when read from drbdadm status.
	Version string
	// Resources are the resources (DRBD 9) or the configured minors
	// (/proc/drbd, one resource each, with an empty Name).
	Resources []DRBDResource
}

// DRBDResource is one DRBD resource as seen from this node.
type DRBDResource struct {
	// Name is the resource name; empty for a /proc/drbd device, which
	// lists minors, not names.
	Name string
	// Role is the local role: "Primary", "Secondary" or "Unknown".
	Role string
	// Volumes are the local volumes.
	Volumes []DRBDVolume
	// Peers are the other nodes (one for DRBD 8).
	Peers []DRBDPeer
	// legacy marks DRBD 0.7, whose best disk state is "Consistent" and
	// which does not show the peer's disk.
	legacy bool
}

// DRBDVolume is one local volume (a /dev/drbdN device).
type DRBDVolume struct {
	// Volume is the volume number within the resource (0 for DRBD 8).
	Volume int
	// Minor is the device minor, or -1 when the source does not say.
	Minor int
	// Disk is the local disk state ("UpToDate", "Inconsistent", …).
	Disk string
}

// DRBDPeer is the connection to one peer node.
type DRBDPeer struct {
	// Name is the peer's node name; empty for /proc/drbd.
	Name string
	// Connection is the connection state: "Connected", "Connecting",
	// "StandAlone" (DRBD 9) or DRBD 8's "WFConnection", "Unconnected"….
	// DRBD 8's cs: field also carries replication states; a device in
	// SyncSource has Connection "Connected" and Replication "SyncSource".
	Connection string
	// Role is the peer's role ("Unknown" when not connected).
	Role string
	// Volumes are the per-volume replication states (empty while not
	// connected).
	Volumes []DRBDPeerVolume
}

// DRBDPeerVolume is the replication of one volume to one peer.
type DRBDPeerVolume struct {
	// Volume is the volume number (0 for DRBD 8).
	Volume int
	// Replication is "Established", "Off", "SyncSource", "SyncTarget",
	// "PausedSyncT", "VerifyS", "Ahead", "Behind", ….
	Replication string
	// PeerDisk is the peer's disk state ("DUnknown" when not known).
	PeerDisk string
	// Sync is the resync (or online verify) progress, nil when none runs.
	Sync *DRBDSync
}

// DRBDSync is the progress of a resync or an online verify.
type DRBDSync struct {
	// Done is the percentage done (0 to 100).
	Done float64
	// Remaining is DRBD's estimate of the time left; 0 when not given
	// (drbdadm status does not give it).
	Remaining time.Duration
	// SpeedKiB is the current rate in KiB/s; 0 when not given.
	SpeedKiB int64
	// LeftKiB and TotalKiB are what is still out of sync and the size of
	// the resync, in KiB; 0 when not given.
	LeftKiB, TotalKiB int64
}

// Resource returns the resource named name (DRBD 9; /proc/drbd devices
// have no names, see DRBDConfig.Minors).
func (s DRBDStatus) Resource(name string) (DRBDResource, bool) {
	for _, r := range s.Resources {
		if r.Name != "" && r.Name == name {
			return r, true
		}
	}
	return DRBDResource{}, false
}

// drbdSyncing reports whether a replication state moves data between the
// disks (a resync, its preparation or a pause in it).
func drbdSyncing(repl string) bool {
	switch repl {
	case "StartingSyncS", "StartingSyncT", "WFBitMapS", "WFBitMapT", "WFSyncUUID",
		"SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT", "SkippedSyncS", "SkippedSyncT":
		return true
	}
	return false
}

// drbdLocalIsTarget reports whether a replication state makes this node the
// one being brought up to date.
func drbdLocalIsTarget(repl string) bool {
	switch repl {
	case "StartingSyncT", "WFBitMapT", "WFSyncUUID", "SyncTarget", "PausedSyncT", "SkippedSyncT", "Behind":
		return true
	}
	return false
}

// upToDate reports whether a disk state holds current data. DRBD 0.7 has
// no UpToDate: its Consistent is the good state.
func (r DRBDResource) upToDate(disk string) bool {
	return disk == "UpToDate" || (r.legacy && disk == "Consistent")
}

// Health sums the resource up. Running is true when every peer is
// connected, every disk holds current data or is being resynced, and no
// disk is missing or failed; problem says what is wrong otherwise (the
// first thing found, in the words an operator would look for:
// "StandAlone", "Inconsistent", "split-brain"). lag is how far the local
// copy is behind: 0 when its disks are up to date; while it is a resync
// target, DRBD's estimate of the time left when known and -1 when not;
// -1 when it is not running.
//
// A resync counts as running (data flows and the copy converges) but a
// node that is its target reports a lag, so a [Checker] still finds it
// unfit to take over until the resync ends.
func (r DRBDResource) Health() (running bool, lag time.Duration, problem string) {
	name := r.Name
	if name == "" {
		name = "resource"
		if len(r.Volumes) > 0 && r.Volumes[0].Minor >= 0 {
			name = fmt.Sprintf("minor %d", r.Volumes[0].Minor)
		}
	}
	fail := func(format string, a ...any) (bool, time.Duration, string) {
		return false, -1, name + ": " + fmt.Sprintf(format, a...)
	}
	if len(r.Volumes) == 0 {
		return fail("no volumes")
	}
	if len(r.Peers) == 0 {
		return fail("no peer configured: nothing is replicated")
	}
	// Which local volumes are resync targets, and the worst estimate.
	target := map[int]bool{}
	var remaining time.Duration
	unknownRemaining := false
	for _, p := range r.Peers {
		who := "peer"
		if p.Name != "" {
			who = "peer " + p.Name
		}
		switch p.Connection {
		case "Connected":
		case "StandAlone":
			return fail("%s StandAlone: not connected and not trying to (after a split-brain, or disconnected by hand; see the kernel log)", who)
		default:
			return fail("%s not connected (%s)", who, p.Connection)
		}
		if len(p.Volumes) == 0 {
			return fail("%s connected but reports no volumes", who)
		}
		for _, v := range p.Volumes {
			switch {
			case v.Replication == "Off":
				return fail("%s volume %d: replication Off", who, v.Volume)
			case drbdLocalIsTarget(v.Replication):
				// The peer is the resync source: its disk must be current.
				if !r.upToDate(v.PeerDisk) && !(r.legacy && v.PeerDisk == "DUnknown") {
					return fail("%s volume %d: resync target of a peer whose disk is %s", who, v.Volume, v.PeerDisk)
				}
				target[v.Volume] = true
				if v.Sync != nil && v.Sync.Remaining > 0 {
					remaining = max(remaining, v.Sync.Remaining)
				} else {
					unknownRemaining = true
				}
			case drbdSyncing(v.Replication):
				// This node is the source: the peer's disk is being filled.
				if v.PeerDisk == "Diskless" || v.PeerDisk == "Failed" || (v.PeerDisk == "DUnknown" && !r.legacy) {
					return fail("%s volume %d: peer disk %s", who, v.Volume, v.PeerDisk)
				}
			default: // Established, VerifyS, VerifyT, Ahead
				if v.PeerDisk == "DUnknown" && r.legacy {
					continue // 0.7 does not show the peer's disk
				}
				if !r.upToDate(v.PeerDisk) {
					return fail("%s volume %d: peer disk %s and no resync running", who, v.Volume, v.PeerDisk)
				}
			}
		}
	}
	for _, v := range r.Volumes {
		switch {
		case r.upToDate(v.Disk):
		case v.Disk == "Inconsistent" && target[v.Volume]:
		case v.Disk == "Inconsistent":
			return fail("volume %d: local disk Inconsistent and no resync running (both sides inconsistent? an initial sync needs a forced promotion)", v.Volume)
		case v.Disk == "Outdated":
			return fail("volume %d: local disk Outdated", v.Volume)
		default:
			return fail("volume %d: local disk %s", v.Volume, v.Disk)
		}
	}
	if len(target) > 0 {
		if unknownRemaining {
			return true, -1, ""
		}
		return true, remaining, ""
	}
	return true, 0, ""
}

// Summary is a one-line account of the resource: role, connection and
// disk states, and resync progress.
func (r DRBDResource) Summary() string {
	var b strings.Builder
	if r.Name != "" {
		b.WriteString(r.Name + " ")
	}
	b.WriteString("role:" + r.Role)
	for _, v := range r.Volumes {
		fmt.Fprintf(&b, " vol%d:%s", v.Volume, v.Disk)
	}
	for _, p := range r.Peers {
		b.WriteString(" |")
		if p.Name != "" {
			b.WriteString(" " + p.Name)
		}
		fmt.Fprintf(&b, " %s role:%s", p.Connection, p.Role)
		for _, v := range p.Volumes {
			fmt.Fprintf(&b, " vol%d:%s/%s", v.Volume, v.Replication, v.PeerDisk)
			if v.Sync != nil {
				fmt.Fprintf(&b, " %.1f%%", v.Sync.Done)
				if v.Sync.Remaining > 0 {
					fmt.Fprintf(&b, " (%v left)", v.Sync.Remaining)
				}
			}
		}
	}
	return b.String()
}

// Known state names, from DRBD's drbd_strings.c (8.4 and 9).
var (
	drbdRoles = drbdSet("Primary", "Secondary", "Unknown")
	drbdDisks = drbdSet("Diskless", "Attaching", "Detaching", "Failed", "Negotiating",
		"Inconsistent", "Outdated", "DUnknown", "Consistent", "UpToDate")
	// drbdConns are DRBD 9 connection states plus DRBD 8 cs: values that
	// are not replication states.
	drbdConns = drbdSet("StandAlone", "Disconnecting", "Unconnected", "Timeout", "BrokenPipe",
		"NetworkFailure", "ProtocolError", "TearDown", "Connecting", "Connected",
		"WFConnection", "WFReportParams")
	drbdRepls = drbdSet("Off", "Established", "StartingSyncS", "StartingSyncT", "WFBitMapS",
		"WFBitMapT", "WFSyncUUID", "SyncSource", "SyncTarget", "VerifyS", "VerifyT",
		"PausedSyncS", "PausedSyncT", "Ahead", "Behind", "SkippedSyncS", "SkippedSyncT")
)

func drbdSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
