package syncer_test

import (
	"strings"
	"testing"

	"github.com/understudy-ha/understudy/syncer"
)

func FuzzParseProgress(f *testing.F) {
	f.Add("        200,004 100%  190.73MB/s    0:00:00 (xfr#2, to-chk=0/4)")
	f.Add("              4   0%    0.00kB/s    0:00:00  ")
	f.Add("  1,234,567  42%    1.20MB/s    1:02:03 (xfr#9, ir-chk=10/200)")
	f.Fuzz(func(t *testing.T, line string) {
		p, ok := syncer.ParseProgress(line)
		if ok && (p.Percent < 0 || p.Percent > 100 || p.Bytes < 0) {
			t.Fatalf("out of range: %+v", p)
		}
	})
}

func FuzzParseLsyncdStatus(f *testing.F) {
	f.Add("There are 3 delays\nInotify watching 2 directories\n")
	f.Fuzz(func(t *testing.T, text string) {
		st, err := syncer.ParseLsyncdStatus([]byte(text))
		if err == nil && st.Delays < 0 {
			t.Fatalf("negative delays: %+v", st)
		}
	})
}

func FuzzLuaQuote(f *testing.F) {
	f.Add("/srv/a \"b\"\n\\")
	f.Fuzz(func(t *testing.T, s string) {
		q := syncer.LuaQuote(s)
		body := q[1 : len(q)-1]
		if strings.ContainsAny(body, "\n\r\x00") {
			t.Fatalf("raw control byte in %q", q)
		}
		// Every quote inside is escaped: strip escapes and look for one.
		for i := 0; i < len(body); i++ {
			switch body[i] {
			case '\\':
				i++
			case '"':
				t.Fatalf("unescaped quote in %q", q)
			}
		}
	})
}
