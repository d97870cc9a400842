// Command pgx uses yoked over PostgreSQL through pgx, the way an
// application does; cgofree's test builds it with CGO_ENABLED=0 and runs it
// with the DSN in YOKED_STORY_DSN.
package main

import (
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib"

	_ "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/cgofree"
	_ "github.com/yokedcache/yoked/sqlparse/postgres"
)

func main() { cgofree.Main("yoked+pgx", func(n int) string { return fmt.Sprintf("$%d", n) }) }
