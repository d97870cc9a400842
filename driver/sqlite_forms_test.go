package driver_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
)

// sqliteForms are reads the SQLite parser did not read before issue 10
// (item 12), each with a write that changes its answer.
var sqliteForms = []struct {
	name, query string
	args        []any
	write       string
}{
	{"full outer join", `SELECT u.name, o.total FROM users u FULL OUTER JOIN orders o ON o.user_id = u.id ORDER BY u.id, o.id`, nil,
		`INSERT INTO orders (id, user_id, total) VALUES (3, 7, 30)`},
	{"right join", `SELECT u.name, o.total FROM orders o RIGHT JOIN users u ON u.id = o.user_id ORDER BY u.id`, nil,
		`UPDATE orders SET total = 11 WHERE id = 1`},
	{"indexed by", `SELECT id FROM users INDEXED BY users_name WHERE name = ?`, []any{"ada"},
		`UPDATE users SET name = 'ada' WHERE id = 2`},
	{"not indexed", `SELECT name FROM users NOT INDEXED WHERE id >= 2 ORDER BY id`, nil,
		`UPDATE users SET name = 'bobby' WHERE id = 2`},
	{"filter", `SELECT count(*) FILTER (WHERE total > 15), sum(total) FILTER (WHERE user_id = 1) FROM orders`, nil,
		`INSERT INTO orders (id, user_id, total) VALUES (3, 1, 50)`},
	{"glob", `SELECT name FROM users WHERE name GLOB 'a*' ORDER BY id`, nil,
		`UPDATE users SET name = 'abe' WHERE id = 2`},
	{"datetime with literal modifiers", `SELECT datetime(created, '+1 day', 'start of day') FROM users WHERE id = 1`, nil,
		`UPDATE users SET created = '2025-05-05 05:05:05' WHERE id = 1`},
	{"values in from", `SELECT v.column1, u.name FROM (VALUES (1), (2)) AS v JOIN users u ON u.id = v.column1 ORDER BY 1`, nil,
		`UPDATE users SET name = 'zed' WHERE id = 1`},
	{"limit subquery", `SELECT id FROM orders ORDER BY id LIMIT (SELECT count(*) FROM users WHERE active)`, nil,
		`UPDATE users SET active = 1 WHERE id = 2`},
	{"as materialized", `WITH t AS MATERIALIZED (SELECT user_id, sum(total) AS s FROM orders GROUP BY user_id) SELECT s FROM t WHERE user_id = 1`, nil,
		`INSERT INTO orders (id, user_id, total) VALUES (3, 1, 5)`},
	{"json_each of a column", `SELECT d.id, j.value FROM docs d, json_each(d.tags) j ORDER BY 1, 2`, nil,
		`UPDATE docs SET tags = '["x","y","z"]' WHERE id = 1`},
	{"json_each of a parameter", `SELECT name FROM users WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, []any{"[1,2]"},
		`UPDATE users SET name = 'bo' WHERE id = 2`},
	{"is not distinct from", `SELECT name FROM users WHERE avatar IS NOT DISTINCT FROM ? ORDER BY id`, []any{nil},
		`UPDATE users SET avatar = NULL WHERE id = 1`},
	{"nulls last", `SELECT id FROM users ORDER BY created DESC NULLS LAST`, nil,
		`UPDATE users SET created = '2030-01-01' WHERE id = 2`},
}

func sqliteFormsDB(t *testing.T) (db, raw *sql.DB, cache *yoked.Cache) {
	db, raw, cache = openSQLite(t)
	mustExec(t, db, `CREATE INDEX users_name ON users (name)`)
	mustExec(t, db, `CREATE TABLE docs (id INTEGER PRIMARY KEY, tags TEXT)`)
	mustExec(t, db, `INSERT INTO docs VALUES (1, '["a","b"]'), (2, '["c"]')`)
	return db, raw, cache
}

// rowsText runs q and prints every row, so that answers compare as text.
func rowsText(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for _, r := range scanAll(t, rows) {
		fmt.Fprintf(&b, "%v\n", r)
	}
	return b.String()
}

// TestSQLiteFormsHitAndInvalidate: each form is served from the cache the
// second time, and after a write to a table it reads it answers what the
// base driver answers, which differs from the cached answer.
func TestSQLiteFormsHitAndInvalidate(t *testing.T) {
	for _, f := range sqliteForms {
		t.Run(f.name, func(t *testing.T) {
			db, raw, cache := sqliteFormsDB(t)
			first := rowsText(t, db, f.query, f.args...)
			h := hits(cache)
			if again := rowsText(t, db, f.query, f.args...); again != first {
				t.Fatalf("second answer %q, first %q", again, first)
			}
			if hits(cache) != h+1 {
				t.Fatalf("second read was not a hit: %+v", cache.Stats())
			}
			mustExec(t, db, f.write)
			got, want := rowsText(t, db, f.query, f.args...), rowsText(t, raw, f.query, f.args...)
			if got != want {
				t.Fatalf("after %s: got %q, base driver %q", f.write, got, want)
			}
			if got == first {
				t.Fatalf("the write %s did not change the answer %q: the test proves nothing", f.write, got)
			}
		})
	}
}

// TestSQLiteValuesAndSeriesHit: reads of no table are cached too
// (generate_series where the SQLite build has it).
func TestSQLiteValuesAndSeriesHit(t *testing.T) {
	db, raw, cache := sqliteFormsDB(t)
	qs := []string{`VALUES (1, 'a'), (2, 'b')`, `SELECT value FROM json_each('[1,2,3]')`}
	if _, err := raw.Exec(`SELECT value FROM generate_series(1, 3)`); err == nil {
		qs = append(qs, `SELECT value FROM generate_series(1, 3)`)
	} else {
		t.Logf("generate_series not in this SQLite build: %v", err)
	}
	for _, q := range qs {
		first := rowsText(t, db, q)
		h := hits(cache)
		if rowsText(t, db, q) != first || hits(cache) != h+1 {
			t.Fatalf("%s: second read was not a hit with the same answer: %+v", q, cache.Stats())
		}
	}
}

// TestSQLiteCatalogNeverCached: the questions migration tools ask answer
// afresh after DDL, whether the DDL went through yoked or not, and are
// never served from the cache.
func TestSQLiteCatalogNeverCached(t *testing.T) {
	db, raw, cache := sqliteFormsDB(t)
	exists := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	columns := `SELECT count(*) FROM pragma_table_info(?)`
	schema := `SELECT count(*) FROM sqlite_schema WHERE name = ?`
	for _, q := range []string{exists, columns, schema} {
		rowsText(t, db, q, "widgets")
	}
	h := hits(cache)
	if got := rowsText(t, db, exists, "widgets"); got != "[0]\n" {
		t.Fatalf("widgets exists before CREATE: %q", got)
	}
	mustExec(t, raw, `CREATE TABLE widgets (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)`) // not through yoked
	if got := rowsText(t, db, exists, "widgets"); got != "[1]\n" {
		t.Fatalf("sqlite_master after CREATE outside yoked: %q", got)
	}
	if got := rowsText(t, db, schema, "widgets"); got != "[1]\n" {
		t.Fatalf("sqlite_schema after CREATE outside yoked: %q", got)
	}
	if got := rowsText(t, db, columns, "widgets"); got != "[2]\n" {
		t.Fatalf("pragma_table_info after CREATE: %q", got)
	}
	mustExec(t, db, `ALTER TABLE widgets ADD COLUMN size INTEGER`)
	if got := rowsText(t, db, columns, "widgets"); got != "[3]\n" {
		t.Fatalf("pragma_table_info after ALTER: %q", got)
	}
	seq := `SELECT seq FROM sqlite_sequence WHERE name = 'widgets'`
	mustExec(t, db, `INSERT INTO widgets (name) VALUES ('a')`)
	if got := rowsText(t, db, seq); got != "[1]\n" {
		t.Fatalf("sqlite_sequence after the first insert: %q", got)
	}
	mustExec(t, db, `INSERT INTO widgets (name) VALUES ('b')`)
	if got := rowsText(t, db, seq); got != "[2]\n" {
		t.Fatalf("sqlite_sequence after the second insert: %q", got)
	}
	mustExec(t, db, `ANALYZE`)
	stat := `SELECT coalesce(idx, '-') FROM sqlite_stat1 WHERE tbl = 'users' ORDER BY 1`
	before := rowsText(t, db, stat)
	mustExec(t, db, `DROP INDEX users_name`)
	mustExec(t, db, `ANALYZE`)
	if got, want := rowsText(t, db, stat), rowsText(t, raw, stat); got != want || got == before {
		t.Fatalf("sqlite_stat1 after DROP INDEX and ANALYZE: %q, base driver %q, before %q", got, want, before)
	}
	if hits(cache) != h {
		t.Fatalf("a catalog read was served from the cache: %+v", cache.Stats())
	}
}

// TestSQLiteNonDeterministicNeverHit: every SQLite built-in whose answer is
// not a function of the tables read is run again, never served.
func TestSQLiteNonDeterministicNeverHit(t *testing.T) {
	db, _, cache := sqliteFormsDB(t)
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`SELECT random()`, nil}, {`SELECT hex(randomblob(8))`, nil}, {`SELECT changes()`, nil},
		{`SELECT total_changes()`, nil}, {`SELECT last_insert_rowid()`, nil},
		{`SELECT date('now')`, nil}, {`SELECT datetime('NOW', '-1 day')`, nil}, {`SELECT strftime('%s')`, nil},
		{`SELECT unixepoch()`, nil}, {`SELECT CURRENT_TIMESTAMP`, nil}, {`SELECT julianday(?)`, []any{"now"}},
		{`SELECT datetime(created, 'localtime') FROM users`, nil}, {`SELECT sqlite_version()`, nil},
		{`SELECT name FROM users WHERE created < datetime('now', '+1 day')`, nil},
	} {
		rowsText(t, db, q.query, q.args...)
		h := hits(cache)
		rowsText(t, db, q.query, q.args...)
		if hits(cache) != h {
			t.Errorf("%s was served from the cache", q.query)
		}
	}
	// A parameter read as a number ('unixepoch', 'julianday') is cached:
	// 'now' there gives NULL in the SQLite linked, not the clock.
	q := `SELECT datetime(?, 'unixepoch'), date(?, 'julianday')`
	if got := rowsText(t, db, q, "now", "now"); got != "[<nil> <nil>]\n" {
		t.Fatalf("'now' read as a number gave %q, want NULLs", got)
	}
	h := hits(cache)
	if got := rowsText(t, db, q, "now", "now"); got != "[<nil> <nil>]\n" || hits(cache) != h+1 {
		t.Fatalf("second read %q was not a hit: %+v", got, cache.Stats())
	}
}

// TestSQLiteTempTriggerWritesSeen: a temporary trigger lives on one
// connection, where no catalog read elsewhere sees it; after it is created,
// every write on that connection invalidates everything, also once the
// connection is back in the pool (issue 10, item 8). Two yoked handles
// share one store: the one with the trigger writes, the other reads.
func TestSQLiteTempTriggerWritesSeen(t *testing.T) {
	for _, create := range []string{
		`CREATE TEMP TRIGGER log_names AFTER UPDATE ON main.users BEGIN INSERT INTO audit (note) VALUES (new.name); END`,
		`CREATE TRIGGER temp.log_names AFTER UPDATE ON main.users BEGIN INSERT INTO audit (note) VALUES (new.name); END`,
	} {
		t.Run(create[:strings.Index(create, " AFTER")], func(t *testing.T) { testTempTrigger(t, create) })
	}
}

func testTempTrigger(t *testing.T, create string) {
	dsn := "file:" + filepath.Join(t.TempDir(), "trigger.db") + "?_busy_timeout=5000&_journal_mode=WAL"
	store := mustMemory(t)
	open := func(opts ...yoked.Option) *sql.DB {
		db, err := yoked.Open("sqlite3", dsn, append([]yoked.Option{yoked.WithStore(store)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	writer, reader := open(), open()
	writer.SetMaxOpenConns(1)
	raw, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	mustExec(t, writer, `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`)
	mustExec(t, writer, `CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT)`)
	mustExec(t, writer, `INSERT INTO users VALUES (1, 'ada')`)
	cache, err := yoked.CacheOf(reader)
	if err != nil {
		t.Fatal(err)
	}
	q := `SELECT count(*) FROM audit`
	// cached fills the reader's cache with the current answer.
	cached := func(step string) {
		t.Helper()
		rowsText(t, reader, q)
		h := hits(cache)
		rowsText(t, reader, q)
		if hits(cache) != h+1 {
			t.Fatalf("%s: the reader's read was not cached: %+v", step, cache.Stats())
		}
	}
	ctx := context.Background()
	c, err := writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, create)
	for i, w := range []string{"[1]\n", "[2]\n"} {
		cached("before an UPDATE on the held connection")
		mustExec(t, c, `UPDATE users SET name = ? WHERE id = 1`, fmt.Sprint("ada", i))
		if got, want := rowsText(t, reader, q), rowsText(t, raw, q); got != want || want != w {
			t.Fatalf("audit after an UPDATE that fired a temporary trigger: %q, base driver %q, want %q", got, want, w)
		}
	}
	// Back in the pool (of one connection), the trigger is still there: a
	// session reset does not drop it.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	cached("before an UPDATE on the pooled connection")
	mustExec(t, writer, `UPDATE users SET name = 'ada9' WHERE id = 1`)
	if got, want := rowsText(t, reader, q), rowsText(t, raw, q); got != want || want != "[3]\n" {
		t.Fatalf("audit after an UPDATE on the pooled connection: %q, base driver %q", got, want)
	}
}
