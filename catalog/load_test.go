package catalog

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
	_ "github.com/yokedcache/yoked/sqlparse/mysql" // the dialects the tests parse with register themselves
	_ "github.com/yokedcache/yoked/sqlparse/sqlite"
)

type db struct {
	dialect string
	sql     *sql.DB
	q       Querier
	parser  sqlparse.Parser
}

func openDB(t *testing.T, name string) db {
	var driverName, dsn, d string
	switch name {
	case "sqlite":
		driverName, dsn, d = "sqlite3", "file:"+filepath.Join(t.TempDir(), "c.db")+"?_foreign_keys=1", sqlparse.DialectSQLite
	case "postgres":
		driverName, dsn, d = "postgres", testenv.PostgresSchema(t), sqlparse.DialectPostgres
	case "mysql":
		driverName, dsn, d = "mysql", testenv.MySQLDatabase(t), sqlparse.DialectMySQL
	}
	sdb, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	sdb.SetMaxOpenConns(1)
	t.Cleanup(func() { sdb.Close() })
	p, err := dialect.For(d)
	if err != nil {
		t.Fatal(err)
	}
	return db{dialect: d, sql: sdb, q: DB(sdb), parser: p}
}

func (d db) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.sql.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func (d db) load(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load(context.Background(), d.dialect, d.q, d.parser, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPrimaryKeys(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(name, func(t *testing.T) {
			d := openDB(t, name)
			single, multi, text := testenv.Name("pk1_"), testenv.Name("pk2_"), testenv.Name("pk3_")
			textType := "VARCHAR(40)"
			d.exec(t,
				`CREATE TABLE `+single+` (id INTEGER PRIMARY KEY, v INTEGER)`,
				`CREATE TABLE `+multi+` (a INTEGER NOT NULL, b BIGINT NOT NULL, PRIMARY KEY (b, a))`,
				`CREATE TABLE `+text+` (code `+textType+` PRIMARY KEY)`,
			)
			c := d.load(t)
			cols, ok := c.PrimaryKey(c.ResolveName(single))
			if !ok || len(cols) != 1 || cols[0].Name != "id" || !cols[0].Exact {
				t.Errorf("single key: %+v %v", cols, ok)
			}
			cols, ok = c.PrimaryKey(c.ResolveName(multi))
			if !ok || len(cols) != 2 || cols[0].Name != "b" || cols[1].Name != "a" {
				t.Fatalf("composite key in key order: %+v %v", cols, ok)
			}
			if d.dialect != sqlparse.DialectSQLite && (!cols[0].Exact || !cols[1].Exact) {
				t.Errorf("integer key columns not exact: %+v", cols)
			}
			cols, ok = c.PrimaryKey(c.ResolveName(text))
			if !ok || len(cols) != 1 || cols[0].Name != "code" || cols[0].Type == "" {
				t.Fatalf("text key: %+v %v", cols, ok)
			}
			// Text equality is byte equality only under PostgreSQL's
			// deterministic collations; MySQL pads and folds, SQLite
			// compares by affinity.
			if want := d.dialect == sqlparse.DialectPostgres; cols[0].Exact != want {
				t.Errorf("text key exact = %v, want %v (%+v)", cols[0].Exact, want, cols[0])
			}
			if d.dialect == sqlparse.DialectMySQL && cols[0].Collation == "" {
				t.Errorf("MySQL text key without collation: %+v", cols[0])
			}
			if _, ok := c.PrimaryKey("no_such_table"); ok {
				t.Error("key of a table that does not exist")
			}
			if _, ok := c.PrimaryKey(single); ok && d.dialect != sqlparse.DialectSQLite {
				t.Error("key found under an unresolved name")
			}
			if _, ok := Failed().PrimaryKey(single); ok {
				t.Error("a failed catalog knows keys")
			}
		})
	}
}

// scripted answers every query with the same rows (a fake server, a
// pooler answering something else), or with err.
type scripted struct {
	rows [][]string
	err  error
}

func (s scripted) Query(ctx context.Context, query string) ([][]string, error) { return s.rows, s.err }

func TestUnexpectedAnswersFailSafely(t *testing.T) {
	for _, d := range []string{sqlparse.DialectPostgres, sqlparse.DialectMySQL, sqlparse.DialectSQLite} {
		p, err := dialect.For(d)
		if err != nil {
			t.Fatal(err)
		}
		for name, q := range map[string]Querier{
			"one column":    scripted{rows: [][]string{{"x"}}},
			"ten columns":   scripted{rows: [][]string{make([]string, 10)}},
			"ragged rows":   scripted{rows: [][]string{{"a", "b"}, {"a"}}},
			"no privileges": scripted{err: errors.New("permission denied for table pg_proc")},
		} {
			t.Run(d+"/"+name, func(t *testing.T) {
				c, err := Load(context.Background(), d, q, p, nil)
				if err == nil {
					// Every query answered alike may fit some of them; what
					// matters is no panic and no fact invented from noise.
					t.Logf("loaded: %+v", c)
					return
				}
				if c != nil {
					t.Fatalf("a catalog with an error: %v", err)
				}
				if name != "no privileges" && !errors.Is(err, ErrUnexpected) {
					t.Fatalf("error %v does not wrap ErrUnexpected", err)
				}
			})
		}
	}
	if _, err := Load(context.Background(), "oracle", scripted{}, nil, nil); err == nil {
		t.Error("a dialect without a catalog loaded")
	}
}

func TestFailedCatalogIsConservative(t *testing.T) {
	read := sqlparse.Statement{Kind: sqlparse.KindRead, Parsed: true, Cacheable: true,
		Reads: []sqlparse.Table{{Name: "t"}}, Functions: []string{"f"}}
	if a := Failed().Access(&read, ""); a.Cacheable {
		t.Error("a read calling a function was cacheable without a catalog")
	}
	write := sqlparse.Statement{Kind: sqlparse.KindWrite, Parsed: true, Writes: []sqlparse.Table{{Name: "t"}}}
	if a := Failed().Access(&write, ""); !a.WriteAll {
		t.Error("a write did not invalidate everything without a catalog")
	}
	var none *Catalog
	if a := none.Access(&write, ""); a.WriteAll || !reflect.DeepEqual(a.Writes, []string{"t"}) {
		t.Errorf("nil catalog: %+v", a)
	}
}
