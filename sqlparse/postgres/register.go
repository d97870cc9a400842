package postgres

import (
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
)

// Importing this package makes its Parser the one sqlparse/dialect (and so
// the yoked driver) uses for the postgres dialect.
func init() { dialect.Register(sqlparse.DialectPostgres, New()) }
