package dnsprovider_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
)

// Point soutade.fr's A record at the backup through Gandi LiveDNS.
func ExampleNewLibdns() {
	tok, err := os.ReadFile("/etc/understudy/gandi.token")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := dnsprovider.NewGandi(strings.TrimSpace(string(tok)))
	if err != nil {
		fmt.Println(err)
		return
	}
	sw, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{
		Provider: p, ProviderName: "gandi", Zone: "soutade.fr.", Name: "@", TTL: 300 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := sw.SwitchReport(context.Background(), failover.Node{Name: "cybelle", Address: netip.MustParseAddr("198.51.100.7")})
	if err != nil {
		fmt.Println("switch failed; permanent:", dnsprovider.IsPermanent(err), err)
		return
	}
	fmt.Println("changed:", rep.Changed, "was:", rep.Previous)
}

// A BIND primary as a libdns provider, behind the same switcher.
func ExampleNewBIND() {
	key, err := dnsprovider.LoadTSIGKey("/etc/bind/ddns.key")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := dnsprovider.NewBIND(dnsprovider.BINDConfig{Server: "127.0.0.1:53", Key: &key})
	if err != nil {
		fmt.Println(err)
		return
	}
	sw, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{Provider: p, ProviderName: "bind", Zone: "example.com.", Name: "www", TTL: 10 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = sw.Switch(context.Background(), failover.Node{Name: "b", Address: netip.MustParseAddr("192.0.2.2")})
}

// The article's master-side script: follow this host's address and tell
// the peer.
func ExampleNewDDNS() {
	p, err := dnsprovider.NewDigitalOcean(os.Getenv("DO_TOKEN"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	record, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{Provider: p, ProviderName: "digitalocean", Zone: "example.com.", Name: "home", TTL: 60 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := dnsprovider.NewDDNS(dnsprovider.DDNSConfig{
		Source: dnsprovider.HTTPSource{URL: "https://api.ipify.org/", Family: "ipv4"},
		Record: record, Family: "ipv4",
		Hook: []string{"/usr/local/sbin/repoint-peer"}, // gets OLD NEW as arguments
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := d.Update(context.Background())
	fmt.Println(res.Changed, res.Old, res.New, err)
}
