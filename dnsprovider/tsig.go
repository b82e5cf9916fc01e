package dnsprovider

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// TSIGKey is a shared secret for signing DNS messages (RFC 8945), as
// BIND's tsig-keygen writes it.
//
// String, GoString and LogValue never show Secret, so a key can be put in
// a log record or an error message without leaking it.
type TSIGKey struct {
	// Name is the key's name ("ddns-key"); it must match the name the
	// server knows the key by.
	Name string
	// Algorithm is the HMAC algorithm, as BIND spells it: hmac-sha256
	// (the default when empty), hmac-sha1, hmac-sha224, hmac-sha384,
	// hmac-sha512 or hmac-md5.
	Algorithm string
	// Secret is the base64-encoded key material.
	Secret string
}

// tsigAlgorithms maps BIND's algorithm names to miekg/dns's.
var tsigAlgorithms = map[string]string{
	"hmac-md5":                 dns.HmacMD5,
	"hmac-md5.sig-alg.reg.int": dns.HmacMD5,
	"hmac-sha1":                dns.HmacSHA1,
	"hmac-sha224":              dns.HmacSHA224,
	"hmac-sha256":              dns.HmacSHA256,
	"hmac-sha384":              dns.HmacSHA384,
	"hmac-sha512":              dns.HmacSHA512,
}

// String describes the key without its secret.
func (k TSIGKey) String() string {
	return fmt.Sprintf("TSIG key %q (%s, secret redacted)", k.Name, k.algorithmName())
}

// GoString keeps %#v from printing the secret.
func (k TSIGKey) GoString() string {
	return fmt.Sprintf("dnsprovider.TSIGKey{Name:%q, Algorithm:%q, Secret:\"<redacted>\"}", k.Name, k.Algorithm)
}

// LogValue implements slog.LogValuer: name and algorithm, never the secret.
func (k TSIGKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", k.Name), slog.String("algorithm", k.algorithmName()))
}

func (k TSIGKey) algorithmName() string {
	if k.Algorithm == "" {
		return "hmac-sha256"
	}
	return strings.ToLower(strings.TrimSuffix(k.Algorithm, "."))
}

// Validate checks that the key has a name, a known algorithm and a
// secret that is valid base64. Its errors never contain the secret.
func (k TSIGKey) Validate() error {
	if k.Name == "" {
		return errors.New("tsig key: empty name")
	}
	if _, ok := tsigAlgorithms[k.algorithmName()]; !ok {
		return fmt.Errorf("tsig key %q: unknown algorithm %q", k.Name, k.Algorithm)
	}
	if k.Secret == "" {
		return fmt.Errorf("tsig key %q: empty secret", k.Name)
	}
	if _, err := base64.StdEncoding.DecodeString(k.Secret); err != nil {
		// The decoder's error quotes an offset, not the text; still, say
		// nothing about the secret beyond "not base64".
		return fmt.Errorf("tsig key %q: secret is not valid base64", k.Name)
	}
	return nil
}

// fqdn is the key name in the canonical form miekg/dns wants.
func (k TSIGKey) fqdn() string { return dns.CanonicalName(k.Name) }

// algorithm is the miekg/dns algorithm name; Validate must have passed.
func (k TSIGKey) algorithm() string { return tsigAlgorithms[k.algorithmName()] }

// LoadTSIGKey reads the first key statement of a BIND key file, the
// format tsig-keygen and rndc-confgen write:
//
//	key "ddns-key" {
//		algorithm hmac-sha256;
//		secret "base64...";
//	};
//
// Other statements (options { … } in an rndc.conf) and comments (#, //,
// /* */) are skipped. Errors name the file and line and never contain the
// secret.
func LoadTSIGKey(path string) (TSIGKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return TSIGKey{}, fmt.Errorf("load tsig key: %w", err)
	}
	return parseTSIGKey(path, data)
}

// keyToken is one token of a BIND configuration file.
type keyToken struct {
	text   string
	quoted bool
	line   int
}

// tokenizeBINDConf splits BIND configuration text into words, quoted
// strings and the punctuation { } ;, dropping comments.
func tokenizeBINDConf(path string, data []byte) ([]keyToken, error) {
	var toks []keyToken
	line := 1
	s := string(data)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || (c == '/' && i+1 < len(s) && s[i+1] == '/'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			start := line
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated /* comment", path, start)
			}
			line += strings.Count(s[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, keyToken{text: string(c), line: line})
			i++
		case c == '"':
			start := line
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				if s[j] == '\n' {
					line++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%s:%d: unterminated quoted string", path, start)
			}
			toks = append(toks, keyToken{text: b.String(), quoted: true, line: start})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};\"#", rune(s[j])) &&
				(s[j] != '/' || j+1 >= len(s) || (s[j+1] != '/' && s[j+1] != '*')) {
				j++
			}
			toks = append(toks, keyToken{text: s[i:j], line: line})
			i = j
		}
	}
	return toks, nil
}

// parseTSIGKey parses the first key statement in data; path is only used
// in messages.
func parseTSIGKey(path string, data []byte) (TSIGKey, error) {
	toks, err := tokenizeBINDConf(path, data)
	if err != nil {
		return TSIGKey{}, err
	}
	eof := func() error {
		last := 1
		if len(toks) > 0 {
			last = toks[len(toks)-1].line
		}
		return fmt.Errorf("%s:%d: unexpected end of file in key statement", path, last)
	}
	for i := 0; i < len(toks); {
		t := toks[i]
		if t.quoted || !strings.EqualFold(t.text, "key") {
			// Skip any other statement: up to its ';' at depth 0.
			depth := 0
			for ; i < len(toks); i++ {
				switch toks[i].text {
				case "{":
					depth++
				case "}":
					depth--
				case ";":
					if depth <= 0 && !toks[i].quoted {
						depth = -1
					}
				}
				if depth < 0 {
					i++
					break
				}
			}
			continue
		}
		// key NAME { clause; ... };
		if i+2 >= len(toks) {
			return TSIGKey{}, eof()
		}
		name := toks[i+1]
		if name.text == "{" || name.text == ";" || name.text == "" {
			return TSIGKey{}, fmt.Errorf("%s:%d: key statement without a name", path, name.line)
		}
		if toks[i+2].text != "{" || toks[i+2].quoted {
			return TSIGKey{}, fmt.Errorf("%s:%d: expected { after key %q", path, toks[i+2].line, name.text)
		}
		key := TSIGKey{Name: name.text}
		var secretLine int
		j := i + 3
		for {
			if j >= len(toks) {
				return TSIGKey{}, eof()
			}
			if toks[j].text == "}" && !toks[j].quoted {
				break
			}
			if j+2 >= len(toks) {
				return TSIGKey{}, eof()
			}
			kw, val, semi := toks[j], toks[j+1], toks[j+2]
			// A word out of place may be the secret itself (a missing
			// "secret" keyword): name only the two known clauses.
			clause := strings.ToLower(kw.text)
			if kw.quoted || (clause != "algorithm" && clause != "secret") {
				clause = "a clause"
			}
			if semi.text != ";" || semi.quoted {
				return TSIGKey{}, fmt.Errorf("%s:%d: expected ; after %s in key %q", path, semi.line, clause, key.Name)
			}
			switch strings.ToLower(kw.text) {
			case "algorithm":
				key.Algorithm = val.text
				if _, ok := tsigAlgorithms[key.algorithmName()]; !ok {
					return TSIGKey{}, fmt.Errorf("%s:%d: key %q: unknown algorithm %q", path, val.line, key.Name, val.text)
				}
			case "secret":
				key.Secret = val.text
				secretLine = val.line
			default:
				return TSIGKey{}, fmt.Errorf("%s:%d: unknown clause in key %q (want algorithm and secret)", path, kw.line, key.Name)
			}
			j += 3
		}
		if key.Algorithm == "" {
			return TSIGKey{}, fmt.Errorf("%s:%d: key %q has no algorithm", path, name.line, key.Name)
		}
		if key.Secret == "" {
			return TSIGKey{}, fmt.Errorf("%s:%d: key %q has no secret", path, name.line, key.Name)
		}
		if err := key.Validate(); err != nil {
			line := name.line
			if secretLine != 0 {
				line = secretLine
			}
			return TSIGKey{}, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		return key, nil
	}
	return TSIGKey{}, fmt.Errorf("%s: no key statement", path)
}
