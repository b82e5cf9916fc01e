package dnsserver_test

import (
	"context"
	"fmt"
	"log"

	"github.com/miekg/dns"
	"github.com/understudy-ha/understudy/internal/daemon/dnsserver"
)

// Serve a zone on a free loopback port and ask it.
func ExampleServer() {
	srv, err := dnsserver.New(dnsserver.Config{Zone: "demo.test", Records: []string{"www 60 IN A 192.0.2.1"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go srv.Serve(ctx)

	m := new(dns.Msg)
	m.SetQuestion("www.demo.test.", dns.TypeA)
	r, err := dns.Exchange(m, srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Authoritative, r.Answer[0].(*dns.A).A)
	// Output: true 192.0.2.1
}
