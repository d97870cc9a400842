package benchsuite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// Sub-benchmark names are <database>/<variant>; internal/benchtable reads them.
var (
	databases = []string{"sqlite", "postgres"}
	variants  = []string{"raw", "memory", "redis", "redis+l1"}
)

const (
	pkQuery   = `SELECT id, name FROM users WHERE id = $1`
	joinQuery = `SELECT u.id, count(o.id), sum(o.amount) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1 GROUP BY u.id`
	write     = `UPDATE users SET name = $1 WHERE id = 2`
)

// sqlFor rewrites $n placeholders for SQLite.
func sqlFor(database, q string) string {
	if database != "sqlite" {
		return q
	}
	for i := 9; i >= 1; i-- {
		q = strings.ReplaceAll(q, fmt.Sprintf("$%d", i), "?")
	}
	return q
}

// open returns a DB on a fresh database with users (100 rows), orders (10
// per user) and audit, raw or through yoked over the variant's store (with
// opts). "redis" is the Redis store without L1, "redis+l1" with it; "opts"
// is yoked with opts alone.
func open(b *testing.B, database, variant string, opts ...yoked.Option) *sql.DB {
	b.Helper()
	var base, dsn string
	switch database {
	case "sqlite":
		base, dsn = "sqlite3", "file:"+filepath.Join(b.TempDir(), "bench.db")+"?_journal_mode=WAL&_busy_timeout=5000"
	case "postgres":
		base, dsn = "pgx", testenv.PostgresSchema(b)
	}
	raw, err := sql.Open(base, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	for _, q := range []string{
		`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL)`,
		`CREATE TABLE audit (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`,
		`CREATE INDEX orders_user ON orders (user_id)`,
		`INSERT INTO audit VALUES (1, 0)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	for u := 1; u <= 100; u++ {
		if _, err := raw.Exec(sqlFor(database, `INSERT INTO users VALUES ($1, $2)`), u, fmt.Sprintf("user%d", u)); err != nil {
			b.Fatal(err)
		}
		for o := range 10 {
			if _, err := raw.Exec(sqlFor(database, `INSERT INTO orders VALUES ($1, $2, $3)`), u*10+o, u, o+1); err != nil {
				b.Fatal(err)
			}
		}
	}
	var db *sql.DB
	switch variant {
	case "raw":
		return raw
	case "opts":
		if db, err = yoked.Open(base, dsn, opts...); err != nil {
			b.Fatal(err)
		}
	case "memory":
		store, err := memory.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { store.Close() })
		db, err = yoked.Open(base, dsn, append(opts, yoked.WithStore(store))...)
		if err != nil {
			b.Fatal(err)
		}
	case "redis", "redis+l1":
		url := "redis://" + testenv.Redis(b) + "/0?namespace=" + testenv.Name("bench_")
		if variant == "redis+l1" {
			url += "&l1=true"
		} else {
			url += "&l1=false"
		}
		db, err = yoked.Open(base, dsn, append(opts, yoked.WithStoreURL(url))...)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { db.Close() })
	// The schema catalog loads in the background and reads bypass the cache
	// until it is ready (the first load on PostgreSQL warms the parser up,
	// about a second): measure the cache, not the load.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := yoked.WaitCatalog(ctx, db); err != nil {
		b.Fatal(err)
	}
	return db
}

// each runs f for every database and variant, plus the floor when floor is set.
func each(b *testing.B, floor bool, f func(b *testing.B, database string, db *sql.DB)) {
	if floor {
		b.Run("floor", func(b *testing.B) {
			db, err := sql.Open("benchsuite-floor", "")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			f(b, "floor", db)
		})
	}
	for _, database := range databases {
		for _, variant := range variants {
			b.Run(database+"/"+variant, func(b *testing.B) {
				f(b, database, open(b, database, variant))
			})
		}
	}
}

// scanRow runs q and, through yoked, reports the share of cache hits
// ("hits/op"), so that a hit benchmark that does not hit shows.
func scanRow(b *testing.B, ctx context.Context, db *sql.DB, q string, dest ...any) {
	cache, _ := yoked.CacheOf(db)
	var before uint64
	if cache != nil {
		before = cache.Stats().Hits
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRowContext(ctx, q, 1).Scan(dest...); err != nil {
			b.Fatal(err)
		}
	}
	if cache != nil {
		b.ReportMetric(float64(cache.Stats().Hits-before)/float64(b.N), "hits/op")
	}
}

// BenchmarkPKHit is a 1-row primary-key SELECT repeated: a cache hit on
// every yoked variant after the first iteration.
func BenchmarkPKHit(b *testing.B) {
	each(b, true, func(b *testing.B, database string, db *sql.DB) {
		var id int64
		var name string
		scanRow(b, context.Background(), db, sqlFor(database, pkQuery), &id, &name)
	})
}

// BenchmarkJoinHit is a join with an aggregate over 10 rows, repeated.
func BenchmarkJoinHit(b *testing.B) {
	each(b, false, func(b *testing.B, database string, db *sql.DB) {
		var id, n, sum int64
		scanRow(b, context.Background(), db, sqlFor(database, joinQuery), &id, &n, &sum)
	})
}

// BenchmarkMiss is the PK SELECT when the cache must be refilled each time
// (yoked.Refresh: take a stamp, read the database, store the result): what
// a miss adds to the raw read.
func BenchmarkMiss(b *testing.B) {
	each(b, false, func(b *testing.B, database string, db *sql.DB) {
		var id int64
		var name string
		scanRow(b, yoked.Refresh(context.Background()), db, sqlFor(database, pkQuery), &id, &name)
	})
}

// BenchmarkWrite is an autocommit UPDATE of one row: the database's write
// plus, through yoked, parsing and invalidating table:users.
func BenchmarkWrite(b *testing.B) {
	each(b, true, func(b *testing.B, database string, db *sql.DB) {
		q := sqlFor(database, write)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := db.Exec(q, fmt.Sprint("n", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCommit3 is a transaction writing three tables, committed: yoked
// invalidates three tags at commit.
func BenchmarkCommit3(b *testing.B) {
	each(b, true, func(b *testing.B, database string, db *sql.DB) {
		qs := []string{
			sqlFor(database, write),
			sqlFor(database, `UPDATE orders SET amount = amount + 1 WHERE id = $1`),
			sqlFor(database, `UPDATE audit SET n = n + 1 WHERE id = $1`),
		}
		args := []any{"x", 20, 1}
		b.ReportAllocs()
		for b.Loop() {
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for i, q := range qs {
				if _, err := tx.Exec(q, args[i]); err != nil {
					tx.Rollback()
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
