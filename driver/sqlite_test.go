package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// opener opens a fresh database through yoked and the same database without.
type opener func(t testing.TB, opts ...yoked.Option) (db, raw *sql.DB, cache *yoked.Cache)

// openSQLite opens a fresh SQLite file through yoked with its own memory
// store, and the same file without yoked for comparison.
func openSQLite(t testing.TB, opts ...yoked.Option) (db, raw *sql.DB, cache *yoked.Cache) {
	t.Helper()
	return openSQLiteStore(t, append([]yoked.Option{yoked.WithStore(mustMemory(t))}, opts...)...)
}

// openSQLiteStore is openSQLite with the store chosen by opts.
func openSQLiteStore(t testing.TB, opts ...yoked.Option) (db, raw *sql.DB, cache *yoked.Cache) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	dsn := "file:" + path + "?_busy_timeout=5000&_journal_mode=WAL"
	db, err := yoked.Open("sqlite3", dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err = sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	mustExec(t, db, `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, active BOOLEAN, avatar BLOB, created DATETIME)`)
	mustExec(t, db, `CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), total INTEGER)`)
	mustExec(t, db, `CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT)`)
	mustExec(t, db, `INSERT INTO users (id, name, score, active, avatar, created) VALUES (1, 'ada', 1.5, 1, x'0102', '2024-01-02 03:04:05'), (2, 'bob', 2.5, 0, NULL, NULL)`)
	mustExec(t, db, `INSERT INTO orders (id, user_id, total) VALUES (1, 1, 10), (2, 2, 20)`)
	cache, err = yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	return db, raw, cache
}

func mustMemory(t testing.TB) *memory.Store {
	t.Helper()
	s, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustExec(t testing.TB, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryString(t testing.TB, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, ctx context.Context, q string, args ...any) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(ctx, q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func hits(c *yoked.Cache) uint64 { return c.Stats().Hits }

func TestCachedReadAndAutocommitInvalidation(t *testing.T) {
	testCachedReadAndAutocommitInvalidation(t, openSQLite)
}

func testCachedReadAndAutocommitInvalidation(t *testing.T, open opener) {
	db, _, cache := open(t)
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = ?`
	if got := queryString(t, db, ctx, q, 1); got != "ada" {
		t.Fatalf("first read = %q", got)
	}
	h := hits(cache)
	if got := queryString(t, db, ctx, q, 1); got != "ada" {
		t.Fatalf("second read = %q", got)
	}
	if hits(cache) != h+1 {
		t.Fatalf("second QueryRow was not a hit: %+v", cache.Stats())
	}
	// int64(1) and "1" are different keys, and 2 is another row.
	if got := queryString(t, db, ctx, q, 2); got != "bob" {
		t.Fatalf("id 2 = %q", got)
	}
	mustExec(t, db, `UPDATE users SET name = ? WHERE id = ?`, "ada2", 1)
	if got := queryString(t, db, ctx, q, 1); got != "ada2" {
		t.Fatalf("read after UPDATE returned %q, want ada2", got)
	}
	// The same through a prepared statement.
	st, err := db.Prepare(`UPDATE users SET name = ? WHERE id = ?`)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Exec("ada3", 1); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, ctx, q, 1); got != "ada3" {
		t.Fatalf("read after prepared UPDATE returned %q", got)
	}
}

func TestTransactionCommitAndRollback(t *testing.T) { testTransactionCommitAndRollback(t, openSQLite) }

func testTransactionCommitAndRollback(t *testing.T, open opener) {
	db, _, cache := open(t)
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = 1`
	queryString(t, db, ctx, q) // fill

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, `UPDATE users SET name = 'rolled' WHERE id = 1`)
	// Read-your-writes inside the transaction.
	h := hits(cache)
	if got := queryString(t, tx, ctx, q); got != "rolled" {
		t.Fatalf("read inside tx = %q, want its own write", got)
	}
	if hits(cache) != h {
		t.Fatal("a read inside a transaction was served from the cache")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, ctx, q); got != "ada" {
		t.Fatalf("read after rollback = %q, want ada", got)
	}

	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, `UPDATE users SET name = 'committed' WHERE id = 1`)
	// Outside the transaction, the old value is still right (and cached).
	if got := queryString(t, db, ctx, q); got != "ada" {
		t.Fatalf("read outside an open tx = %q", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, ctx, q); got != "committed" {
		t.Fatalf("read after commit = %q, want committed", got)
	}
}

func TestJoinInvalidatedByEitherTable(t *testing.T) {
	db, _, _ := openSQLite(t)
	ctx := context.Background()
	q := `SELECT u.name || ':' || o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE o.id = 1`
	if got := queryString(t, db, ctx, q); got != "ada:10" {
		t.Fatal(got)
	}
	mustExec(t, db, `UPDATE orders SET total = 11 WHERE id = 1`)
	if got := queryString(t, db, ctx, q); got != "ada:11" {
		t.Fatalf("after orders write: %q", got)
	}
	mustExec(t, db, `UPDATE users SET name = 'zed' WHERE id = 1`)
	if got := queryString(t, db, ctx, q); got != "zed:11" {
		t.Fatalf("after users write: %q", got)
	}
	// A subquery counts as a read of its table too.
	q2 := `SELECT name FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > 15)`
	if got := queryString(t, db, ctx, q2); got != "bob" {
		t.Fatal(got)
	}
	mustExec(t, db, `UPDATE orders SET total = 1 WHERE id = 2`)
	mustExec(t, db, `UPDATE orders SET total = 99 WHERE id = 1`)
	if got := queryString(t, db, ctx, q2); got != "zed" {
		t.Fatalf("subquery read after write: %q", got)
	}
}

func TestInsertSelectInvalidatesOnlyTarget(t *testing.T) {
	db, _, cache := openSQLite(t)
	ctx := context.Background()
	src := `SELECT count(*) FROM users`
	dst := `SELECT count(*) FROM audit`
	queryString(t, db, ctx, src)
	queryString(t, db, ctx, dst)
	mustExec(t, db, `INSERT INTO audit (note) SELECT name FROM users`)
	h := hits(cache)
	if got := queryString(t, db, ctx, src); got != "2" {
		t.Fatal(got)
	}
	if hits(cache) != h+1 {
		t.Fatal("reading the source table after INSERT … SELECT should still be a hit")
	}
	if got := queryString(t, db, ctx, dst); got != "2" {
		t.Fatalf("target table read after INSERT … SELECT = %s, want 2", got)
	}
}

func TestSessionStateTaintsConnection(t *testing.T) {
	db, _, cache := openSQLite(t)
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = 2`
	queryString(t, db, ctx, q)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Changes what LIKE matches (PRAGMA foreign_keys and the like do not
	// taint: TestSQLitePragmasKeepCaching).
	mustExec(t, conn, `PRAGMA case_sensitive_like = ON`)
	h := hits(cache)
	for range 3 {
		queryString(t, conn, ctx, q)
	}
	if hits(cache) != h {
		t.Fatal("a tainted connection read from the cache")
	}
	if cache.Stats().Skips["session_state"] < 3 {
		t.Fatalf("skips not counted: %+v", cache.Stats().Skips)
	}
}

func TestManualTransactionOnConn(t *testing.T) {
	db, _, _ := openSQLite(t)
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = 1`
	queryString(t, db, ctx, q)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `UPDATE users SET name = 'manual' WHERE id = 1`)
	// Another connection fills the cache with the committed (old) value.
	if got := queryString(t, db, ctx, q); got != "ada" {
		t.Fatalf("read during manual tx = %q", got)
	}
	mustExec(t, conn, `COMMIT`)
	if got := queryString(t, db, ctx, q); got != "manual" {
		t.Fatalf("read after manual COMMIT = %q, want manual", got)
	}
}

func TestRawBytesCannotCorruptCache(t *testing.T) {
	db, _, _ := openSQLite(t)
	q := `SELECT avatar FROM users WHERE id = 1`
	for i := range 3 {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		if !rows.Next() {
			t.Fatal("no row")
		}
		var rb sql.RawBytes
		if err := rows.Scan(&rb); err != nil {
			t.Fatal(err)
		}
		if string(rb) != "\x01\x02" {
			t.Fatalf("round %d: avatar = %x", i, []byte(rb))
		}
		rb[0] = 0xff // the application scribbles on the driver's buffer
		rows.Close()
	}
}

type colInfo struct {
	Name, DB     string
	Scan         reflect.Type
	Len          int64
	LenOK        bool
	Null, NullOK bool
	P, S         int64
	PSOK         bool
}

func columnInfo(t *testing.T, rows *sql.Rows) []colInfo {
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var out []colInfo
	for _, ct := range cts {
		ci := colInfo{Name: ct.Name(), DB: ct.DatabaseTypeName(), Scan: ct.ScanType()}
		ci.Len, ci.LenOK = ct.Length()
		ci.Null, ci.NullOK = ct.Nullable()
		ci.P, ci.S, ci.PSOK = ct.DecimalSize()
		out = append(out, ci)
	}
	return out
}

func scanAll(t *testing.T, rows *sql.Rows) [][]any {
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHitIsIndistinguishableFromMiss(t *testing.T) {
	testHitIsIndistinguishableFromMiss(t, openSQLite)
}

func testHitIsIndistinguishableFromMiss(t *testing.T, open opener) {
	db, raw, cache := open(t)
	q := `SELECT id, name, score, active, avatar, created, NULL AS nada FROM users ORDER BY id`
	read := func(d *sql.DB) ([]string, []colInfo, [][]any) {
		rows, err := d.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		return cols, columnInfo(t, rows), scanAll(t, rows)
	}
	rc, rt, rv := read(raw)
	mc, mt, mv := read(db) // miss
	h := hits(cache)
	hc, ht, hv := read(db) // hit
	if hits(cache) != h+1 {
		t.Fatalf("second read was not a hit: %+v", cache.Stats())
	}
	for name, got := range map[string][3]any{"miss": {mc, mt, mv}, "hit": {hc, ht, hv}} {
		if !reflect.DeepEqual(got[0], rc) || !reflect.DeepEqual(got[1], rt) || !reflect.DeepEqual(got[2], rv) {
			t.Errorf("%s differs from the base driver:\n got %v\n     %v\n     %v\nwant %v\n     %v\n     %v", name, got[0], got[1], got[2], rc, rt, rv)
		}
	}
	// Value types, including time.Time with its location.
	if _, ok := hv[0][5].(time.Time); !ok {
		t.Fatalf("created is %T on a hit", hv[0][5])
	}
	if hv[0][5].(time.Time).Location() != rv[0][5].(time.Time).Location() {
		t.Fatal("time location differs on a hit")
	}
}

func TestBaseErrorsKeepTheirType(t *testing.T) {
	db, _, _ := openSQLite(t)
	_, err := db.Exec(`INSERT INTO users (id, name) VALUES (1, 'dup')`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrConstraint {
		t.Fatalf("duplicate key error = %#v, want a sqlite3.Error with ErrConstraint", err)
	}
	_, err = db.Query(`SELECT nope FROM users`)
	if !errors.As(err, &se) {
		t.Fatalf("bad column error = %#v, want a sqlite3.Error", err)
	}
	// Errors are not cached: the same failing query fails again, at the base.
	for range 2 {
		var n int
		err = db.QueryRow(`SELECT count(*) FROM missing_table`).Scan(&n)
		if !errors.As(err, &se) {
			t.Fatalf("error = %#v", err)
		}
	}
}

func TestEarlyCloseStillCachesCompleteResult(t *testing.T) {
	db, _, cache := openSQLite(t)
	q := `SELECT name FROM users ORDER BY id`
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close() // after one of two rows
	h := hits(cache)
	rows, err = db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, rows)
	rows.Close()
	if hits(cache) != h+1 {
		t.Fatal("result closed early was not cached")
	}
	if len(got) != 2 || fmt.Sprintf("%s", got[1][0]) != "bob" {
		t.Fatalf("cached rows = %v", got)
	}
}

func TestOversizedResultsAreNotCached(t *testing.T) {
	db, _, cache := openSQLite(t, yoked.WithMaxRows(1))
	q := `SELECT name FROM users ORDER BY id`
	for range 3 {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(scanAll(t, rows)); n != 2 {
			t.Fatalf("caller got %d rows, want 2: results must never be cut short", n)
		}
		rows.Close()
	}
	if s := cache.Stats(); s.Hits != 0 || s.Skips["too_large"] != 3 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestContextControls(t *testing.T) {
	db, raw, cache := openSQLite(t)
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = 1`
	queryString(t, db, ctx, q)
	// A write the driver cannot see.
	mustExec(t, raw, `UPDATE users SET name = 'outside' WHERE id = 1`)
	if got := queryString(t, db, ctx, q); got != "ada" {
		t.Fatalf("expected the cached value, got %q", got)
	}
	if got := queryString(t, db, yoked.SkipCache(ctx), q); got != "outside" {
		t.Fatalf("SkipCache read %q", got)
	}
	if got := queryString(t, db, yoked.Refresh(ctx), q); got != "outside" {
		t.Fatalf("Refresh read %q", got)
	}
	h := hits(cache)
	if got := queryString(t, db, ctx, q); got != "outside" || hits(cache) != h+1 {
		t.Fatalf("after Refresh: %q, hit=%v", got, hits(cache) == h+1)
	}

	// Extra tags, invalidated by hand.
	tq := `SELECT name FROM users WHERE id = 2`
	tctx := yoked.WithTags(ctx, "user:2")
	queryString(t, db, tctx, tq)
	mustExec(t, raw, `UPDATE users SET name = 'bob2' WHERE id = 2`)
	cache.InvalidateTags(ctx, "user:2")
	if got := queryString(t, db, tctx, tq); got != "bob2" {
		t.Fatalf("after InvalidateTags: %q", got)
	}
	mustExec(t, raw, `UPDATE users SET name = 'bob3' WHERE id = 2`)
	cache.InvalidateTables(ctx, "Users")
	if got := queryString(t, db, ctx, tq); got != "bob3" {
		t.Fatalf("after InvalidateTables: %q", got)
	}

	// A per-query TTL.
	ttlq := `SELECT score FROM users WHERE id = 2`
	tctx = yoked.WithQueryTTL(ctx, 50*time.Millisecond)
	queryString(t, db, tctx, ttlq)
	mustExec(t, raw, `UPDATE users SET score = 9 WHERE id = 2`)
	deadline := time.Now().Add(5 * time.Second)
	for queryString(t, db, tctx, ttlq) != "9" {
		if time.Now().After(deadline) {
			t.Fatal("entry with a 50ms TTL still served after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNonDeterministicReadsAreNotCached(t *testing.T) {
	db, _, cache := openSQLite(t)
	for _, q := range []string{`SELECT random() FROM users`, `SELECT datetime('now')`, `SELECT changes()`} {
		for range 2 {
			rows, err := db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			scanAll(t, rows)
			rows.Close()
		}
	}
	if s := cache.Stats(); s.Hits != 0 {
		t.Fatalf("non-deterministic reads were served from the cache: %+v", s)
	}
}

func TestConfigErrorsAtOpen(t *testing.T) {
	t.Setenv("YOKED_TTL", "soon")
	_, err := sql.Open("yoked+sqlite3", "file::memory:")
	if !errors.Is(err, yoked.ErrConfig) {
		t.Fatalf("bad YOKED_TTL: err = %v", err)
	}
	t.Setenv("YOKED_TTL", "")
	t.Setenv("YOKED_STORE", "carrier-pigeon://x")
	if _, err := sql.Open("yoked+sqlite3", "file::memory:"); !errors.Is(err, yoked.ErrConfig) {
		t.Fatalf("bad YOKED_STORE: err = %v", err)
	}
	t.Setenv("YOKED_STORE", "")
	if _, err := yoked.Open("no-such-driver", "x"); err == nil {
		t.Fatal("unknown base driver: no error")
	}
}

// TestConcurrentReadersNeverSeeOlderThanReturnedWrite: writers bump a counter
// and publish each value once its Exec or Commit has returned; a reader that
// starts after a value was published must see it or a newer one.
func TestConcurrentReadersNeverSeeOlderThanReturnedWrite(t *testing.T) {
	testConcurrentReadersNeverSeeOlderThanReturnedWrite(t, openSQLite)
}

func testConcurrentReadersNeverSeeOlderThanReturnedWrite(t *testing.T, open opener) {
	db, _, cache := open(t)
	mustExec(t, db, `CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`)
	mustExec(t, db, `INSERT INTO counter VALUES (1, 0)`)
	db.SetMaxOpenConns(8)
	var published atomic.Int64
	var stale atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex // SQLite has one writer at a time; serialise to keep values monotone
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 300; i++ {
				mu.Lock()
				var err error
				var n int64
				if (i+w)%2 == 0 {
					if _, err = db.Exec(`UPDATE counter SET n = n + 1 WHERE id = 1`); err == nil {
						err = db.QueryRowContext(yoked.SkipCache(context.Background()), `SELECT n FROM counter WHERE id = 1`).Scan(&n)
					}
				} else {
					tx, terr := db.Begin()
					if terr != nil {
						mu.Unlock()
						t.Error(terr)
						return
					}
					if _, err = tx.Exec(`UPDATE counter SET n = n + 1 WHERE id = 1`); err == nil {
						err = tx.QueryRow(`SELECT n FROM counter WHERE id = 1`).Scan(&n)
					}
					if err == nil {
						err = tx.Commit()
					} else {
						tx.Rollback()
					}
				}
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				published.Store(n)
			}
		}()
	}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				floor := published.Load()
				var n int64
				if err := db.QueryRow(`SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
					t.Error(err)
					return
				}
				if n < floor {
					stale.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if stale.Load() != 0 {
		t.Fatalf("%d stale reads", stale.Load())
	}
	if s := cache.Stats(); s.Hits == 0 {
		t.Fatalf("no hits at all: the test exercised nothing: %+v", s)
	} else {
		t.Logf("last value %d: %d hits, %d misses", published.Load(), s.Hits, s.Misses)
	}
}

func TestPerTableStats(t *testing.T) {
	db, _, cache := openSQLite(t)
	ctx := context.Background()
	queryString(t, db, ctx, `SELECT name FROM users WHERE id = 1`)
	queryString(t, db, ctx, `SELECT name FROM users WHERE id = 1`)
	mustExec(t, db, `UPDATE orders SET total = 3 WHERE id = 1`)
	st := cache.Stats().Tables
	if u := st["table:users"]; u.Hits != 1 || u.Misses != 1 {
		t.Fatalf("table:users = %+v", u)
	}
	if o := st["table:orders"]; o.Invalidations == 0 {
		t.Fatalf("table:orders = %+v", o)
	}
}

// A result cached without an extra tag must not answer a read that carries
// it: invalidating the tag would otherwise miss it.
func TestExtraTagsAreCachedApart(t *testing.T) {
	db, raw, cache := openSQLite(t)
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = 2`
	queryString(t, db, ctx, q) // cached without tags
	tctx := yoked.WithTags(ctx, "user:2")
	queryString(t, db, tctx, q) // cached with user:2
	mustExec(t, raw, `UPDATE users SET name = 'outside' WHERE id = 2`)
	cache.InvalidateTags(ctx, "user:2")
	if got := queryString(t, db, tctx, q); got != "outside" {
		t.Fatalf("tagged read after InvalidateTags = %q", got)
	}
	sctx := yoked.WithScope(ctx, "tenant:a")
	if got := queryString(t, db, sctx, q); got != "outside" {
		t.Fatalf("scoped read = %q", got)
	}
}
