package dnsprovider_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/dnsserver"
)

// Load the key tsig-keygen wrote; printing it never shows the secret.
func ExampleLoadTSIGKey() {
	path := filepath.Join(os.TempDir(), "example-ddns.key")
	os.WriteFile(path, []byte("key \"ddns-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"49xAmsV1tyxYH6DjJd+YhqDqUU86ug31hntArG1VkyY=\";\n};\n"), 0o600)
	defer os.Remove(path)

	key, err := dnsprovider.LoadTSIGKey(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key)
	// Output: TSIG key "ddns-key" (hmac-sha256, secret redacted)
}

// Point test.ru at the backup server by RFC 2136, as the article's
// compare.sh did with sed and a restart. Here the server is the
// in-memory one `understudy demo` uses; in production list both NS
// servers (ns.master:53, ns.slave:53).
func ExampleNewRFC2136() {
	key := dnsprovider.TSIGKey{Name: "ddns-key", Algorithm: "hmac-sha256", Secret: "49xAmsV1tyxYH6DjJd+YhqDqUU86ug31hntArG1VkyY="}
	srv, _ := dnsserver.New(dnsserver.Config{
		Zone:    "test.ru",
		Records: []string{"@ 10 IN A 10.1.0.1"},
		Key:     &dnsserver.Key{Name: key.Name, Secret: key.Secret},
	})
	srv.Listen("127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go srv.Serve(ctx)

	sw, err := dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{
		Zone:    "test.ru",
		Name:    "@",
		TTL:     10 * time.Second,
		Servers: []string{srv.Addr()},
		Key:     &key,
	})
	if err != nil {
		log.Fatal(err)
	}
	backup := failover.Node{Name: "slave", Address: netip.MustParseAddr("10.2.0.2")}
	rep, err := sw.SwitchReport(ctx, backup)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changed:", rep.Changed, "was:", rep.Previous)
	rep, _ = sw.SwitchReport(ctx, backup)
	fmt.Println("again, changed:", rep.Changed)
	// Output:
	// changed: true was: [10.1.0.1]
	// again, changed: false
}

// The article's way, done carefully: rewrite the @ A line of
// /etc/bind/db.test.ru, bump the serial, rndc reload test.ru, and check
// that both NS servers answer the new address.
func ExampleNewZoneFile() {
	sw, err := dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{
		Zone:   "test.ru",
		Name:   "@",
		File:   "/etc/bind/db.test.ru",
		Rndc:   []string{"rndc", "-c", "/etc/bind/rndc.conf"},
		Verify: []string{"10.1.0.1:53", "10.2.0.2:53"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = sw.Switch(context.Background(), failover.Node{Name: "slave", Address: netip.MustParseAddr("10.2.0.2")})
}
