package mysqlconn_test

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/understudy-ha/understudy/internal/mysqlconn"
)

// A connector built without a DSN string, used through database/sql. No
// connection is made until the pool needs one.
func ExampleNewConnector() {
	c, err := mysqlconn.NewConnector(mysqlconn.Config{
		Address:  "127.0.0.1:3306",
		User:     "monitor",
		Password: "read from a 0600 file",
		Timeout:  5 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	db := sql.OpenDB(c)
	defer db.Close()
	fmt.Println("pool ready")
	// Output: pool ready
}
