// Package dialect maps a dialect or driver name to the sqlparse.Parser that
// speaks it. Dialects are registered by import, as database/sql drivers are:
// sqlparse/sqlite, sqlparse/mysql and sqlparse/postgres each register their
// Parser in init, so a program links only the parsers it imports.
package dialect

import (
	"fmt"
	"sync"

	"github.com/yokedcache/yoked/sqlparse"
)

var (
	mu      sync.RWMutex
	parsers = map[string]sqlparse.Parser{}
)

// importPath is the package that registers each known dialect, for errors.
var importPath = map[string]string{
	sqlparse.DialectSQLite:   "github.com/yokedcache/yoked/sqlparse/sqlite",
	sqlparse.DialectMySQL:    "github.com/yokedcache/yoked/sqlparse/mysql",
	sqlparse.DialectPostgres: "github.com/yokedcache/yoked/sqlparse/postgres",
}

// Register makes p the Parser of the dialect called name, one of the names
// sqlparse.NormalizeDialect returns. Dialect packages call it from init. It
// panics when name is not a dialect name or p is nil; a second Register for
// one name replaces the first.
func Register(name string, p sqlparse.Parser) {
	d := sqlparse.NormalizeDialect(name)
	if d == "" || d != name || p == nil {
		panic(fmt.Sprintf("dialect: Register(%q, %v): not a dialect name or nil parser", name, p))
	}
	mu.Lock()
	parsers[d] = p
	mu.Unlock()
}

// warmer is a Parser with a start-up cost (PostgreSQL's WebAssembly
// build) that it can pay in the background; For starts it.
type warmer interface{ Warm() }

// For returns the Parser of the dialect called name; name may be any alias
// sqlparse.NormalizeDialect knows (sqlite3, postgresql, pgx, mariadb, …).
// The Parser is safe for concurrent use. An unknown name, or a dialect whose
// package the program does not import, is an error that says what to do.
func For(name string) (sqlparse.Parser, error) {
	d := sqlparse.NormalizeDialect(name)
	if d == "" {
		return nil, fmt.Errorf("sqlparse: unknown dialect %q (known: %s, %s, %s)",
			name, sqlparse.DialectSQLite, sqlparse.DialectMySQL, sqlparse.DialectPostgres)
	}
	mu.RLock()
	p := parsers[d]
	mu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("sqlparse: the %s parser is not linked into this program; import _ %q", d, importPath[d])
	}
	if w, ok := p.(warmer); ok {
		w.Warm()
	}
	return p, nil
}
