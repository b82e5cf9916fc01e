package proc_test

import (
	"fmt"
	"os"
	"time"

	"github.com/understudy-ha/understudy/internal/servers/proc"
)

// A daemon started with its output in a log file, then stopped: SIGTERM,
// and SIGKILL if it is still there after the grace period.
func ExampleStart() {
	log, err := os.CreateTemp("", "daemon-*.log")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(log.Name())
	p, err := proc.Start(log, "/bin/sleep", "60")
	log.Close() // the process has its own copy
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Stop(10*time.Second), p.State())
	// Output: <nil> signal: terminated
}
