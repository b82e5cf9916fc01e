package cmdrun_test

import (
	"context"
	"fmt"
	"os"

	"github.com/understudy-ha/understudy/cmdrun"
)

// Output streamed to a writer as the program prints it, and captured for
// the result.
func ExampleExec() {
	res, err := cmdrun.Exec{}.Run(context.Background(), cmdrun.Cmd{Path: "printf", Args: []string{"%s\n", "50%"}, Stdout: os.Stdout})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("captured %q\n", res.Stdout)
	// Output:
	// 50%
	// captured "50%\n"
}
