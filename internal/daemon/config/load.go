package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest configuration file Load accepts.
const MaxSize = 1 << 20

// Load reads, decodes and validates the configuration file at path.
// Relative paths in the file are resolved against the file's directory.
// On failure the error joins one [*Error] per problem, sorted by line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration held in memory. name is
// used in messages and to resolve relative paths, as if the data had been
// read from a file of that name.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, os.LookupEnv)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parse(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	d := &decoder{file: name, dir: filepath.Dir(name), pos: map[string]*yaml.Node{}, bad: map[string]bool{}, lookupEnv: lookupEnv}
	if len(data) > MaxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", MaxSize)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, err)
	}
	root := resolve(&doc)
	if root == nil || root.Kind == 0 || root.Kind == yaml.DocumentNode || isNull(root) {
		return nil, &Error{File: name, Msg: "the configuration is empty"}
	}
	cfg := &Config{File: name}
	d.pos[""] = root
	d.decodeStruct(root, "", reflect.ValueOf(cfg).Elem())
	d.validate(cfg)
	d.defaults(cfg)
	cfg.SecretEnv = d.secretEnv
	sortProblems(d.warns)
	for _, w := range d.warns {
		cfg.Warnings = append(cfg.Warnings, w.Error())
	}
	if len(d.errs) > 0 {
		sortProblems(d.errs)
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// syntaxError turns yaml.v3's "yaml: line N: msg" into an *Error.
func syntaxError(name string, err error) error {
	var errs []error
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		e := &Error{File: name, Msg: msg}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2]
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func sortProblems(ps []*Error) {
	slices.SortStableFunc(ps, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}
