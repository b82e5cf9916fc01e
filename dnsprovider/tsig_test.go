package dnsprovider

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSecret = "49xAmsV1tyxYH6DjJd+YhqDqUU86ug31hntArG1VkyY="

func TestParseTSIGKey(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    TSIGKey
		wantErr string // substring: path:line
	}{
		{
			name: "tsig-keygen output",
			src:  "key \"ddns-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + testSecret + "\";\n};\n",
			want: TSIGKey{Name: "ddns-key", Algorithm: "hmac-sha256", Secret: testSecret},
		},
		{
			name: "rndc.conf with comments and options",
			src: "# Start of rndc.conf\n/* block\ncomment */ options { default-key \"rndc-key\"; };\n" +
				"key rndc-key { // inline\n algorithm HMAC-SHA512; secret \"" + testSecret + "\"; };\n",
			want: TSIGKey{Name: "rndc-key", Algorithm: "HMAC-SHA512", Secret: testSecret},
		},
		{name: "no key", src: "options { };\n", wantErr: "k.conf: no key statement"},
		{name: "unknown algorithm", src: "key k {\n algorithm rot13;\n secret \"" + testSecret + "\";\n};", wantErr: "k.conf:2:"},
		{name: "bad base64", src: "key k {\n algorithm hmac-sha256;\n secret \"not base64!!\";\n};", wantErr: "k.conf:3:"},
		{name: "missing semicolon", src: "key k {\n algorithm hmac-sha256\n secret \"x\";\n};", wantErr: "k.conf:3:"},
		{name: "unterminated", src: "key k {\n algorithm hmac-sha256;\n", wantErr: "k.conf:2: unexpected end"},
		{name: "no secret", src: "key k {\n algorithm hmac-sha256;\n};", wantErr: "k.conf:1: key \"k\" has no secret"},
		// A secret written without its keyword is out of place, and
		// the message must not quote it.
		{name: "secret without keyword", src: "key k {\n algorithm hmac-sha256;\n \"" + testSecret + "\";\n};", wantErr: "k.conf:4: expected ; after a clause"},
		{name: "bare secret as a clause", src: "key k {\n algorithm hmac-sha256;\n " + testSecret + " x;\n};", wantErr: "k.conf:3: unknown clause in key \"k\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTSIGKey("k.conf", []byte(tc.src))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), "not base64!!", "the secret is not echoed")
				assert.NotContains(t, err.Error(), testSecret[:10], "the secret is not echoed")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestLoadTSIGKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ddns.key")
	require.NoError(t, os.WriteFile(path, []byte("key \"ddns-key\" { algorithm hmac-sha256; secret \""+testSecret+"\"; };\n"), 0o600))
	k, err := LoadTSIGKey(path)
	require.NoError(t, err)
	assert.Equal(t, "ddns-key.", k.fqdn())
	_, err = LoadTSIGKey(filepath.Join(t.TempDir(), "missing.key"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestTSIGKeyRedacted(t *testing.T) {
	k := TSIGKey{Name: "ddns-key", Algorithm: "hmac-sha256", Secret: testSecret}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", "key", k)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprint(&k), buf.String()} {
		assert.NotContains(t, s, testSecret[:10])
		assert.Contains(t, s, "ddns-key")
	}
}

func FuzzParseTSIGKey(f *testing.F) {
	f.Add("key \"ddns-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + testSecret + "\";\n};\n")
	f.Add("/* x */ options { a \"b\"; }; # c\nkey k { algorithm hmac-md5; secret \"" + testSecret + "\"; };")
	f.Fuzz(func(t *testing.T, src string) {
		k, err := parseTSIGKey("f", []byte(src))
		if err != nil {
			if k != (TSIGKey{}) {
				t.Fatal("key returned with an error")
			}
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("parsed key does not validate: %v", err)
		}
		if len(k.Secret) >= 16 && strings.Contains(k.String(), k.Secret) {
			t.Fatal("String shows the secret")
		}
	})
}
