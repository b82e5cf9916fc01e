// Package cmd holds Understudy's reference binaries. cmd/understudy is
// the daemon and CLI over one YAML configuration file.
package cmd
