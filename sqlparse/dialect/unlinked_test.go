package dialect

import (
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
)

// A dialect whose package is not imported is a configuration error naming
// the package to import, not a silent fallback.
func TestForUnlinked(t *testing.T) {
	mu.Lock()
	saved, had := parsers[sqlparse.DialectPostgres]
	delete(parsers, sqlparse.DialectPostgres)
	mu.Unlock()
	t.Cleanup(func() {
		if had {
			Register(sqlparse.DialectPostgres, saved)
		}
	})
	p, err := For("pgx")
	if p != nil || err == nil || !strings.Contains(err.Error(), `import _ "github.com/yokedcache/yoked/sqlparse/postgres"`) {
		t.Fatalf("For(pgx) without the postgres package = %v, %v", p, err)
	}
}
