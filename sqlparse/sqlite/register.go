package sqlite

import (
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
)

// Importing this package makes its Parser the one sqlparse/dialect (and so
// the yoked driver) uses for the sqlite dialect.
func init() { dialect.Register(sqlparse.DialectSQLite, New()) }
