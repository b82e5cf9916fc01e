package replicate_test

import (
	"fmt"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/ippool"
	"github.com/understudy-ha/understudy/replicate"
)

// The article's /proc/drbd while debian1 fills debian2 after
// `drbdadm -- --do-what-I-say primary all`.
func ExampleParseProcDRBD() {
	st, err := replicate.ParseProcDRBD(`version: 0.7.21 (api:79/proto:74)
SVN Revision: 2326 build by root@debian1, 2007-09-19 00:02:20
 0: cs:SyncSource st:Primary/Secondary ld:Consistent
    ns:20560 nr:0 dw:0 dr:28752 al:0 bm:346 lo:1 pe:0 ua:2048 ap:0
        [>...................] sync'ed:  0.9% (2812328/2832888)K
        finish: 0:09:00 speed: 5,140 (5,140) K/sec
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	dev := st.Resources[0]
	fmt.Println(st.Version, dev.Summary())
	running, lag, problem := dev.Health()
	fmt.Println(running, lag, problem == "")
	// Output:
	// 0.7.21 role:Primary vol0:Consistent | Connected role:Secondary vol0:SyncSource/DUnknown 0.9% (9m0s left)
	// true 0s true
}

// DRBD 9's drbdadm status on a standby that is still being resynced: it
// replicates, but is not yet fit to take over.
func ExampleParseDrbdadmStatus() {
	st, err := replicate.ParseDrbdadmStatus("drbdadm status repl", `repl role:Secondary
  disk:Inconsistent
  debian1 role:Primary
    replication:SyncTarget peer-disk:UpToDate done:45.20
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := st.Resource("repl")
	running, lag, _ := r.Health()
	fmt.Println(r.Summary())
	fmt.Println(running, lag)
	// Output:
	// repl role:Secondary vol0:Inconsistent | debian1 Connected role:Primary vol0:SyncTarget/UpToDate 45.2%
	// true -1ns
}

// The article's haresources line, "debian1 … drbddisk::repl
// Filesystem::/dev/drbd0::/mnt/repl::ext3 apache", as a resource group:
// promote, mount, start; released in reverse order. The standby is fit
// only when its DRBD copy is connected and up to date.
func ExampleDRBD() {
	repl, err := replicate.NewDRBD(replicate.DRBDConfig{Resource: "repl", Self: "debian1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	group, err := ippool.NewGroup(ippool.GroupConfig{
		Name: "web",
		Self: "debian1",
		Steps: []ippool.GroupStep{
			{Name: "drbddisk::repl", Step: repl}, // drbdadm primary repl / secondary repl
			{Name: "Filesystem", Step: &ippool.Mount{Device: "/dev/drbd0", Target: "/mnt/repl", FSType: "ext3"}},
			{Name: "apache", Step: ippool.Systemctl("apache2", nil)},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ failover.Switcher = group // give it to the arbiter as a switcher
	fit := replicate.NewChecker(repl, time.Second)
	_ = fit // a critical check of the standby
}
