package replicate

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseDrbdadmStatus reads the output of `drbdadm status` (DRBD 9, and
// drbd-utils 9 over DRBD 8.4): per resource, a line at column 0 with the
// name and role:, local volume lines indented by two (disk:, with
// volume: when there are several), and per peer a line indented by two
// (its name, role:, and connection: unless Connected) followed by its
// volume lines indented by four (replication: unless Established,
// peer-disk:, done: while resyncing):
//
//	r0 role:Primary
//	  disk:UpToDate
//	  bob role:Secondary
//	    replication:SyncSource peer-disk:Inconsistent done:45.20
//
// Resources are separated by blank lines. Keys it does not use
// (suspended:, quorum:, node-id:, the --statistics lines) are skipped; an
// unknown role, disk, connection or replication state, a missing role:
// or disk:, or a line out of place is an error wrapping [ErrDRBDFormat]
// that names source (the command that printed text).
func ParseDrbdadmStatus(source, text string) (DRBDStatus, error) {
	st := DRBDStatus{Source: source}
	var res *DRBDResource
	var peer *DRBDPeer
	finish := func() {
		if res != nil {
			st.Resources = append(st.Resources, *res)
		}
		res, peer = nil, nil
	}
	for i, raw := range strings.Split(text, "\n") {
		lineNo := i + 1
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: %s line %d: %s", ErrDRBDFormat, source, lineNo, fmt.Sprintf(format, a...))
		}
		raw = strings.TrimRight(raw, " \r")
		line := strings.TrimLeft(raw, " ")
		indent := len(raw) - len(line)
		fields := strings.Fields(line)
		if len(fields) == 0 {
			finish()
			continue
		}
		if line != strings.TrimSpace(line) {
			return st, bad("indentation other than spaces")
		}
		kv := map[string]string{}
		for _, f := range fields {
			if k, v, ok := strings.Cut(f, ":"); ok {
				if _, dup := kv[k]; dup {
					return st, bad("%s given twice", k)
				}
				kv[k] = v
			}
		}
		named := !strings.Contains(fields[0], ":")
		switch {
		case indent == 0:
			if !named {
				return st, bad("resource line without a name: %q", drbdTruncate(line, 80))
			}
			finish()
			role, ok := kv["role"]
			if !ok || !drbdRoles[role] {
				return st, bad("resource %s: no or unknown role:%s", drbdTruncate(fields[0], 40), drbdTruncate(role, 20))
			}
			res = &DRBDResource{Name: fields[0], Role: role}
		case res == nil:
			return st, bad("indented line outside a resource")
		case indent <= 3 && named:
			p := DRBDPeer{Name: fields[0], Connection: "Connected", Role: "Unknown"}
			if c, ok := kv["connection"]; ok {
				if !drbdConns[c] {
					return st, bad("peer %s: unknown connection:%s", p.Name, drbdTruncate(c, 20))
				}
				p.Connection = c
			}
			if r, ok := kv["role"]; ok {
				if !drbdRoles[r] {
					return st, bad("peer %s: unknown role:%s", p.Name, drbdTruncate(r, 20))
				}
				p.Role = r
			}
			res.Peers = append(res.Peers, p)
			peer = &res.Peers[len(res.Peers)-1]
		case indent <= 3:
			disk, ok := kv["disk"]
			if !ok {
				if _, vol := kv["volume"]; vol {
					return st, bad("resource %s: volume line without disk:", res.Name)
				}
				continue // write-ordering:, …
			}
			if peer != nil {
				return st, bad("resource %s: local volume after a peer", res.Name)
			}
			if !drbdDisks[disk] {
				return st, bad("resource %s: unknown disk:%s", res.Name, drbdTruncate(disk, 20))
			}
			v := DRBDVolume{Disk: disk, Minor: -1}
			var err error
			if v.Volume, err = drbdIntField(kv, "volume", 0); err != nil {
				return st, bad("resource %s: %v", res.Name, err)
			}
			if v.Minor, err = drbdIntField(kv, "minor", -1); err != nil {
				return st, bad("resource %s: %v", res.Name, err)
			}
			res.Volumes = append(res.Volumes, v)
		case indent <= 5 && peer != nil:
			pd, hasPD := kv["peer-disk"]
			repl, hasRepl := kv["replication"]
			if !hasPD && !hasRepl {
				continue // statistics
			}
			v := DRBDPeerVolume{Replication: "Established", PeerDisk: "DUnknown"}
			if hasRepl {
				if !drbdRepls[repl] {
					return st, bad("peer %s: unknown replication:%s", peer.Name, drbdTruncate(repl, 20))
				}
				v.Replication = repl
			}
			if hasPD {
				if !drbdDisks[pd] {
					return st, bad("peer %s: unknown peer-disk:%s", peer.Name, drbdTruncate(pd, 20))
				}
				v.PeerDisk = pd
			}
			var err error
			if v.Volume, err = drbdIntField(kv, "volume", 0); err != nil {
				return st, bad("peer %s: %v", peer.Name, err)
			}
			if d, ok := kv["done"]; ok {
				done, err := strconv.ParseFloat(d, 64)
				if err != nil || !(done >= 0 && done <= 100) {
					return st, bad("peer %s: done:%s", peer.Name, drbdTruncate(d, 20))
				}
				v.Sync = &DRBDSync{Done: done}
			}
			peer.Volumes = append(peer.Volumes, v)
		case indent <= 5 && peer == nil && !named:
			// settings and statistics of the resource or a local volume
			// (--verbose, --statistics)
		case indent >= 6:
			// deeper statistics
		default:
			return st, bad("unexpected line %q", drbdTruncate(line, 80))
		}
	}
	finish()
	if len(st.Resources) == 0 {
		return st, fmt.Errorf("%w: %s: no resource in the output", ErrDRBDFormat, source)
	}
	for _, r := range st.Resources {
		if len(r.Volumes) == 0 {
			return st, fmt.Errorf("%w: %s: resource %s has no disk: line", ErrDRBDFormat, source, r.Name)
		}
	}
	return st, nil
}

func drbdIntField(kv map[string]string, key string, def int) (int, error) {
	s, ok := kv[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<20 {
		return 0, fmt.Errorf("%s:%s is not a number", key, drbdTruncate(s, 20))
	}
	return n, nil
}
