package dnsprovider

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ErrRecordCount means the zone file does not hold exactly one record of
// the type for the name, so the zone-file switcher will not guess which
// line to rewrite.
var ErrRecordCount = errors.New("dnsprovider: zone file must hold exactly one such record")

// ErrZoneSyntax means the zone file could not be parsed, or could not be
// rewritten without touching more than the record and the serial.
var ErrZoneSyntax = errors.New("dnsprovider: zone file not understood")

// zoneToken is one token of a zone file, as a byte range of the file.
type zoneToken struct{ start, end int }

// zoneEntry is one logical line of a zone file: a record or a directive,
// possibly spread over several lines by parentheses.
type zoneEntry struct {
	start, end int // from the start of its first line to after its last newline
	tokens     []zoneToken
	blankOwner bool // starts with white space: the owner is the previous one
}

// splitZone cuts zone-file text into entries following RFC 1035 §5.1:
// comments from ';', quoted strings, backslash escapes, and parentheses
// that join lines.
func splitZone(src []byte) ([]zoneEntry, error) {
	var (
		entries   []zoneEntry
		cur       *zoneEntry
		depth     int
		lineStart int
		line      = 1
	)
	begin := func() {
		if cur == nil {
			cur = &zoneEntry{start: lineStart, blankOwner: src[lineStart] == ' ' || src[lineStart] == '\t'}
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch c {
		case '\n':
			line++
			i++
			if depth == 0 {
				if cur != nil {
					cur.end = i
					entries = append(entries, *cur)
					cur = nil
				}
				lineStart = i
			}
		case ' ', '\t', '\r':
			i++
		case ';':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case '(':
			begin()
			depth++
			i++
		case ')':
			if depth == 0 {
				return nil, fmt.Errorf("%w: line %d: unbalanced )", ErrZoneSyntax, line)
			}
			depth--
			i++
		case '"':
			begin()
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\n' {
					return nil, fmt.Errorf("%w: line %d: unterminated quoted string", ErrZoneSyntax, line)
				}
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("%w: line %d: unterminated quoted string", ErrZoneSyntax, line)
			}
			cur.tokens = append(cur.tokens, zoneToken{i, j + 1})
			i = j + 1
		default:
			begin()
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n;()\"", rune(src[j])) {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(src))
			cur.tokens = append(cur.tokens, zoneToken{i, j})
			i = j
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%w: line %d: unbalanced (", ErrZoneSyntax, line)
	}
	if cur != nil {
		cur.end = len(src)
		entries = append(entries, *cur)
	}
	return entries, nil
}

// parseZoneText parses zone-file text with miekg/dns; $INCLUDE is refused.
func parseZoneText(text, origin string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrZoneSyntax, err)
	}
	return rrs, nil
}

// mappedRR is a record of the zone file with the entry it comes from.
type mappedRR struct {
	rr    dns.RR
	entry int // index into the entries; -1 for records made by $GENERATE
}

// mapZone parses src both as a whole and entry by entry, and returns the
// records in file order with the entry each comes from. The two parses
// must agree; when they do not (a corner of the syntax the splitter reads
// differently from miekg/dns), it fails rather than guess.
func mapZone(src []byte, origin string) ([]zoneEntry, []mappedRR, error) {
	all, err := parseZoneText(string(src), origin)
	if err != nil {
		return nil, nil, err
	}
	entries, err := splitZone(src)
	if err != nil {
		return nil, nil, err
	}
	var (
		out       []mappedRR
		curOrigin = origin
		defTTL    = ""   // the default TTL to state, "" when none yet
		byDir     bool   // defTTL came from $TTL
		prevOwner string // owner of the previous record
	)
	for ei, e := range entries {
		text := string(src[e.start:e.end])
		if len(e.tokens) == 0 {
			return nil, nil, fmt.Errorf("%w: empty parentheses at byte %d", ErrZoneSyntax, e.start)
		}
		first := string(src[e.tokens[0].start:e.tokens[0].end])
		if !e.blankOwner && strings.HasPrefix(first, "$") {
			switch strings.ToUpper(first) {
			case "$ORIGIN":
				rr, err := probe("$ORIGIN "+curOrigin+"\n"+text+"\n@ IN TXT probe\n", origin)
				if err != nil {
					return nil, nil, err
				}
				curOrigin = rr.Header().Name
			case "$TTL":
				rr, err := probe(text+"\n@ IN TXT probe\n", origin)
				if err != nil {
					return nil, nil, err
				}
				defTTL, byDir = strconv.FormatUint(uint64(rr.Header().Ttl), 10), true
			case "$GENERATE":
				rrs, err := parseZoneText(entryContext(curOrigin, defTTL)+text+"\n", origin)
				if err != nil {
					return nil, nil, err
				}
				for _, rr := range rrs {
					out = append(out, mappedRR{rr, -1})
				}
			case "$INCLUDE":
				return nil, nil, fmt.Errorf("%w: $INCLUDE is not supported by the zone-file switcher", ErrZoneSyntax)
			default:
				return nil, nil, fmt.Errorf("%w: unknown directive %s", ErrZoneSyntax, first)
			}
			continue
		}
		owner := ""
		if e.blankOwner {
			owner = prevOwner
			if owner == "" {
				owner = curOrigin
			}
		}
		rrs, err := parseZoneText(entryContext(curOrigin, defTTL)+owner+text+"\n", origin)
		if err != nil {
			return nil, nil, err
		}
		if len(rrs) != 1 {
			return nil, nil, fmt.Errorf("%w: entry at byte %d holds %d records", ErrZoneSyntax, e.start, len(rrs))
		}
		out = append(out, mappedRR{rrs[0], ei})
		prevOwner = rrs[0].Header().Name
		if !byDir {
			defTTL = strconv.FormatUint(uint64(rrs[0].Header().Ttl), 10)
		}
	}
	if len(out) != len(all) {
		return nil, nil, fmt.Errorf("%w: found %d records line by line but %d in the whole file", ErrZoneSyntax, len(out), len(all))
	}
	for i := range all {
		if !sameRR(all[i], out[i].rr) {
			return nil, nil, fmt.Errorf("%w: record %d reads %q line by line but %q in the whole file", ErrZoneSyntax, i+1, out[i].rr, all[i])
		}
	}
	return entries, out, nil
}

// entryContext is the preamble that gives one entry the origin and
// default TTL it has in the whole file.
func entryContext(origin, defTTL string) string {
	s := "$ORIGIN " + origin + "\n"
	if defTTL != "" {
		s += "$TTL " + defTTL + "\n"
	}
	return s
}

// probe parses text and returns its last record.
func probe(text, origin string) (dns.RR, error) {
	rrs, err := parseZoneText(text, origin)
	if err != nil {
		return nil, err
	}
	if len(rrs) == 0 {
		return nil, fmt.Errorf("%w: directive without effect", ErrZoneSyntax)
	}
	return rrs[len(rrs)-1], nil
}

// sameRR compares records including their TTL.
func sameRR(a, b dns.RR) bool {
	return dns.IsDuplicate(a, b) && a.Header().Ttl == b.Header().Ttl
}

// rewriteResult is what rewriteZone decided.
type rewriteResult struct {
	out       []byte
	changed   bool
	previous  []netip.Addr
	oldSerial uint32
	newSerial uint32
	original  []byte // the file before, set once it was replaced
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// rewriteZone points owner's records at the wanted addresses in the
// zone-file text src, bumps the SOA serial and leaves every other byte
// alone. ttl < 0 keeps each record's TTL as written; otherwise the
// record's TTL becomes ttl. When every wanted record already holds its
// address (and TTL), src is returned unchanged with changed == false.
//
// zone is the zone's name (the default origin); owner a lower-case FQDN.
// Each wanted type must have exactly one record at owner in the file
// ([ErrRecordCount] otherwise). The result is parsed again and compared
// with the expected records, so a rewrite that would alter anything else
// fails with [ErrZoneSyntax] instead of being returned.
func rewriteZone(src []byte, zone, owner string, ws []want, ttl int64, now time.Time) (rewriteResult, error) {
	origin := dns.Fqdn(zone)
	entries, rrs, err := mapZone(src, origin)
	if err != nil {
		return rewriteResult{}, err
	}
	var res rewriteResult
	expected := make([]dns.RR, len(rrs))
	for i := range rrs {
		expected[i] = rrs[i].rr
	}
	var edits []edit
	for _, w := range ws {
		var idx []int
		for i, m := range rrs {
			if m.rr.Header().Rrtype == w.Type && dns.CanonicalName(m.rr.Header().Name) == owner {
				idx = append(idx, i)
			}
		}
		if len(idx) != 1 {
			return rewriteResult{}, fmt.Errorf("%w: %d %s records for %s", ErrRecordCount, len(idx), dns.TypeToString[w.Type], owner)
		}
		m := rrs[idx[0]]
		if m.entry < 0 {
			return rewriteResult{}, fmt.Errorf("%w: the %s record for %s comes from $GENERATE", ErrRecordCount, dns.TypeToString[w.Type], owner)
		}
		old := addrOf(m.rr)
		res.previous = append(res.previous, old)
		if old == w.Addr && (ttl < 0 || int64(m.rr.Header().Ttl) == ttl) {
			continue
		}
		es, err := recordEdits(src, entries[m.entry], dns.TypeToString[w.Type], w.Addr, ttl, m.rr.Header().Ttl)
		if err != nil {
			return rewriteResult{}, err
		}
		edits = append(edits, es...)
		nrr := newAddrRR(m.rr.Header().Name, m.rr.Header().Ttl, w.Addr)
		if ttl >= 0 {
			nrr.Header().Ttl = uint32(ttl)
		}
		expected[idx[0]] = nrr
	}
	res.previous = sortedAddrs(res.previous)
	if len(edits) == 0 {
		res.out = src
		return res, nil
	}
	// The SOA serial.
	soaIdx := -1
	for i, m := range rrs {
		if _, ok := m.rr.(*dns.SOA); ok && m.entry >= 0 {
			if soaIdx >= 0 {
				return rewriteResult{}, fmt.Errorf("%w: several SOA records", ErrZoneSyntax)
			}
			soaIdx = i
		}
	}
	if soaIdx < 0 {
		return rewriteResult{}, fmt.Errorf("%w: no SOA record", ErrZoneSyntax)
	}
	soa := rrs[soaIdx].rr.(*dns.SOA)
	if dns.CanonicalName(soa.Hdr.Name) != dns.CanonicalName(origin) {
		return rewriteResult{}, fmt.Errorf("%w: SOA owner %s is not the zone %s", ErrZoneSyntax, soa.Hdr.Name, origin)
	}
	res.oldSerial = soa.Serial
	res.newSerial = nextSerial(soa.Serial, now)
	e := entries[rrs[soaIdx].entry]
	ti := typeToken(src, e, "SOA")
	if ti < 0 || ti+3 >= len(e.tokens) {
		return rewriteResult{}, fmt.Errorf("%w: cannot find the SOA serial", ErrZoneSyntax)
	}
	st := e.tokens[ti+3]
	if string(src[st.start:st.end]) != strconv.FormatUint(uint64(soa.Serial), 10) {
		return rewriteResult{}, fmt.Errorf("%w: SOA serial written as %q", ErrZoneSyntax, src[st.start:st.end])
	}
	edits = append(edits, edit{st.start, st.end, strconv.FormatUint(uint64(res.newSerial), 10)})
	nsoa := dns.Copy(soa).(*dns.SOA)
	nsoa.Serial = res.newSerial
	expected[soaIdx] = nsoa

	slices.SortFunc(edits, func(a, b edit) int { return b.start - a.start })
	out := slices.Clone(src)
	for _, ed := range edits {
		out = slices.Concat(out[:ed.start], []byte(ed.text), out[ed.end:])
	}
	// Check: the new file holds exactly the expected records.
	got, err := parseZoneText(string(out), origin)
	if err != nil {
		return rewriteResult{}, fmt.Errorf("rewritten zone does not parse: %w", err)
	}
	if len(got) != len(expected) {
		return rewriteResult{}, fmt.Errorf("%w: rewritten zone has %d records, want %d", ErrZoneSyntax, len(got), len(expected))
	}
	for i := range got {
		if !sameRR(got[i], expected[i]) {
			return rewriteResult{}, fmt.Errorf("%w: rewriting would turn %q into %q", ErrZoneSyntax, expected[i], got[i])
		}
	}
	res.out, res.changed = out, true
	return res, nil
}

// addrOf returns the address of an A or AAAA record.
func addrOf(rr dns.RR) netip.Addr {
	var a netip.Addr
	switch v := rr.(type) {
	case *dns.A:
		a, _ = netip.AddrFromSlice(v.A.To4())
	case *dns.AAAA:
		a, _ = netip.AddrFromSlice(v.AAAA.To16())
	}
	return a
}

// typeToken returns the index of the entry's type token, skipping the
// owner, or -1.
func typeToken(src []byte, e zoneEntry, typ string) int {
	first := 1
	if e.blankOwner {
		first = 0
	}
	for i := first; i < len(e.tokens); i++ {
		if strings.EqualFold(string(src[e.tokens[i].start:e.tokens[i].end]), typ) {
			return i
		}
	}
	return -1
}

// recordEdits rewrites the address of one A/AAAA entry, and its TTL when
// ttl >= 0 differs from the current one.
func recordEdits(src []byte, e zoneEntry, typ string, addr netip.Addr, ttl int64, curTTL uint32) ([]edit, error) {
	ti := typeToken(src, e, typ)
	if ti < 0 || ti != len(e.tokens)-2 {
		return nil, fmt.Errorf("%w: cannot find the address in the %s record at byte %d", ErrZoneSyntax, typ, e.start)
	}
	rd := e.tokens[ti+1]
	edits := []edit{{rd.start, rd.end, addr.String()}}
	if ttl < 0 || int64(curTTL) == ttl {
		return edits, nil
	}
	first := 1
	if e.blankOwner {
		first = 0
	}
	for i := first; i < ti; i++ {
		t := e.tokens[i]
		if c := src[t.start]; c >= '0' && c <= '9' {
			return append(edits, edit{t.start, t.end, strconv.FormatInt(ttl, 10)}), nil
		}
	}
	at := e.tokens[first].start
	return append(edits, edit{at, at, strconv.FormatInt(ttl, 10) + " "}), nil
}

// nextSerial returns the serial after old: old+1 (modulo 2^32, which RFC
// 1982 serial arithmetic treats as greater), or today's YYYYMMDD00 when
// old is a date serial (YYYYMMDDnn) from an earlier day.
func nextSerial(old uint32, now time.Time) uint32 {
	next := old + 1
	if isDateSerial(old) {
		d := now.UTC()
		today := uint32(d.Year()*1000000 + int(d.Month())*10000 + d.Day()*100)
		// today > next in both plain and RFC 1982 terms (both are far
		// below 2^31 apart).
		if today > next {
			next = today
		}
	}
	return next
}

// isDateSerial reports whether s looks like YYYYMMDDnn.
func isDateSerial(s uint32) bool {
	if s < 1990010100 || s > 2199123199 {
		return false
	}
	d := s / 100
	day, month, year := int(d%100), int(d/100%100), int(d/10000)
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	return day <= time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
