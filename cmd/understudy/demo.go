package main

import (
	"fmt"

	"github.com/understudy-ha/understudy/internal/daemon/demo"
)

func init() {
	extraCommands = append(extraCommands, command{
		name:    "demo",
		summary: "watch a failover and a failback on loopback, no setup needed",
		run:     cmdDemo,
	})
}

// cmdDemo runs internal/daemon/demo: two local web services, an embedded DNS
// server and the arbiter; it needs no configuration file.
func cmdDemo(e *env, args []string) int {
	fs := newFlags(e, "demo", "")
	interval := fs.Duration("interval", 0, "time between rounds (default 400ms)")
	dnsAddr := fs.String("dns", "127.0.0.1:0", "address of the embedded DNS server (port 0: any free port)")
	if fs.Parse(args) != nil {
		return exitUsage
	}
	if _, err := demo.Run(e.ctx, e.stdout, demo.Options{Interval: *interval, DNSAddr: *dnsAddr}); err != nil {
		fmt.Fprintln(e.stderr, "demo:", err)
		return exitFailure
	}
	return exitOK
}
