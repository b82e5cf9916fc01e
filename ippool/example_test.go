package ippool_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/fakes/doreservedip"
	"github.com/understudy-ha/understudy/ippool"
)

// A virtual IP for the node this process runs on: a switch to "debian1"
// claims 192.168.69.100 on eth0, a switch to any other node releases it.
func ExampleNewVIP() {
	vip, err := ippool.NewVIP(ippool.VIPConfig{
		Self:      "debian1",
		Interface: "eth0",
		Address:   netip.MustParsePrefix("192.168.69.100/24"),
		// keepalived's defaults: 5 gratuitous ARPs now, 5 more 5 s later.
		Announce: ippool.Burst{Count: 5, Repeats: 2, Delay: 5 * time.Second},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vip.Close()
	var _ failover.Switcher = vip // give it to failover.Config.Switchers
	fmt.Println("ok")
	// Output: ok
}

// The Heartbeat article's haresources line as a group, with steps that
// only print here.
func ExampleNewGroup() {
	step := func(name string) ippool.GroupStep {
		return ippool.GroupStep{Name: name, Step: ippool.StepFuncs{
			TakeoverFunc: func(context.Context) error { fmt.Println("start", name); return nil },
			ReleaseFunc:  func(context.Context) error { fmt.Println("stop", name); return nil },
		}}
	}
	g, _ := ippool.NewGroup(ippool.GroupConfig{Name: "web", Self: "debian1", Steps: []ippool.GroupStep{
		step("IPaddr::192.168.69.100"), step("drbddisk::repl"), step("apache"),
	}})
	_ = g.Switch(context.Background(), failover.Node{Name: "debian1"}) // take over
	_ = g.Switch(context.Background(), failover.Node{Name: "debian2"}) // release
	// Output:
	// start IPaddr::192.168.69.100
	// start drbddisk::repl
	// start apache
	// stop apache
	// stop drbddisk::repl
	// stop IPaddr::192.168.69.100
}

// Systemctl and Command steps run argv, never a shell.
func ExampleSystemctl() {
	rec := &cmdrun.Recorder{}
	_ = ippool.Systemctl("apache2.service", rec).Takeover(context.Background())
	fmt.Println(rec.Argvs()[0])
	// Output: [systemctl start -- apache2.service]
}

// The reserved IP switcher, here against the test fake of DigitalOcean's
// API; in production pass "" as the base URL.
func ExampleNewReservedIP() {
	api := doreservedip.Start("token")
	defer api.Close()
	api.AddDroplet(1111, 2222)
	api.AddReservedIP("192.0.2.177", 1111)

	client, _ := ippool.NewGodoClient("token", api.URL, nil)
	sw, _ := ippool.NewReservedIP(client, ippool.ReservedIPConfig{
		IP:           netip.MustParseAddr("192.0.2.177"),
		NoMetadata:   true, // not on a droplet
		PollInterval: time.Millisecond,
	})
	backup := failover.Node{Name: "ubuntu-backup", Labels: map[string]string{ippool.DropletLabel: "2222"}}
	if err := sw.Switch(context.Background(), backup); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("reserved IP on droplet", api.Holder("192.0.2.177"))
	// Output: reserved IP on droplet 2222
}
