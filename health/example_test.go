package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/understudy-ha/understudy/health"
)

// The articles' "( echo quit ) | telnet host port | grep Connected",
// here against an SSH-like banner.
func ExampleNewTCP() {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	go func() {
		c, _ := l.Accept()
		io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
		c.Close()
	}()

	ssh, err := health.NewTCP(health.TCPConfig{Address: l.Addr().String(), Expect: "SSH-"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("healthy:", ssh.Check(context.Background()) == nil)
	// Output: healthy: true
}

func ExampleNewHTTP() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	web, err := health.NewHTTP(health.HTTPConfig{
		URL:          srv.URL + "/health",
		BodyContains: "ok",
		Timeout:      2 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = web.Check(context.Background())
	fmt.Println(errors.Is(err, health.ErrUnexpected))
	var he *health.Error
	if errors.As(err, &he) {
		fmt.Println(he.Kind, he.Err)
	}
	// Output:
	// true
	// http health: unexpected answer: status 503, want 200-399
}

// A MySQL check that logs in as a dedicated user. Access denied and too
// many connections are "degraded": the server runs, but someone must look.
func ExampleNewMySQL() {
	db, err := health.NewMySQL(health.MySQLConfig{
		Address:  "db1.example.net:3306",
		User:     "understudy",
		Password: "read from a file by the daemon",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch err := db.Check(ctx); {
	case err == nil:
		fmt.Println("healthy")
	case health.IsDegraded(err):
		fmt.Println("alive but degraded:", err)
	default:
		fmt.Println("down:", err)
	}
}

func ExampleNewDNS() {
	www, err := health.NewDNS(health.DNSConfig{
		Server: "ns1.example.net:53",
		Name:   "www.example.net",
		Type:   "A",
		Expect: []string{"192.0.2.10"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = www.Check(context.Background())
}

// keepalived's track_script: exit status 0 is healthy.
func ExampleNewExec() {
	script, err := health.NewExec(health.ExecConfig{Command: []string{"false"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var exit *health.ExitError
	if err := script.Check(context.Background()); errors.As(err, &exit) {
		fmt.Println("exit code", exit.ExitCode)
	}
	// Output: exit code 1
}

// pidof, reading a fixture proc tree.
func ExampleNewProcess() {
	nginx, err := health.NewProcess(health.ProcessConfig{Name: "nginx", MinCount: 2, ProcDir: "testdata/proc"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(nginx.Check(context.Background()))
	// Output: <nil>
}
