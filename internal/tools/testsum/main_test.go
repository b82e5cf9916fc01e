package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"hello\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.1}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"boom\n"}
{"Action":"fail","Package":"p","Test":"TestB","Elapsed":0.2}
{"Action":"skip","Package":"p","Test":"TestC","Elapsed":0}
{"Action":"fail","Package":"p","Elapsed":0.3}
`

func TestSummary(t *testing.T) {
	var out strings.Builder
	code := run(strings.NewReader(stream), &out, false)
	assert.Equal(t, 1, code)
	s := out.String()
	assert.Contains(t, s, "PASS p TestA (0.10s)")
	assert.Contains(t, s, "FAIL p TestB (0.20s)\n    boom\n")
	assert.NotContains(t, s, "hello", "output of passing tests is dropped")
	assert.True(t, strings.HasSuffix(s, "1 passed, 1 failed, 1 skipped\n"), s)
}

func TestSkipFailsInCI(t *testing.T) {
	in := `{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"skip","Package":"p","Test":"TestC"}
`
	var out strings.Builder
	assert.Equal(t, 0, run(strings.NewReader(in), &out, false))
	out.Reset()
	assert.Equal(t, 1, run(strings.NewReader(in), &out, true))
	assert.Contains(t, out.String(), "skipped in CI: p TestC")
}

func TestNothingRan(t *testing.T) {
	var out strings.Builder
	assert.Equal(t, 1, run(strings.NewReader("# build failed\n"), &out, false))
	assert.Contains(t, out.String(), "# build failed")
}
