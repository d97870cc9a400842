package driver_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// hardeningCase is one hostile statement. Unless mayCache, neither it nor a
// repeat of it may be stored in or served from the cache.
type hardeningCase struct {
	name     string
	query    string
	mayCache bool
}

const probe = `SELECT v FROM t WHERE id = 1`

func hardeningCases() []hardeningCase {
	pad := strings.Repeat("x", 1<<20)
	return []hardeningCase{
		{"empty", "", false},
		{"blanks", " \n\t ", false},
		{"semicolon only", ";", false},
		{"line comment only", "-- nothing here", false},
		{"block comment only", "/* nothing ; here */", false},
		{"invalid UTF-8 in a literal", "SELECT v FROM t WHERE id = 1 AND 'a\xff\xfe' <> 'b'", true},
		{"invalid UTF-8 as a word", "SELECT v FROM t WHERE id = 1 \xff\xfe", false},
		{"NUL then a write", "SELECT v FROM t WHERE id = 1\x00; UPDATE t SET v = v + 1 WHERE id = 1", false},
		{"NUL inside a literal", "SELECT v FROM t WHERE id = 1 AND 'a\x00b' <> 'c'", true},
		{"1 MB of garbage", "SELEC " + pad, false},
		{"1 MB comment in a read", "SELECT v FROM t WHERE id = 1 /* " + pad + " */", true},
		{"read then write", "SELECT v FROM t WHERE id = 1; UPDATE t SET v = v + 1 WHERE id = 1", false},
		{"write then read", "UPDATE t SET v = v + 1 WHERE id = 1; SELECT v FROM t WHERE id = 1", false},
		{"read then delete", "SELECT 1; DELETE FROM t WHERE id = 1", false},
		{"write after a comment hiding a semicolon", "/* ; */ SELECT v FROM t WHERE id = 1; -- ;\nUPDATE t SET v = 99 WHERE id = 1", false},
		{"two reads", "SELECT v FROM t WHERE id = 1; SELECT v FROM t WHERE id = 2", false},
		{"trailing garbage after a read", "SELECT v FROM t WHERE id = 1; garbage", false},
	}
}

// hardeningEnv opens, for one case, two identical databases: one through
// the base driver, one through yoked.
type hardeningEnv struct {
	name string
	// open returns two DSNs of fresh, identical, empty databases.
	open func(t *testing.T) (raw, cached string)
}

func hardeningEnvs() []hardeningEnv {
	return []hardeningEnv{
		{"sqlite3", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			return "file:" + filepath.Join(dir, "raw.db"), "file:" + filepath.Join(dir, "cached.db")
		}},
		{"pgx", func(t *testing.T) (string, string) {
			return testenv.PostgresSchema(t), testenv.PostgresSchema(t)
		}},
		{"mysql", func(t *testing.T) (string, string) {
			return testenv.MySQLDatabase(t) + "&multiStatements=true", testenv.MySQLDatabase(t) + "&multiStatements=true"
		}},
	}
}

// answer is everything the application can observe of one call.
type answer struct {
	err  string
	rows string
}

func queryAnswer(ctx context.Context, db *sql.DB, q string) answer {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return answer{err: err.Error()}
	}
	defer rows.Close()
	var b strings.Builder
	cols, err := rows.Columns()
	if err != nil {
		return answer{err: "columns: " + err.Error()}
	}
	fmt.Fprintf(&b, "%q", cols)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return answer{err: "scan: " + err.Error()}
		}
		fmt.Fprintf(&b, " %v", vals)
	}
	if err := rows.Err(); err != nil {
		return answer{err: b.String() + " then " + err.Error()}
	}
	return answer{rows: b.String()}
}

func execAnswer(ctx context.Context, db *sql.DB, q string) answer {
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		return answer{err: err.Error()}
	}
	n, err := res.RowsAffected()
	if err != nil {
		return answer{rows: "rows affected: " + err.Error()}
	}
	return answer{rows: fmt.Sprintf("%d rows affected", n)}
}

// TestHardening sends hostile statements through the base driver and
// through yoked, by Query and by Exec: the answer (error text included) must
// be the base driver's, nothing may be cached that must not be, nothing may
// panic, and afterwards a cached read must agree with the database — a
// statement that wrote invalidated.
func TestHardening(t *testing.T) {
	for _, env := range hardeningEnvs() {
		t.Run(env.name, func(t *testing.T) {
			for _, method := range []string{"Query", "Exec"} {
				for _, tc := range hardeningCases() {
					t.Run(method+"/"+tc.name, func(t *testing.T) {
						hardeningRun(t, env, method, tc)
					})
				}
			}
		})
	}
}

func hardeningRun(t *testing.T, env hardeningEnv, method string, tc hardeningCase) {
	ctx := context.Background()
	rawDSN, cachedDSN := env.open(t)
	raw, err := sql.Open(env.name, rawDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	store, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	db, err := yoked.Open(env.name, cachedDSN, yoked.WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// One connection each: session state, if any, is the same on both sides.
	raw.SetMaxOpenConns(1)
	db.SetMaxOpenConns(1)
	for _, d := range []*sql.DB{raw, db} {
		for _, q := range []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO t VALUES (1, 10), (2, 20)`} {
			if _, err := d.ExecContext(yoked.SkipCache(ctx), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	// Fill the cache with the probe, so that a write it misses shows.
	if a := queryAnswer(ctx, db, probe); a.err != "" {
		t.Fatal(a.err)
	}
	cache, err := yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	before := cache.Stats()
	do := queryAnswer
	if method == "Exec" {
		do = execAnswer
	}
	for round := range 2 {
		want, got := do(ctx, raw, tc.query), do(ctx, db, tc.query)
		if want != got {
			t.Fatalf("round %d: yoked answered %.300q, the base driver %.300q", round, got, want)
		}
	}
	after := cache.Stats()
	if !tc.mayCache && (after.Stores != before.Stores || after.Hits != before.Hits) {
		t.Errorf("cached: %d stores and %d hits for a statement that must not be cached", after.Stores-before.Stores, after.Hits-before.Hits)
	}
	if want, got := queryAnswer(ctx, raw, probe), queryAnswer(ctx, db, probe); want != got {
		t.Errorf("after the statement, the probe read through yoked %q, the database %q: a write was not invalidated", got, want)
	}
}

// FuzzHardening sends arbitrary text through go-sqlite3 raw and through
// yoked, on two identical fresh databases: the answers must be the same, and
// afterwards a cached read must agree with the database.
func FuzzHardening(f *testing.F) {
	for _, tc := range hardeningCases() {
		if len(tc.query) < 4096 {
			f.Add(tc.query)
		}
	}
	f.Add("INSERT INTO t VALUES (3, 30); SELECT * FROM t")
	f.Add("WITH x AS (UPDATE t SET v = 0 RETURNING v) SELECT * FROM x")
	env := hardeningEnvs()[0]
	n := 0
	f.Fuzz(func(t *testing.T, q string) {
		n++
		env := env
		env.open = func(*testing.T) (string, string) {
			return fmt.Sprintf("file:fuzzraw%d?mode=memory&cache=shared", n), fmt.Sprintf("file:fuzzcached%d?mode=memory&cache=shared", n)
		}
		hardeningRun(t, env, "Query", hardeningCase{name: "fuzz", query: q, mayCache: true})
	})
}
