// Command sqlite uses yoked over SQLite through modernc.org/sqlite, the way an
// application does; cgofree's test builds it with CGO_ENABLED=0 and runs it
// with the DSN in YOKED_STORY_DSN.
package main

import (
	_ "modernc.org/sqlite"

	_ "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/cgofree"
	_ "github.com/yokedcache/yoked/sqlparse/sqlite"
)

func main() { cgofree.Main("yoked+sqlite", func(int) string { return "?" }) }
