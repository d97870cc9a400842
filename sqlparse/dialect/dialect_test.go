package dialect_test

import (
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
	_ "github.com/yokedcache/yoked/sqlparse/mysql"
	_ "github.com/yokedcache/yoked/sqlparse/postgres"
	_ "github.com/yokedcache/yoked/sqlparse/sqlite"
)

func TestFor(t *testing.T) {
	for _, name := range []string{"sqlite3", "SQLite", "mysql", "mariadb", "postgres", "pgx", "postgresql"} {
		p, err := dialect.For(name)
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
	_, err := dialect.For("oracle")
	if err == nil || !strings.Contains(err.Error(), "oracle") || !strings.Contains(err.Error(), "sqlite") {
		t.Errorf("For(oracle) error = %v", err)
	}
}

func TestRegisterRefusesNonDialect(t *testing.T) {
	for _, name := range []string{"oracle", "pgx", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			dialect.Register(name, nil)
		}()
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
