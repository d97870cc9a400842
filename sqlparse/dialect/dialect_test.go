package dialect

import (
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
)

func TestFor(t *testing.T) {
	for _, name := range []string{"sqlite3", "SQLite", "mysql", "mariadb", "postgres", "pgx", "postgresql"} {
		p, err := For(name)
		if err != nil || p == nil {
			t.Fatalf("For(%q) = %v, %v", name, p, err)
		}
		st := p.Parse("INSERT INTO users (id) VALUES (1)")
		if st.Kind != sqlparse.KindWrite || len(st.Writes) != 1 || st.Writes[0].Name != "users" {
			t.Errorf("For(%q).Parse(insert) = %+v", name, st)
		}
		// A grammar, not the lexical fallback, answers: a plain read is cacheable.
		if st := p.Parse("SELECT name FROM users WHERE id = 1"); !st.Parsed || !st.Cacheable {
			t.Errorf("For(%q).Parse(select) = %+v", name, st)
		}
		if st := p.Parse("SELECT * FROM users; DELETE FROM orders"); st.Cacheable || !writes(st, "orders") {
			t.Errorf("For(%q).Parse(select; delete) = %+v", name, st)
		}
	}
	_, err := For("oracle")
	if err == nil || !strings.Contains(err.Error(), "oracle") || !strings.Contains(err.Error(), "sqlite") {
		t.Errorf("For(oracle) error = %v", err)
	}
}

func writes(st sqlparse.Statement, name string) bool {
	if st.AllTables {
		return true
	}
	for _, w := range st.Writes {
		if w.Name == name {
			return true
		}
	}
	return false
}
