package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig feeds arbitrary bytes to the parser: it must never
// panic, and it must return either a configuration or an error.
func FuzzLoadConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/*/*.yaml")
	for _, p := range append(files, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("nodes: &a [*a]"))
	f.Add([]byte("nodes: [{name: a, address: 10.0.0.1, checks: [{type: exec, name: x, command: [[1]]}]}]"))
	env := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(filepath.Join("testdata", "fuzz.yaml"), data, env)
		if (c == nil) == (err == nil) {
			t.Fatalf("parse returned config %v and error %v", c, err)
		}
	})
}
