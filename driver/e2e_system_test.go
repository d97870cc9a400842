package driver_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// System catalogs are never cached: a migration tool asking "does this
// table exist?" gets the answer after DDL through yoked, however it names
// the catalog.
func TestE2ESystemCatalogsAreNotCached(t *testing.T) {
	probes := map[string][]string{
		"postgres": {
			`SELECT count(*) FROM pg_tables WHERE tablename = 'yk_new'`,
			`SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'yk_new'`,
			`SELECT count(*) FROM information_schema.tables WHERE table_name = 'yk_new'`,
			`SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('yk_new')`,
		},
		"mysql": {
			`SELECT count(*) FROM information_schema.tables WHERE table_name = 'yk_new'`,
			`SELECT count(*) FROM INFORMATION_SCHEMA.COLUMNS WHERE table_name = 'yk_new'`,
			`SELECT count(*) FROM mysql.innodb_table_stats WHERE table_name = 'yk_new'`,
			`SELECT count(*) FROM performance_schema.table_io_waits_summary_by_table WHERE object_name = 'yk_new'`,
		},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		if probes[b.dialect] == nil {
			return
		}
		e := b.open(t)
		for _, q := range probes[b.dialect] {
			e.miss(func() { e.str(e.db, q) })
			e.miss(func() { e.str(e.db, q) })
		}
		before := map[string]string{}
		for _, q := range probes[b.dialect] {
			before[q] = e.str(e.db, q)
		}
		e.exec(e.db, `CREATE TABLE yk_new (id INT PRIMARY KEY)`)
		e.exec(e.db, `INSERT INTO yk_new VALUES (1)`)
		for _, q := range probes[b.dialect][:2] {
			if got := e.str(e.db, q); got == before[q] {
				t.Fatalf("%s still answers %s after CREATE TABLE", q, got)
			}
		}
	})
}

// A connection whose unqualified names reach a system schema (MySQL's
// current database, PostgreSQL's search_path) caches nothing.
func TestE2ESystemSchemaAsDefault(t *testing.T) {
	t.Run("mysql", func(t *testing.T) {
		cfg, err := mysql.ParseDSN(testenv.MySQL(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = "information_schema"
		systemDefaultNotCached(t, "mysql", cfg.FormatDSN(), `SELECT count(*) FROM tables WHERE table_name = 'yk_nothing'`)
	})
	t.Run("postgres", func(t *testing.T) {
		u, err := url.Parse(testenv.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", "information_schema,public")
		u.RawQuery = q.Encode()
		systemDefaultNotCached(t, "pgx", u.String(), `SELECT count(*) FROM tables WHERE table_name = 'yk_nothing'`)
	})
}

func systemDefaultNotCached(t *testing.T, base, dsn, q string) {
	db, err := yoked.Open(base, dsn, yoked.WithStore(mustMemory(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cache, _ := yoked.CacheOf(db)
	for range 3 {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if s := cache.Stats(); s.Hits != 0 || s.Stores != 0 || s.Skips["system_catalog"] != 3 {
		t.Fatalf("reads through a system schema as default: %d hits, %d stores, skips %v", s.Hits, s.Stores, s.Skips)
	}
}

// MySQL: SQL_CALC_FOUND_ROWS is never served from the cache, so FOUND_ROWS()
// after it counts its rows; non-deterministic functions (SYS_GUID, UUID)
// are never cached.
func TestE2EMySQLFoundRowsAndGUIDs(t *testing.T) {
	for _, b := range backends {
		if b.dialect != "mysql" {
			continue
		}
		e := b.open(t)
		ctx := context.Background()
		conn, err := e.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		count := func(q string) string {
			t.Helper()
			e.str(conn, q)
			return e.str(conn, `SELECT FOUND_ROWS()`)
		}
		all := `SELECT SQL_CALC_FOUND_ROWS name FROM users ORDER BY id LIMIT 1`
		one := `SELECT SQL_CALC_FOUND_ROWS name FROM users WHERE id = 2 ORDER BY id LIMIT 1`
		for range 2 {
			e.want("FOUND_ROWS after all", count(all), "2")
			e.want("FOUND_ROWS after one", count(one), "1")
		}
		var version string
		if err := conn.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
			t.Fatal(err)
		}
		guids := []string{`SELECT UUID()`, `SELECT UUID_SHORT()`}
		if strings.Contains(strings.ToLower(version), "mariadb") {
			guids = append(guids, `SELECT SYS_GUID()`)
		}
		for _, q := range guids {
			if a, b := e.str(e.db, q), e.str(e.db, q); a == b {
				t.Fatalf("%s answered %s twice", q, a)
			}
		}
	}
}
