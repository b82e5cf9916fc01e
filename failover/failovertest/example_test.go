package failovertest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/failovertest"
)

// A Switcher told to fail twice fails twice, then succeeds, recording
// every call.
func ExampleSwitcher() {
	var sw failovertest.Switcher
	sw.FailNext(2, nil)
	for range 3 {
		err := sw.Switch(context.Background(), failover.Node{Name: "backup"})
		fmt.Println(errors.Is(err, failovertest.ErrInjected))
	}
	fmt.Println(sw.Targets(), sw.Current())
	// Output:
	// true
	// true
	// false
	// [backup backup backup] backup
}

// A Checker passes until told to fail.
func ExampleChecker() {
	var c failovertest.Checker
	fmt.Println(c.Check(context.Background()))
	c.Fail(errors.New("connection refused"))
	fmt.Println(c.Check(context.Background()))
	c.Pass()
	fmt.Println(c.Check(context.Background()), c.Calls())
	// Output:
	// <nil>
	// connection refused
	// <nil> 3
}
