package config

import (
	"encoding/json"
	"log/slog"
)

// redacted is what a [Secret] prints instead of its value.
const redacted = "[redacted]"

// Secret holds a password, token or key read from a file or the
// environment at load time. It never prints its value: String, GoString,
// LogValue, MarshalJSON and MarshalText all give "[redacted]", and %v of a
// struct holding a Secret shows only a pointer, so the value cannot leak
// through fmt, slog or encoding/json by accident. [Secret.Reveal] is the
// one way to get the value.
//
// The zero Secret is unset.
type Secret struct {
	v *secretValue
}

type secretValue struct {
	value  string
	source string
}

// newSecret returns a Secret holding value, read from source (for
// example `file "/etc/understudy/mysql.pw"` or `env "MYSQL_PW"`).
func newSecret(value, source string) Secret {
	return Secret{v: &secretValue{value: value, source: source}}
}

// Reveal returns the secret value ("" when unset). Call it only where the
// value is handed to the protocol that needs it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return s.v.value
}

// IsSet reports whether a value was configured.
func (s Secret) IsSet() bool { return s.v != nil }

// Source says where the value came from (`file "/path"` or `env "NAME"`),
// which is safe to print; "" when unset.
func (s Secret) Source() string {
	if s.v == nil {
		return ""
	}
	return s.v.source
}

// String returns "[redacted]" (or "" when unset).
func (s Secret) String() string {
	if s.v == nil {
		return ""
	}
	return redacted
}

// GoString returns "[redacted]" so that %#v hides the value too.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// LogValue hides the value from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the value from encoding/json.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText hides the value from text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
