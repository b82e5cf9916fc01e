// Package bind starts a real BIND 9 (named) for tests and benchmarks: on
// 127.0.0.1, on free ports, with its configuration, keys and zones in a
// directory of the caller's. It does not import testing, so that the
// understudy binary, whose bench command uses it, links no test code;
// tests use internal/testkit/bindtest, which wraps it.
//
// Every instance is independent (own directory, ports, keys), so tests
// using it may run in parallel. The recipe and timings come from
// /work/shared/lab/bind9.sh: named answers about 0.2 s after start and
// takes about 1.9 s to exit after SIGTERM.
package bind

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/internal/servers/proc"
)

// Zone is one primary zone the server carries.
type Zone struct {
	// Name is the zone ("example.test").
	Name string
	// Content is the zone file. Empty: a minimal zone with SOA (serial
	// 1), NS ns1, ns1 A 127.0.0.1 and www A 192.0.2.10, $TTL 10.
	Content string
	// Updates allows dynamic updates signed with the server's TSIG key
	// (update-policy { grant KEY zonesub ANY; }).
	Updates bool
}

// Options configure a server.
type Options struct {
	// Zones are the zones served; at least one.
	Zones []Zone
	// KeyName is the TSIG key's name (default "ddns-key"); the key is
	// made by tsig-keygen with hmac-sha256.
	KeyName string
	// Key, when set, is used instead of a new key: two servers that
	// share a key, like the article's two NS.
	Key *dnsprovider.TSIGKey
}

// Server is a running named.
type Server struct {
	// Addr is "127.0.0.1:port", UDP and TCP.
	Addr string
	// Dir is the server's directory (config, zones, keys, journal, log).
	Dir string
	// KeyFile is the TSIG key file as tsig-keygen wrote it.
	KeyFile string
	// TSIGKey is the key in KeyFile.
	TSIGKey dnsprovider.TSIGKey

	rndc     string
	rndcConf string
	zones    map[string]string
	proc     *proc.Process
}

// DefaultZone returns the zone file Start uses when Content is empty.
func DefaultZone(name string) string {
	return fmt.Sprintf(`$TTL 10
@       IN SOA ns1.%[1]s. hostmaster.%[1]s. ( 1 60 30 3600 10 )
        IN NS  ns1.%[1]s.
ns1     IN A   127.0.0.1
www     IN A   192.0.2.10
`, name)
}

// Launch starts named with opts in dir. The caller must call Stop.
func Launch(ctx context.Context, dir string, opts Options) (*Server, error) {
	named, err := cmdrun.LookPath("named")
	if err != nil {
		return nil, fmt.Errorf("named (Debian package bind9): %w", err)
	}
	rndc, err := cmdrun.LookPath("rndc")
	if err != nil {
		return nil, fmt.Errorf("rndc (Debian package bind9-utils): %w", err)
	}
	keygen, err := cmdrun.LookPath("tsig-keygen")
	if err != nil {
		return nil, fmt.Errorf("tsig-keygen (Debian package bind9): %w", err)
	}
	if len(opts.Zones) == 0 {
		return nil, errors.New("bind.Launch: no zones")
	}
	if opts.KeyName == "" {
		opts.KeyName = "ddns-key"
	}
	s := &Server{Dir: dir, rndc: rndc, zones: map[string]string{}}

	s.KeyFile = filepath.Join(dir, "ddns.key")
	if k := opts.Key; k != nil {
		opts.KeyName = k.Name
		if err := writeFile(s.KeyFile, fmt.Sprintf("key %q {\n\talgorithm %s;\n\tsecret %q;\n};\n", k.Name, k.Algorithm, k.Secret)); err != nil {
			return nil, err
		}
	} else {
		res, err := cmdrun.Exec{}.Run(ctx, cmdrun.Cmd{Path: keygen, Args: []string{"-a", "hmac-sha256", opts.KeyName}})
		if err != nil {
			return nil, fmt.Errorf("tsig-keygen: %w", err)
		}
		if err := writeFile(s.KeyFile, string(res.Stdout)); err != nil {
			return nil, err
		}
	}
	if s.TSIGKey, err = dnsprovider.LoadTSIGKey(s.KeyFile); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	rndcKey := fmt.Sprintf("key \"rndc-key\" {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", base64.StdEncoding.EncodeToString(secret))
	if err := writeFile(filepath.Join(dir, "rndc.key"), rndcKey); err != nil {
		return nil, err
	}

	var zoneConf strings.Builder
	for _, z := range opts.Zones {
		content := z.Content
		if content == "" {
			content = DefaultZone(z.Name)
		}
		file := filepath.Join(dir, z.Name+".zone")
		if err := writeFile(file, content); err != nil {
			return nil, err
		}
		s.zones[dns.CanonicalName(z.Name)] = file
		fmt.Fprintf(&zoneConf, "zone %q {\n    type primary;\n    file %q;\n", z.Name, file)
		if z.Updates {
			fmt.Fprintf(&zoneConf, "    update-policy { grant %q zonesub ANY; };\n", opts.KeyName)
		}
		zoneConf.WriteString("};\n")
	}

	// Free ports can be taken between probing and named's bind when
	// tests run in parallel: retry with new ports.
	var lastLog string
	for attempt := 0; attempt < 5; attempt++ {
		port, rndcPort, err := freePorts()
		if err != nil {
			return nil, err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.rndcConf = filepath.Join(dir, "rndc.conf")
		if err := writeFile(s.rndcConf, rndcKey+fmt.Sprintf(
			"options {\n\tdefault-key \"rndc-key\";\n\tdefault-server 127.0.0.1;\n\tdefault-port %d;\n};\n", rndcPort)); err != nil {
			return nil, err
		}
		conf := fmt.Sprintf(`include %q;
include %q;
options {
    directory %q;
    pid-file %q;
    session-keyfile %q;
    managed-keys-directory %q;
    listen-on port %d { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    allow-query { 127.0.0.1; };
    notify no;
};
controls { inet 127.0.0.1 port %d allow { 127.0.0.1; } keys { "rndc-key"; }; };
%s`, s.KeyFile, filepath.Join(dir, "rndc.key"), dir, filepath.Join(dir, "named.pid"),
			filepath.Join(dir, "session.key"), dir, port, rndcPort, zoneConf.String())
		confFile := filepath.Join(dir, "named.conf")
		if err := writeFile(confFile, conf); err != nil {
			return nil, err
		}

		ok, log, err := s.start(named, confFile, opts.Zones[0].Name)
		if err != nil {
			return nil, err
		}
		if ok {
			return s, nil
		}
		lastLog = log
		if !strings.Contains(log, "address in use") {
			break
		}
	}
	return nil, fmt.Errorf("named did not start; its log:\n%s", lastLog)
}

// start runs named and waits for the first zone's SOA. When named does
// not come up it returns false and named's log.
func (s *Server) start(named, confFile, zone string) (bool, string, error) {
	logPath := filepath.Join(s.Dir, "named.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return false, "", err
	}
	defer logf.Close()
	p, err := proc.Start(logf, named, "-g", "-n", "1", "-c", confFile)
	if err != nil {
		return false, "", err
	}
	s.proc = p

	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if r, _, err := c.Exchange(m, s.Addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return true, "", nil
		}
		select {
		case <-p.Exited():
			return false, s.Log(), nil
		case <-deadline.C:
			s.Stop()
			return false, "no SOA answer within 15s\n" + s.Log(), nil
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM and waits for named to exit (about 1.9 s), killing
// it after 10 s. It is safe to call more than once; Start registers it
// with t.Cleanup.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(10 * time.Second)
	}
}

// Log returns what named printed so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "named.log"))
	return string(b)
}

// RndcArgs is the argv prefix for rndc talking to this server, as
// dnsprovider.ZoneFileConfig.Rndc wants it.
func (s *Server) RndcArgs() []string { return []string{s.rndc, "-c", s.rndcConf} }

// ZoneFile returns the path of zone's file.
func (s *Server) ZoneFile(zone string) string { return s.zones[dns.CanonicalName(zone)] }

// Rndc runs rndc with args against this server and returns its output.
func (s *Server) Rndc(ctx context.Context, args ...string) (string, error) {
	res, err := cmdrun.Exec{}.Run(ctx, cmdrun.Cmd{Path: s.rndc, Args: append([]string{"-c", s.rndcConf}, args...)})
	return string(res.Stdout), err
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o644)
}

// freePorts returns a port free for both UDP and TCP, and another free
// TCP port for rndc.
func freePorts() (dnsPort, rndcPort int, err error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			l.Close()
			continue
		}
		r, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			l.Close()
			u.Close()
			return 0, 0, err
		}
		rndcPort = r.Addr().(*net.TCPAddr).Port
		l.Close()
		u.Close()
		r.Close()
		return port, rndcPort, nil
	}
	return 0, 0, errors.New("no free UDP+TCP port on 127.0.0.1")
}
