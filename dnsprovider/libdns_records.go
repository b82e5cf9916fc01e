package dnsprovider

import (
	"strings"
	"time"

	"github.com/libdns/libdns"
)

// typed turns records into libdns's typed structs (Address, TXT, MX…),
// as libdns asks implementations to return; records it cannot parse are
// returned as RR.
func typed(recs []libdns.Record) []libdns.Record {
	out := make([]libdns.Record, 0, len(recs))
	for _, r := range recs {
		rr := r.RR()
		if rr.Name == "" {
			rr.Name = "@"
		}
		p, err := rr.Parse()
		if err != nil {
			out = append(out, rr)
			continue
		}
		out = append(out, p)
	}
	return out
}

// relative returns the records as RR with "@" for an empty name.
func relative(recs []libdns.Record) []libdns.Record {
	out := make([]libdns.Record, len(recs))
	for i, r := range recs {
		rr := r.RR()
		if rr.Name == "" {
			rr.Name = "@"
		}
		rr.Type = strings.ToUpper(rr.Type)
		out[i] = rr
	}
	return out
}

// groupRRsets splits records by (name, type), keeping first-seen order.
func groupRRsets(recs []libdns.Record) [][]libdns.Record {
	idx := map[[2]string]int{}
	var out [][]libdns.Record
	for _, r := range recs {
		rr := r.RR()
		k := [2]string{strings.ToLower(rr.Name), strings.ToUpper(rr.Type)}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// filterRRset returns the records of cur at (name, type).
func filterRRset(cur []libdns.Record, name, typ string) []libdns.Record {
	var out []libdns.Record
	for _, r := range cur {
		rr := r.RR()
		if strings.EqualFold(rr.Name, name) && strings.EqualFold(rr.Type, typ) {
			out = append(out, r)
		}
	}
	return out
}

func containsData(recs []libdns.Record, data string) bool {
	for _, r := range recs {
		if r.RR().Data == data {
			return true
		}
	}
	return false
}

// sameRRset reports whether old and want hold the same data with the
// same TTLs.
func sameRRset(old, want []libdns.Record) bool {
	if len(old) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, o := range old {
			if o.RR().Data == w.RR().Data && o.RR().TTL/time.Second == w.RR().TTL/time.Second {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// matching returns the records of cur that one of del matches the way
// libdns's DeleteRecords documents: same name, and same type, TTL and
// data unless those are left empty.
func matching(cur, del []libdns.Record) []libdns.Record {
	var out []libdns.Record
	for _, c := range cur {
		cr := c.RR()
		for _, d := range del {
			dr := d.RR()
			if !strings.EqualFold(cr.Name, dr.Name) ||
				(dr.Type != "" && !strings.EqualFold(cr.Type, dr.Type)) ||
				(dr.TTL != 0 && cr.TTL/time.Second != dr.TTL/time.Second) ||
				(dr.Data != "" && cr.Data != dr.Data) {
				continue
			}
			out = append(out, c)
			break
		}
	}
	return out
}
