package config_test

import (
	"fmt"

	"github.com/understudy-ha/understudy/internal/daemon/config"
)

func ExampleParse() {
	c, err := config.Parse("understudy.yaml", []byte(`
interval: 30s
nodes:
  - name: master
    address: 10.1.0.1
    checks:
      - {name: http, type: http, url: "http://10.1.0.1/"}
  - name: slave
    address: 10.2.0.2
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ch := range c.Checks() {
		fmt.Println(ch.FullName, ch.Role, ch.Timeout, ch.HTTP.Method)
	}
	fmt.Println(c.Nodes[0].Name, c.Nodes[0].Priority, c.Nodes[1].Name, c.Nodes[1].Priority)
	// Output:
	// master/http critical 5s GET
	// master 2 slave 1
}

func ExampleParse_errors() {
	_, err := config.Parse("understudy.yaml", []byte(`
interval: 1 m
nodes:
  - name: master
    address: 10.1.0.1
    checks:
      - name: http
        type: http
        url: "http://10.1.0.1/"
        timout: 2s
        password: hunter2
`))
	fmt.Println(err)
	// Output:
	// understudy.yaml:2:11: interval: invalid duration "1 m" (want a number and a unit, like 500ms, 30s, 5m or 1h30m)
	// understudy.yaml:10:9: nodes[0].checks[0]: unknown field "timout" (did you mean "timeout"?)
	// understudy.yaml:11:9: nodes[0].checks[0]: unknown field "password"
}
