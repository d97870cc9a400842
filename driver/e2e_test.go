package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"
	"github.com/mattn/go-sqlite3"
	modernc "modernc.org/sqlite"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// backend is one real database the behaviour suite runs against, with the
// few places where their SQL differs.
type backend struct {
	name    string // the base driver registered with database/sql
	dialect string
	// fresh returns the DSN of a fresh, empty schema or database.
	fresh func(t testing.TB) string
	// schema creates users, orders and audit.
	schema []string
	// upsert changes user 1's name to $1 and returns it.
	upsert string
	// truncate empties orders.
	truncate string
	// addColumn adds a nullable column "nick" to users.
	addColumn string
	// baseErr reports whether err is the base driver's own error type.
	baseErr func(err error) bool
}

func sqliteFresh(t testing.TB) string {
	return "file:" + filepath.Join(t.TempDir(), "e2e.db") + "?_busy_timeout=5000&_journal_mode=WAL&_foreign_keys=1"
}

func moderncFresh(t testing.TB) string {
	return "file:" + filepath.Join(t.TempDir(), "e2e.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
}

var backends = []backend{
	sqliteBackend("sqlite3", sqliteFresh, func(err error) bool { var e sqlite3.Error; return errors.As(err, &e) }),
	pgBackend("postgres", func(err error) bool { var e *pq.Error; return errors.As(err, &e) }),
	pgBackend("pgx", func(err error) bool { var e *pgconn.PgError; return errors.As(err, &e) }),
	{
		name: "mysql", dialect: "mysql", fresh: testenv.MySQLDatabase,
		schema: []string{
			`CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, score DOUBLE, active BOOLEAN, created DATETIME) ENGINE=InnoDB`,
			`CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT, total BIGINT) ENGINE=InnoDB`,
			`CREATE TABLE audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200)) ENGINE=InnoDB`,
		},
		upsert:    `INSERT INTO users (id, name) VALUES (1, ?) ON DUPLICATE KEY UPDATE name = VALUES(name)`,
		truncate:  `TRUNCATE TABLE orders`,
		addColumn: `ALTER TABLE users ADD COLUMN nick VARCHAR(20)`,
		baseErr:   func(err error) bool { var e *mysql.MySQLError; return errors.As(err, &e) },
	},
	// modernc.org/sqlite: SQLite in pure Go, registered as "sqlite".
	sqliteBackend("sqlite", moderncFresh, func(err error) bool { var e *modernc.Error; return errors.As(err, &e) }),
}

// sqliteBackend is SQLite through the base driver registered as name.
func sqliteBackend(name string, fresh func(testing.TB) string, baseErr func(error) bool) backend {
	return backend{
		name: name, dialect: "sqlite", fresh: fresh,
		schema: []string{
			`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, active BOOLEAN, created DATETIME)`,
			`CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total INTEGER)`,
			`CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT)`,
		},
		upsert:    `INSERT INTO users (id, name) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name RETURNING name`,
		truncate:  `DELETE FROM orders`,
		addColumn: `ALTER TABLE users ADD COLUMN nick TEXT`,
		baseErr:   baseErr,
	}
}

// pgBackend is PostgreSQL through the base driver registered as name.
func pgBackend(name string, baseErr func(error) bool) backend {
	return backend{
		name: name, dialect: "postgres", fresh: testenv.PostgresSchema,
		schema: []string{
			`CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION, active BOOLEAN, created TIMESTAMP)`,
			`CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT, total BIGINT)`,
			`CREATE TABLE audit (id BIGSERIAL PRIMARY KEY, note TEXT)`,
		},
		upsert:    `INSERT INTO users (id, name) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name RETURNING name`,
		truncate:  `TRUNCATE orders`,
		addColumn: `ALTER TABLE users ADD COLUMN nick TEXT`,
		baseErr:   baseErr,
	}
}

// e2e is one test's view of a backend: the DB through yoked, the same
// database without it, and the cache.
type e2e struct {
	t     *testing.T
	b     backend
	dsn   string
	db    *sql.DB
	raw   *sql.DB
	cache *yoked.Cache
	// catalogRead: yoked's schema catalog was read (see ready).
	catalogRead bool
}

// open opens a fresh schema of b through yoked (own memory store) and
// without, creates the tables and fills users and orders through raw.
func (b backend) open(t *testing.T, opts ...yoked.Option) *e2e {
	t.Helper()
	dsn := b.fresh(t)
	return b.openDSN(t, dsn, true, opts...)
}

func (b backend) openDSN(t *testing.T, dsn string, fill bool, opts ...yoked.Option) *e2e {
	t.Helper()
	raw, err := sql.Open(b.name, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e := &e2e{t: t, b: b, dsn: dsn, raw: raw}
	if fill {
		for _, q := range b.schema {
			e.rawExec(q)
		}
		e.rawExec(`INSERT INTO users (id, name, score, active, created) VALUES (1, 'ada', 1.5, true, '2024-01-02 03:04:05'), (2, 'bob', 2.5, false, NULL)`)
		e.rawExec(`INSERT INTO orders (id, user_id, total) VALUES (1, 1, 10), (2, 2, 20)`)
	}
	db, err := yoked.Open(b.name, dsn, append([]yoked.Option{yoked.WithStore(mustMemory(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	if e.cache, err = yoked.CacheOf(db); err != nil {
		t.Fatal(err)
	}
	return e
}

// ready waits, before the first statement through yoked, until the schema
// catalog is read (reads bypass the cache until then): schema objects the
// test created through raw before are in it.
func (e *e2e) ready(db any) {
	if db != e.db || e.catalogRead {
		return
	}
	e.catalogRead = true
	if err := yoked.WaitCatalog(context.Background(), e.db); err != nil {
		e.t.Fatal(err)
	}
}

// q rewrites ? placeholders to $n for PostgreSQL.
func (e *e2e) q(query string) string {
	if e.b.dialect != "postgres" {
		return query
	}
	var sb strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func (e *e2e) rawExec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.raw.Exec(e.q(query), args...); err != nil {
		e.t.Fatalf("raw %s: %v", query, err)
	}
}

func (e *e2e) exec(db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	e.t.Helper()
	e.ready(db)
	if _, err := db.ExecContext(context.Background(), e.q(query), args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// str reads one string.
func (e *e2e) str(db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) string {
	e.t.Helper()
	e.ready(db)
	var s string
	if err := db.QueryRowContext(context.Background(), e.q(query), args...).Scan(&s); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return s
}

// hit runs read and fails unless it was served from the cache.
func (e *e2e) hit(read func()) {
	e.t.Helper()
	h := e.cache.Stats().Hits
	read()
	if got := e.cache.Stats().Hits; got != h+1 {
		e.t.Fatalf("expected a cache hit (hits %d -> %d): %+v", h, got, e.cache.Stats())
	}
}

// miss runs read and fails if it was served from the cache.
func (e *e2e) miss(read func()) {
	e.t.Helper()
	h := e.cache.Stats().Hits
	read()
	if got := e.cache.Stats().Hits; got != h {
		e.t.Fatalf("expected no cache hit (hits %d -> %d)", h, got)
	}
}

// want fails unless got equals want.
func (e *e2e) want(what, got, want string) {
	e.t.Helper()
	if got != want {
		e.t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// forEachBackend runs f as a subtest per backend; each call of b.open gets
// its own schema/database.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func TestE2ECachedReadAndAutocommitWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		q := `SELECT name FROM users WHERE id = ?`
		e.want("first read", e.str(e.db, q, 1), "ada")
		e.hit(func() { e.want("second read", e.str(e.db, q, 1), "ada") })
		e.want("other row", e.str(e.db, q, 2), "bob")
		e.exec(e.db, `UPDATE users SET name = ? WHERE id = ?`, "ada2", 1)
		e.miss(func() { e.want("after update", e.str(e.db, q, 1), "ada2") })
		e.hit(func() { e.want("cached again", e.str(e.db, q, 1), "ada2") })
		// A prepared write.
		st, err := e.db.Prepare(e.q(`UPDATE users SET name = ? WHERE id = ?`))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Exec("ada3", 1); err != nil {
			t.Fatal(err)
		}
		e.want("after prepared update", e.str(e.db, q, 1), "ada3")
	})
}

func TestE2ETransactions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		q := `SELECT name FROM users WHERE id = 1`
		e.str(e.db, q)
		e.hit(func() { e.str(e.db, q) })

		// Rolled back: never visible, and the cache still answers.
		tx, err := e.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		e.exec(tx, `UPDATE users SET name = 'rolled' WHERE id = 1`)
		// Read-your-writes inside the transaction, never from the cache.
		e.miss(func() { e.want("read in tx", e.str(tx, q), "rolled") })
		e.miss(func() { e.want("again in tx", e.str(tx, q), "rolled") })
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		e.want("after rollback", e.str(e.db, q), "ada")

		// Committed: visible as soon as Commit returns.
		tx, err = e.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		e.exec(tx, `UPDATE users SET name = 'committed' WHERE id = 1`)
		e.want("outside before commit", e.str(e.db, q), "ada")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		e.want("after commit", e.str(e.db, q), "committed")
		e.hit(func() { e.want("cached after commit", e.str(e.db, q), "committed") })
	})
}

func TestE2EJoinInvalidatedByEitherTable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		q := `SELECT u.name || ':' || CAST(o.total AS CHAR(10)) FROM users u JOIN orders o ON o.user_id = u.id WHERE o.id = 1`
		if b.dialect == "mysql" {
			q = `SELECT CONCAT(u.name, ':', o.total) FROM users u JOIN orders o ON o.user_id = u.id WHERE o.id = 1`
		} else if b.dialect == "postgres" {
			q = `SELECT u.name || ':' || o.total::text FROM users u JOIN orders o ON o.user_id = u.id WHERE o.id = 1`
		}
		e.want("join", e.str(e.db, q), "ada:10")
		e.hit(func() { e.str(e.db, q) })
		e.exec(e.db, `UPDATE orders SET total = 11 WHERE id = 1`)
		e.want("after orders write", e.str(e.db, q), "ada:11")
		e.exec(e.db, `UPDATE users SET name = 'ann' WHERE id = 1`)
		e.want("after users write", e.str(e.db, q), "ann:11")
	})
}

func TestE2EUpsert(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		q := `SELECT name FROM users WHERE id = 1`
		e.str(e.db, q)
		e.hit(func() { e.str(e.db, q) })
		if strings.Contains(b.upsert, "RETURNING") {
			e.want("upsert returning", e.str(e.db, b.upsert, "up1"), "up1")
		} else {
			e.exec(e.db, b.upsert, "up1")
		}
		e.want("after upsert", e.str(e.db, q), "up1")
		// The same upsert inside a transaction, visible at commit.
		tx, err := e.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		e.exec(tx, b.upsert, "up2")
		e.want("before commit", e.str(e.db, q), "up1")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		e.want("after committed upsert", e.str(e.db, q), "up2")
	})
}

func TestE2ETruncate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		q := `SELECT CAST(count(*) AS CHAR(10)) FROM orders`
		if b.dialect == "postgres" {
			q = `SELECT count(*)::text FROM orders`
		}
		e.want("count", e.str(e.db, q), "2")
		e.hit(func() { e.str(e.db, q) })
		e.exec(e.db, b.truncate)
		e.want("after truncate", e.str(e.db, q), "0")
	})
}

func TestE2EAlterTableShowsNewColumn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		e.ready(e.db)
		q := `SELECT * FROM users WHERE id = 1`
		cols := func() []string {
			rows, err := e.db.Query(q)
			if err != nil && strings.Contains(err.Error(), "cached plan must not change result type") {
				// pgx's own statement cache answers this once after ALTER
				// TABLE, with or without yoked, then re-prepares.
				rows, err = e.db.Query(q)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			c, _ := rows.Columns()
			for rows.Next() {
			}
			return c
		}
		cols()
		e.hit(func() { cols() })
		e.exec(e.db, b.addColumn)
		if got := cols(); !slices.Contains(got, "nick") {
			t.Fatalf("columns after ALTER TABLE = %v, want nick among them", got)
		}
	})
}

func TestE2EBaseErrorsKeepTheirType(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		_, err := e.db.Exec(`INSERT INTO users (id, name) VALUES (1, 'dup')`)
		if err == nil || !b.baseErr(err) {
			t.Fatalf("duplicate key: %T %v, want the base driver's error type", err, err)
		}
		for range 2 { // errors are never cached
			var n int
			err = e.db.QueryRow(`SELECT count(*) FROM missing_table`).Scan(&n)
			if err == nil || !b.baseErr(err) {
				t.Fatalf("missing table: %T %v", err, err)
			}
		}
		tx, err := e.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err = tx.Exec(`INSERT INTO users (id, name) VALUES (2, 'dup')`); err == nil || !b.baseErr(err) {
			t.Fatalf("duplicate key in tx: %T %v", err, err)
		}
	})
}

func TestE2EColumnTypesEqualOnHitAndMiss(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		e.ready(e.db)
		q := `SELECT id, name, score, active, created, NULL AS nada FROM users ORDER BY id`
		read := func(db *sql.DB) ([]colInfo, [][]any) {
			rows, err := db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			return columnInfo(t, rows), scanAll(t, rows)
		}
		rt, rv := read(e.raw)
		mt, mv := read(e.db)
		var ht []colInfo
		var hv [][]any
		e.hit(func() { ht, hv = read(e.db) })
		for name, got := range map[string][2]any{"miss": {mt, mv}, "hit": {ht, hv}} {
			if !reflect.DeepEqual(got[0], rt) {
				t.Errorf("%s column types differ from the base driver:\n got %+v\nwant %+v", name, got[0], rt)
			}
			if !reflect.DeepEqual(got[1], rv) {
				t.Errorf("%s values differ from the base driver:\n got %#v\nwant %#v", name, got[1], rv)
			}
		}
	})
}

// go-sql-driver/mysql answers a query with arguments by driver.ErrSkip
// unless interpolateParams is set; database/sql then prepares the statement,
// and the read must still be cached and invalidated.
func TestE2EMySQLErrSkipPath(t *testing.T) {
	forEachInterpolate(t, true, func(t *testing.T, e *e2e) {
		q := `SELECT name FROM users WHERE id = ?`
		before := e.cache.Stats()
		e.want("miss", e.str(e.db, q, 1), "ada")
		after := e.cache.Stats()
		// One read: one miss counted, one store lookup, even when the
		// base answered driver.ErrSkip and database/sql ran it again.
		if m := after.Misses - before.Misses; m != 1 {
			t.Fatalf("one read counted %d misses", m)
		}
		if l := after.Store.Misses + after.Store.Hits - before.Store.Misses - before.Store.Hits; l != 1 {
			t.Fatalf("one read made %d store lookups", l)
		}
		e.hit(func() { e.want("hit", e.str(e.db, q, 1), "ada") })
		e.exec(e.db, `UPDATE users SET name = ? WHERE id = ?`, "ann", 1)
		e.want("after write", e.str(e.db, q, 1), "ann")
		e.hit(func() { e.str(e.db, q, 1) })
	})
}

// go-sql-driver/mysql returns float32 for FLOAT and uint64 for BIGINT
// UNSIGNED (GORM's uint ids) through the binary protocol: such reads are
// cached and a hit gives back the same types and values as the base.
func TestE2EMySQLFloatAndUnsigned(t *testing.T) {
	forEachInterpolate(t, false, func(t *testing.T, e *e2e) {
		e.rawExec(`CREATE TABLE nums (id BIGINT UNSIGNED PRIMARY KEY, f FLOAT, d DOUBLE, u INT UNSIGNED, s SMALLINT, ti TINYINT UNSIGNED)`)
		e.rawExec(`INSERT INTO nums VALUES (18446744073709551615, 1.1, 2.2, 4294967295, -32768, 255), (1, NULL, -0.5, 0, 7, 0)`)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`SELECT id, f, d, u, s, ti FROM nums WHERE id > ? ORDER BY id`, []any{0}},
			{`SELECT id, f, d, u, s, ti FROM nums ORDER BY id`, nil},
		} {
			read := func(db *sql.DB) [][]any {
				rows, err := db.Query(q.sql, q.args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				return scanAll(t, rows)
			}
			e.ready(e.db)
			raw := read(e.raw)
			miss := read(e.db)
			var hit [][]any
			e.hit(func() { hit = read(e.db) })
			for name, got := range map[string][][]any{"miss": miss, "hit": hit} {
				if !reflect.DeepEqual(got, raw) {
					t.Errorf("%s %s:\n got %#v\nwant %#v", q.sql, name, got, raw)
				}
			}
		}
		if s := e.cache.Stats().Skips["value_type"]; s != 0 {
			t.Fatalf("%d reads not cached for their value types", s)
		}
	})
}

// forEachInterpolate runs f on a fresh MySQL database (filled when fill),
// with and without interpolateParams.
func forEachInterpolate(t *testing.T, fill bool, f func(t *testing.T, e *e2e)) {
	b := backends[3]
	for _, interpolate := range []bool{false, true} {
		t.Run(fmt.Sprint("interpolateParams=", interpolate), func(t *testing.T) {
			dsn := b.fresh(t)
			if interpolate {
				dsn += "&interpolateParams=true"
			}
			f(t, b.openDSN(t, dsn, fill))
		})
	}
}
