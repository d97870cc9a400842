// Command mysql uses yoked over MySQL or MariaDB through go-sql-driver/mysql, the way an
// application does; cgofree's test builds it with CGO_ENABLED=0 and runs it
// with the DSN in YOKED_STORY_DSN.
package main

import (
	_ "github.com/go-sql-driver/mysql"

	_ "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/cgofree"
	_ "github.com/yokedcache/yoked/sqlparse/mysql"
)

func main() { cgofree.Main("yoked+mysql", func(int) string { return "?" }) }
