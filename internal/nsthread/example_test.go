package nsthread_test

import (
	"fmt"
	"net"

	"github.com/understudy-ha/understudy/internal/nsthread"
)

// Listening inside a namespace made by `ip netns add lab-a`: the socket
// stays in lab-a after Do returns, and may be used from any goroutine.
func ExampleDo() {
	var ln net.Listener
	err := nsthread.Do("lab-a", func() error {
		var err error
		ln, err = net.Listen("tcp", "10.77.0.1:8080")
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	fmt.Println("listening in lab-a on", ln.Addr())
}
