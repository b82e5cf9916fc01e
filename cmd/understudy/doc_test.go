package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocListsEveryCommand: the package comment of main.go names every
// subcommand that `understudy -h` shows.
func TestDocListsEveryCommand(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			assert.Regexp(t, regexp.MustCompile(`(?m)^//\t`+regexp.QuoteMeta(c.name)+` +\S`), string(src))
		})
	}
}
