// Package dialect maps a dialect or driver name to the sqlparse.Parser that
// speaks it. It is the only package that imports every dialect.
package dialect

import (
	"fmt"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/mysql"
	"github.com/yokedcache/yoked/sqlparse/postgres"
	"github.com/yokedcache/yoked/sqlparse/sqlite"
)

// For returns the Parser of the dialect called name; name may be any alias
// sqlparse.NormalizeDialect knows (sqlite3, postgresql, pgx, mariadb, …).
// The Parser is safe for concurrent use. An unknown name is an error that
// lists the known names.
func For(name string) (sqlparse.Parser, error) {
	switch sqlparse.NormalizeDialect(name) {
	case sqlparse.DialectSQLite:
		return sqlite.New(), nil
	case sqlparse.DialectMySQL:
		return mysql.New(), nil
	case sqlparse.DialectPostgres:
		return postgres.New(), nil
	}
	return nil, fmt.Errorf("sqlparse: unknown dialect %q (known: %s, %s, %s)",
		name, sqlparse.DialectSQLite, sqlparse.DialectMySQL, sqlparse.DialectPostgres)
}
