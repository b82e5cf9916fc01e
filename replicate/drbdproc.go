package replicate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ProcDRBDSource names /proc/drbd in errors and in [DRBDStatus.Source].
const ProcDRBDSource = "/proc/drbd"

var (
	procDevice  = regexp.MustCompile(`^(\d+): cs:(\S+)(.*)$`)
	procVersion = regexp.MustCompile(`^version: (\d+)\.(\d+)\.(\d+)\S*`)
	// [>....................] sync'ed:  0.9% (2812328/2832888)K
	// [=>..] verified: 12.3% (1234/5678)M
	procSync = regexp.MustCompile(`(?:sync'ed|verified):\s*([0-9.]+)%\s*\((\d+)/(\d+)\)([KM])`)
	// finish: 0:09:00 speed: 5,140 (5,140) K/sec
	procFinish = regexp.MustCompile(`^finish:\s*(\d+):(\d\d):(\d\d)\s+speed:\s*([0-9,]+)`)
)

// ProcDRBDVersion returns the DRBD module version on the first line of
// /proc/drbd ("8.4.11") and its major number.
func ProcDRBDVersion(text string) (version string, major int, err error) {
	first, _, _ := strings.Cut(text, "\n")
	m := procVersion.FindStringSubmatch(strings.TrimSpace(first))
	if m == nil {
		return "", 0, fmt.Errorf("%w: %s: no version line (got %q)", ErrDRBDFormat, ProcDRBDSource, drbdTruncate(first, 60))
	}
	major, err = strconv.Atoi(m[1])
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s: version %q", ErrDRBDFormat, ProcDRBDSource, m[0])
	}
	return strings.TrimPrefix(m[0], "version: "), major, nil
}

// ParseProcDRBD reads /proc/drbd as DRBD 0.7 and 8.x write it: the
// version line, then per minor a state line
//
//	0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----
//
// (0.7: "st:Primary/Secondary ld:Consistent"), a counters line, and while
// resyncing a progress bar with "sync'ed: 45.2% (…)K" and a "finish: …
// speed: …" line. Each configured minor is one unnamed [DRBDResource] with
// one volume and one peer; unconfigured minors are left out. DRBD 9 lists
// no devices there: its /proc/drbd is an error wrapping [ErrDRBDFormat]
// that says to use drbdadm status, as is any other version, an unknown
// state name or a missing field. Counters are not kept.
func ParseProcDRBD(text string) (DRBDStatus, error) {
	st := DRBDStatus{Source: ProcDRBDSource}
	version, major, err := ProcDRBDVersion(text)
	if err != nil {
		return st, err
	}
	st.Version = version
	switch major {
	case 0:
		if !strings.HasPrefix(version, "0.7.") {
			return st, fmt.Errorf("%w: %s: DRBD version %s not supported (0.7 and 8.x are)", ErrDRBDFormat, ProcDRBDSource, version)
		}
	case 8:
	case 9:
		return st, fmt.Errorf("%w: %s: DRBD %s lists no devices in /proc/drbd; read drbdadm status", ErrDRBDFormat, ProcDRBDSource, version)
	default:
		return st, fmt.Errorf("%w: %s: DRBD version %s not supported (0.7 and 8.x are)", ErrDRBDFormat, ProcDRBDSource, version)
	}
	legacy := major == 0
	var cur *DRBDPeerVolume // the device whose detail lines follow
	lines := strings.Split(text, "\n")
	for i, raw := range lines[1:] {
		lineNo := i + 2
		line := strings.TrimSpace(raw)
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: %s line %d: %s", ErrDRBDFormat, ProcDRBDSource, lineNo, fmt.Sprintf(format, a...))
		}
		switch {
		case line == "":
		case procDevice.MatchString(line):
			cur = nil
			res, err := parseProcDevice(line, legacy)
			if err != nil {
				return st, bad("%v", err)
			}
			if res == nil { // Unconfigured
				continue
			}
			st.Resources = append(st.Resources, *res)
			last := &st.Resources[len(st.Resources)-1]
			cur = &last.Peers[0].Volumes[0]
		case strings.HasPrefix(line, "ns:"):
			if cur == nil {
				return st, bad("counters without a device")
			}
		case strings.Contains(line, "sync'ed:") || strings.Contains(line, "verified:"):
			if cur == nil {
				return st, bad("sync progress without a device")
			}
			m := procSync.FindStringSubmatch(line)
			if m == nil {
				return st, bad("unreadable sync progress %q", drbdTruncate(line, 80))
			}
			done, err := strconv.ParseFloat(m[1], 64)
			if err != nil || done < 0 || done > 100 {
				return st, bad("sync percentage %q", m[1])
			}
			left, err1 := strconv.ParseInt(m[2], 10, 64)
			total, err2 := strconv.ParseInt(m[3], 10, 64)
			if err1 != nil || err2 != nil || left > total {
				return st, bad("sync amounts %s/%s", m[2], m[3])
			}
			if m[4] == "M" {
				if left > 1<<40 || total > 1<<40 {
					return st, bad("sync amounts %s/%s too large", m[2], m[3])
				}
				left, total = left<<10, total<<10
			}
			if cur.Sync == nil {
				cur.Sync = &DRBDSync{}
			}
			cur.Sync.Done, cur.Sync.LeftKiB, cur.Sync.TotalKiB = done, left, total
		case strings.HasPrefix(line, "finish:"):
			if cur == nil || cur.Sync == nil {
				return st, bad("finish line without sync progress")
			}
			m := procFinish.FindStringSubmatch(line)
			if m == nil {
				return st, bad("unreadable finish line %q", drbdTruncate(line, 80))
			}
			h, _ := strconv.Atoi(m[1])
			mi, _ := strconv.Atoi(m[2])
			s, _ := strconv.Atoi(m[3])
			if h > 1_000_000 || mi > 59 || s > 59 {
				return st, bad("finish time %s:%s:%s", m[1], m[2], m[3])
			}
			cur.Sync.Remaining = time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second
			speed, err := strconv.ParseInt(strings.ReplaceAll(m[4], ",", ""), 10, 64)
			if err != nil {
				return st, bad("speed %q", m[4])
			}
			cur.Sync.SpeedKiB = speed
		case raw != line && cur != nil:
			// Other indented detail of a device (resync:, act_log: with
			// some module options): not used.
		case strings.HasPrefix(line, "GIT-hash:"), strings.HasPrefix(line, "SVN Revision:"),
			strings.HasPrefix(line, "srcversion:"), strings.HasPrefix(line, "built-in"):
			if cur != nil {
				return st, bad("header line %q after the devices", drbdTruncate(line, 40))
			}
		default:
			return st, bad("unexpected line %q", drbdTruncate(line, 80))
		}
	}
	return st, nil
}

// parseProcDevice reads one "N: cs:… ro:…/… ds:…/…" line; nil for an
// unconfigured minor.
func parseProcDevice(line string, legacy bool) (*DRBDResource, error) {
	m := procDevice.FindStringSubmatch(line)
	minor, err := strconv.Atoi(m[1])
	if err != nil || minor > 1<<20 {
		return nil, fmt.Errorf("minor %q", m[1])
	}
	cs := m[2]
	if cs == "Unconfigured" {
		return nil, nil
	}
	var roles, disks []string
	for _, f := range strings.Fields(m[3]) {
		key, val, ok := strings.Cut(f, ":")
		if !ok {
			continue // protocol letter, I/O flags
		}
		switch key {
		case "ro", "st":
			roles = strings.Split(val, "/")
		case "ds":
			disks = strings.Split(val, "/")
		case "ld":
			disks = []string{val, "DUnknown"}
		}
	}
	if len(roles) != 2 || !drbdRoles[roles[0]] || !drbdRoles[roles[1]] {
		return nil, fmt.Errorf("minor %d: no or unknown roles (ro:) in %q", minor, drbdTruncate(line, 80))
	}
	if len(disks) != 2 || !drbdDisks[disks[0]] || !drbdDisks[disks[1]] {
		return nil, fmt.Errorf("minor %d: no or unknown disk states (ds:) in %q", minor, drbdTruncate(line, 80))
	}
	peer := DRBDPeer{Connection: "Connected", Role: roles[1]}
	repl := "Established"
	switch {
	case cs == "Connected":
	case drbdRepls[cs] && cs != "Off" && cs != "Established":
		repl = cs
	case drbdConns[cs] && cs != "Connecting":
		peer.Connection = cs
	default:
		return nil, fmt.Errorf("minor %d: unknown connection state cs:%s", minor, cs)
	}
	if peer.Connection == "Connected" {
		peer.Volumes = []DRBDPeerVolume{{Volume: 0, Replication: repl, PeerDisk: disks[1]}}
	} else {
		// Keep the device's detail lines somewhere while disconnected.
		peer.Volumes = []DRBDPeerVolume{{Volume: 0, Replication: "Off", PeerDisk: disks[1]}}
	}
	return &DRBDResource{
		Role:    roles[0],
		Volumes: []DRBDVolume{{Volume: 0, Minor: minor, Disk: disks[0]}},
		Peers:   []DRBDPeer{peer},
		legacy:  legacy,
	}, nil
}

func drbdTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
