package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/understudy-ha/understudy/failover"
)

// Error is one problem in a configuration file. Load and Parse return
// every problem found, joined with errors.Join, sorted by position.
type Error struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
	// Path is the field path, like "nodes[0].checks[1].timeout"; "" for
	// the top level.
	Path string
	Msg  string
}

// Error formats the problem as "FILE:LINE:COL: PATH: MESSAGE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Pos is where a node, check, switcher or notifier is written in the
// file, for messages about it that arise after loading.
type Pos struct {
	File         string
	Line, Column int
	// Path is the field path, like "switchers[2]".
	Path string
}

// String formats the position as "FILE:LINE:COL: PATH".
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Path)
}

// variant is implemented by the structs whose fields depend on their
// "type" key (checks, switchers, notifiers).
type variant interface {
	noun() string
	kinds() []string
	// variant allocates the kind-specific struct for kind and returns a
	// pointer to it, or nil for an unknown kind.
	variant(kind string) any
}

// decoder walks a yaml.Node tree into the Config structs, collecting
// every problem instead of stopping at the first.
type decoder struct {
	file      string
	dir       string // relative paths are resolved against it
	errs      []*Error
	warns     []*Error
	pos       map[string]*yaml.Node // field path → value node
	bad       map[string]bool       // field paths already reported
	lookupEnv func(string) (string, bool)
	secretEnv []string // environment variables secrets were read from
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.errs = append(d.errs, d.problem(n, path, format, args...))
}

func (d *decoder) warnf(n *yaml.Node, path, format string, args ...any) {
	d.warns = append(d.warns, d.problem(n, path, format, args...))
}

func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) *Error {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// at returns the node recorded for path, or for its nearest recorded
// parent, so that semantic errors still point at a line.
func (d *decoder) at(path string) *yaml.Node {
	for {
		if n, ok := d.pos[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.pos[""]
		}
		path = path[:i]
	}
}

// given reports whether path was present (and not null) in the file.
func (d *decoder) given(path string) bool {
	_, ok := d.pos[path]
	return ok
}

// valid reports whether path was given and decoded without error, so
// that a semantic check does not pile onto a value already reported.
func (d *decoder) valid(path string) bool {
	return d.given(path) && !d.bad[path]
}

// field describes one struct field the decoder fills.
type field struct {
	key   string
	index int
	opts  map[string]string
}

func (f field) has(opt string) bool {
	_, ok := f.opts[opt]
	return ok
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		key := sf.Tag.Get("yaml")
		if key == "" || key == "-" {
			continue
		}
		f := field{key: key, index: i, opts: map[string]string{}}
		for opt := range strings.SplitSeq(sf.Tag.Get("cfg"), ",") {
			if opt == "" {
				continue
			}
			k, v, _ := strings.Cut(opt, "=")
			f.opts[k] = v
		}
		out = append(out, f)
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows aliases and unwraps a document.
func resolve(n *yaml.Node) *yaml.Node {
	for range 100 {
		switch {
		case n == nil:
			return nil
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

// target is a struct being filled from one mapping, with its fields.
type target struct {
	v      reflect.Value
	fields []field
}

// decodeStruct fills the struct v from the mapping n.
func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	d.pos[path] = n
	if f := v.FieldByName("Pos"); f.IsValid() && f.Type() == posType {
		f.Set(reflect.ValueOf(Pos{File: d.file, Line: n.Line, Column: n.Column, Path: path}))
	}
	targets := []target{{v, fieldsOf(v.Type())}}
	quiet := false // an unknown type: do not report its fields as unknown
	if vr, ok := v.Addr().Interface().(variant); ok {
		kind, kn := "", (*yaml.Node)(nil)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "type" {
				kn = resolve(n.Content[i+1])
				kind = kn.Value
			}
		}
		switch x := vr.variant(kind); {
		case kn == nil || isNull(kn):
			quiet = true // "missing required field" is reported below
		case x == nil:
			d.errorf(kn, join(path, "type"), "unknown %s type %q (known: %s)", vr.noun(), kind, strings.Join(vr.kinds(), ", "))
			quiet = true
		default:
			xv := reflect.ValueOf(x).Elem()
			targets = append(targets, target{xv, fieldsOf(xv.Type())})
		}
	}

	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "field names must be plain words, got %s", describe(k))
			continue
		}
		key := k.Value
		if _, dup := seen[key]; dup {
			d.errorf(k, path, "field %q given twice", key)
			continue
		}
		seen[key] = k
		t, f, ok := findField(targets, key)
		switch {
		case !ok:
			if !quiet {
				d.errorf(k, path, "unknown field %q%s", key, suggest(key, targets))
			}
		case f.has("secret") && key == f.key:
			d.errorf(k, path, "field %q: secrets are not written in the configuration; use %s_file (a file holding it) or %s_env (an environment variable holding it)", key, f.key, f.key)
		case f.has("secret"):
			d.decodeSecret(k, val, join(path, key), f, seen, t.v.Field(f.index))
		default:
			d.decodeValue(val, join(path, key), t.v.Field(f.index), f)
		}
	}
	for _, t := range targets {
		for _, f := range t.fields {
			if !f.has("required") {
				continue
			}
			if f.has("secret") {
				if !d.given(join(path, f.key+"_file")) && !d.given(join(path, f.key+"_env")) {
					d.errorf(n, path, "missing %s_file or %s_env", f.key, f.key)
				}
				continue
			}
			if !d.given(join(path, f.key)) {
				d.errorf(n, path, "missing required field %q", f.key)
			}
		}
	}
}

// findField finds the field a key fills: its own name, or NAME_file and
// NAME_env for a secret field NAME.
func findField(targets []target, key string) (target, field, bool) {
	for _, t := range targets {
		for _, f := range t.fields {
			if f.key == key {
				return t, f, true
			}
			if f.has("secret") && (key == f.key+"_file" || key == f.key+"_env") {
				return t, f, true
			}
		}
	}
	return target{}, field{}, false
}

// suggest returns ` (did you mean "x"?)` for a key close to a known one.
func suggest(key string, targets []target) string {
	best, bestDist := "", 3
	for _, t := range targets {
		for _, f := range t.fields {
			names := []string{f.key}
			if f.has("secret") {
				names = []string{f.key + "_file", f.key + "_env"}
			}
			for _, name := range names {
				if dist := editDistance(key, name); dist < bestDist {
					best, bestDist = name, dist
				}
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeSecret reads NAME_file or NAME_env into the Secret v.
func (d *decoder) decodeSecret(k, val *yaml.Node, path string, f field, seen map[string]*yaml.Node, v reflect.Value) {
	other := f.key + "_env"
	if strings.HasSuffix(k.Value, "_env") {
		other = f.key + "_file"
	}
	if _, both := seen[other]; both {
		d.errorf(k, path, "give %s_file or %s_env, not both", f.key, f.key)
		return
	}
	val = resolve(val)
	if val.Kind != yaml.ScalarNode || isNull(val) || val.Value == "" {
		d.errorf(val, path, "want a non-empty string, got %s", describe(val))
		return
	}
	d.pos[path] = val
	if strings.HasSuffix(k.Value, "_env") {
		name := val.Value
		value, ok := d.lookupEnv(name)
		switch {
		case !ok:
			d.errorf(val, path, "environment variable %s is not set", name)
		case value == "":
			d.errorf(val, path, "environment variable %s is empty", name)
		default:
			v.Set(reflect.ValueOf(newSecret(value, "env "+strconv.Quote(name))))
			d.secretEnv = append(d.secretEnv, name)
		}
		return
	}
	file := d.path(val.Value)
	if !d.checkSecretFile(val, path, file) {
		return
	}
	data, err := os.ReadFile(file)
	if err != nil {
		d.errorf(val, path, "read secret: %v", err)
		return
	}
	value := strings.TrimRight(string(data), "\r\n")
	if value == "" {
		d.errorf(val, path, "secret file %s is empty", file)
		return
	}
	v.Set(reflect.ValueOf(newSecret(value, "file "+strconv.Quote(file))))
}

// checkSecretFile reports whether file is a readable regular file, and
// warns when everyone may read it.
func (d *decoder) checkSecretFile(n *yaml.Node, path, file string) bool {
	fi, err := os.Stat(file)
	if err != nil {
		d.errorf(n, path, "secret file: %v", err)
		return false
	}
	if !fi.Mode().IsRegular() {
		d.errorf(n, path, "secret file %s is not a regular file", file)
		return false
	}
	if fi.Mode().Perm()&0o004 != 0 {
		d.warnf(n, path, "secret file %s is readable by everyone (mode %04o); chmod o-r it", file, fi.Mode().Perm())
	}
	return true
}

// path resolves a path from the file against the file's directory.
func (d *decoder) path(p string) string {
	if filepath.IsAbs(p) || d.dir == "" {
		return p
	}
	return filepath.Join(d.dir, p)
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	addrType     = reflect.TypeFor[netip.Addr]()
	posType      = reflect.TypeFor[Pos]()
)

// decodeValue fills v from n. A null value leaves v as it is and counts
// as absent.
func (d *decoder) decodeValue(n *yaml.Node, path string, v reflect.Value, f field) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	d.pos[path] = n
	t := v.Type()
	switch {
	case t.Kind() == reflect.Struct && t != addrType:
		d.decodeStruct(n, path, v)
		return
	case t.Kind() == reflect.Slice:
		d.decodeSlice(n, path, v, f)
		return
	case t.Kind() == reflect.Map:
		d.decodeMap(n, path, v)
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a single value, got %s", describe(n))
		return
	}
	s := n.Value
	switch {
	case t == durationType:
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(n, path, "invalid duration %q (want a number and a unit, like 500ms, 30s, 5m or 1h30m)", s)
			return
		}
		v.SetInt(int64(dur))
	case t == addrType:
		a, err := netip.ParseAddr(s)
		if err != nil {
			d.errorf(n, path, "invalid IP address %q", s)
			return
		}
		v.Set(reflect.ValueOf(a))
	case t.Kind() == reflect.Int:
		i, err := strconv.ParseInt(s, 0, 32)
		if n.Tag != "!!int" || err != nil {
			d.errorf(n, path, "want a whole number, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if n.Tag != "!!bool" || err != nil {
			d.errorf(n, path, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case t.Kind() == reflect.String:
		if s, ok := d.checkString(n, path, s, f); ok {
			v.SetString(s)
		}
	default:
		d.errorf(n, path, "cannot decode into %s", t) // a bug in this package
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, path string, v reflect.Value, f field) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", describe(n))
		return
	}
	if len(n.Content) == 0 && (f.has("required") || f.has("argv")) {
		d.errorf(n, path, "must not be empty")
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		elem := reflect.New(v.Type().Elem()).Elem()
		ipath := fmt.Sprintf("%s[%d]", path, i)
		item = resolve(item)
		if isNull(item) {
			d.errorf(item, ipath, "empty list item")
			continue
		}
		d.decodeValue(item, ipath, elem, f)
		out = reflect.Append(out, elem)
	}
	v.Set(out)
}

func (d *decoder) decodeMap(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
			d.errorf(k, path, "want string keys and values")
			continue
		}
		m.SetMapIndex(reflect.ValueOf(k.Value), reflect.ValueOf(val.Value))
	}
	v.Set(m)
}

// checkString validates a string field by its cfg options and returns
// the value to store (paths are resolved, zones get their final dot).
func (d *decoder) checkString(n *yaml.Node, path, s string, f field) (string, bool) {
	fail := func(format string, args ...any) (string, bool) {
		d.errorf(n, path, format, args...)
		return "", false
	}
	if s == "" {
		if f.has("required") || f.has("argv") {
			return fail("must not be empty")
		}
		return s, true
	}
	if set, ok := f.opts["oneof"]; ok && !slices.Contains(strings.Split(set, "|"), s) {
		return fail("invalid value %q (want one of %s)", s, strings.ReplaceAll(set, "|", ", "))
	}
	switch {
	case f.has("name"):
		if !validName(s) {
			return fail("invalid name %q (use letters, digits, '.', '_' and '-')", s)
		}
	case f.has("hostport"):
		if err := checkHostPort(s, f.has("anyport")); err != nil {
			return fail("invalid address %q: %v (want host:port, like 10.1.0.1:53 or [2001:db8::1]:53)", s, err)
		}
	case f.has("url"):
		u, err := url.Parse(s)
		if err != nil {
			// url's error, like the URL itself, may hold a token
			// (webhook URLs often carry one in the path).
			return fail("URL does not parse (want http:// or https:// and a host)")
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail("invalid URL %q (want http:// or https:// and a host)", urlForMessage(u))
		}
	case f.has("fqdn"):
		// A leading "-" would read as an option to rndc, which has no "--".
		if strings.ContainsAny(s, " \t\n/@") || strings.Contains(s, "..") || s == "." || strings.HasPrefix(s, "-") {
			return fail("invalid zone %q", s)
		}
		if !strings.HasSuffix(s, ".") {
			s += "."
		}
	case f.has("mailaddr"):
		if _, err := mail.ParseAddress(s); err != nil {
			return fail("invalid mail address %q", s)
		}
	case f.has("path"):
		s = d.path(s)
	case f.has("secretfile"):
		s = d.path(s)
		if !d.checkSecretFile(n, path, s) {
			return "", false
		}
	case f.has("event"):
		if !slices.Contains(EventKinds(), failover.EventKind(s)) {
			var names []string
			for _, k := range EventKinds() {
				names = append(names, string(k))
			}
			return fail("unknown event kind %q (known: %s)", s, strings.Join(names, ", "))
		}
	}
	return s, true
}

// urlForMessage renders u for an error: its scheme and host, and "/..."
// in place of any user info, path, query or fragment, which may hold a
// token.
func urlForMessage(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return s + "/..."
	}
	return s + u.Path
}

func validName(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return s != ""
}

// checkHostPort checks a host:port; anyPort allows port 0 (a listener
// on a port the kernel picks).
func checkHostPort(s string, anyPort bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("no host")
	}
	if strings.ContainsAny(host, " \t") {
		return fmt.Errorf("bad host")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (p == 0 && !anyPort) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}
