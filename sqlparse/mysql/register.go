package mysql

import (
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
)

// Importing this package makes its Parser the one sqlparse/dialect (and so
// the yoked driver) uses for the mysql dialect.
func init() { dialect.Register(sqlparse.DialectMySQL, New()) }
